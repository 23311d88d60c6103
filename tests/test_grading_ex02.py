"""The ex02 grader: full marks for the solution, 0 for the exercise, and its other checks
(its catalogue of typical mistakes is checked by tests/test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex02_gated.ipynb"


def _by_function(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex02")
    assert result.max_score == 22
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex02")
    assert result.score == 0
    assert len(result.tests) == 10
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


def test_wrong_weight_shape_is_reported_as_a_shape(tmp_path):
    """A learner who stacks the gates on the wrong axis learns the expected shape."""
    path = mutant(SOLUTION, {"dWx = x.T @ da\n": "dWx = (x.T @ da).T\n"}, tmp_path)
    result = grade_notebook(path, "ex02")
    feedback = " ".join(_by_function(result)["lstm_step_backward"])
    assert "dWx has shape (24, 7), expected (D, 4H) = (7, 24)" in feedback
