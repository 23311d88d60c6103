"""The ex01 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import cell_number, mutant

SOLUTION = "ex01_rnn.ipynb"


def test_mistake_in_forward_is_reported_when_grading_backward(tmp_path):
    """A learner whose forward raises learns why the backward could not be tested."""
    path = mutant(SOLUTION, {"cache = (x, h_prev, Wx, Wh, h_next)": "cache = (x, h_prev, Wx, Wh, h_next)\n    raise ValueError('oops')"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex01")
    backward = next(t for t in result.tests if t.name.startswith("rnn_step_backward"))
    assert "needs your `rnn_step_forward` for the cache" in backward.feedback
    assert (
        "ValueError: oops" in backward.feedback
        and f"cell {cell_number(SOLUTION, 'def rnn_step_forward')}" in backward.feedback
    )


def test_a_squeeze_that_loses_the_batch_axis_fails_on_n_equals_1(tmp_path):
    old = "h_next = np.tanh(x @ Wx + h_prev @ Wh + b)"
    path = mutant(SOLUTION, {old: f"{old}.squeeze()"}, tmp_path)
    result = grade_notebook(path, "ex01")
    forward = next(t for t in result.tests if t.name.startswith("rnn_step_forward"))
    assert forward.points == 0 and "with N = 1" in forward.feedback, forward.feedback


def test_backpropagation_truncated_to_8_steps_fails_on_a_long_sequence(tmp_path):
    old = "rnn_step_backward(dh[:, t] + dh_prev, step_cache)"
    new = "rnn_step_backward(dh[:, t] + (dh_prev if T - t < 8 else 0), step_cache)"
    path = mutant(SOLUTION, {old: new}, tmp_path)
    result = grade_notebook(path, "ex01")
    through_time = next(t for t in result.tests if "reaches every earlier step" in t.name)
    assert through_time.points == 0 and "T = 24" in through_time.feedback, through_time.feedback
