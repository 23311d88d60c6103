"""The ex01 grader: full marks for the solution, 0 for the exercise (its catalogue of typical
mistakes is checked by tests/test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex01_rnn.ipynb"


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex01")
    assert result.max_score == 12
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex01")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


def test_mistake_in_forward_is_reported_when_grading_backward(tmp_path):
    """A learner whose forward raises learns why the backward could not be tested."""
    path = mutant(SOLUTION, {"cache = (x, h_prev, Wx, Wh, h_next)": "cache = (x, h_prev, Wx, Wh, h_next)\n    raise ValueError('oops')"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex01")
    backward = next(t for t in result.tests if t.name.startswith("rnn_step_backward"))
    assert "needs your `rnn_step_forward` for the cache" in backward.feedback
    assert "ValueError: oops" in backward.feedback and "cell 4" in backward.feedback
