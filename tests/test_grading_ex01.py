"""The ex01 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

SOLUTION = "ex01_rnn.ipynb"


def test_mistake_in_forward_is_reported_when_grading_backward(tmp_path):
    """A learner whose forward raises learns why the backward could not be tested."""
    path = mutant(SOLUTION, {"cache = (x, h_prev, Wx, Wh, h_next)": "cache = (x, h_prev, Wx, Wh, h_next)\n    raise ValueError('oops')"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex01")
    backward = next(t for t in result.tests if t.name.startswith("rnn_step_backward"))
    assert "needs your `rnn_step_forward` for the cache" in backward.feedback
    assert "ValueError: oops" in backward.feedback and "cell 4" in backward.feedback
