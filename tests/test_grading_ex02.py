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


def _lost(result, function):
    return [t for t in result.tests if t.name.startswith(function) and not t.passed]


def test_a_squeeze_that_loses_the_batch_axis_fails_on_n_equals_1(tmp_path):
    path = mutant(SOLUTION, {"h_next = o * tanh_c": "h_next = (o * tanh_c).squeeze()"}, tmp_path)
    (forward,) = _lost(grade_notebook(path, "ex02"), "lstm_step_forward")
    assert forward.points == 0 and "with N = 1" in forward.feedback, forward.feedback
    assert forward.feedback.startswith("with N = 1: h_next has shape (6,)"), forward.feedback


def test_backpropagation_truncated_to_8_steps_fails_on_a_long_sequence(tmp_path):
    old = "gru_step_backward(dh[:, t] + dh_prev, step_caches[t])"
    new = "gru_step_backward(dh[:, t] + (dh_prev if T - t < 8 else 0), step_caches[t])"
    lost = _lost(grade_notebook(mutant(SOLUTION, {old: new}, tmp_path), "ex02"), "gru_backward")
    assert len(lost) == 2 and all("with N = 2, T = 21" in t.feedback for t in lost), lost
    assert all(t.feedback.startswith("with N = 2, T = 21") for t in lost), lost
