"""The ex02 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

SOLUTION = "ex02_gated.ipynb"


def _by_function(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


def test_wrong_weight_shape_is_reported_as_a_shape(tmp_path):
    """A learner who stacks the gates on the wrong axis learns the expected shape."""
    path = mutant(SOLUTION, {"dWx = x.T @ da\n": "dWx = (x.T @ da).T\n"}, tmp_path)
    result = grade_notebook(path, "ex02")
    feedback = " ".join(_by_function(result)["lstm_step_backward"])
    assert "dWx has shape (24, 7), expected (D, 4H) = (7, 24)" in feedback
