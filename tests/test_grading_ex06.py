"""The ex06 grader: full marks for the solution, 0 for the exercise, and its other checks
(its catalogue of typical mistakes is checked by tests/test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT

SOLUTION = "ex06_torch_seq2seq.ipynb"
TIMEOUT = 120  # the training test takes a few CPU seconds, far more wall time on a busy machine


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex06", timeout=TIMEOUT)
    assert result.max_score == 16
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex06", timeout=TIMEOUT)
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t
