"""The ex02 grader: full marks for the solution, 0 for the exercise, and each typical bug of a
gated cell loses points with feedback that names it."""

import pytest

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


IF_LINES = "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H : 2 * H])"
GO_LINES = "    g = np.tanh(a[:, 2 * H : 3 * H])\n    o = sigmoid(a[:, 3 * H :])"
N_LINE = "n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])"
MUTATIONS = {
    "forget and input gates swapped": (
        {IF_LINES: "    f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H : 2 * H])"},
        ["lstm_step_forward", "lstm_forward"],
        "the input and forget gates are swapped",
    ),
    "gates in the wrong order (i, f, o, g)": (
        {GO_LINES: "    g = np.tanh(a[:, 3 * H :])\n    o = sigmoid(a[:, 2 * H : 3 * H])"},
        ["lstm_step_forward", "lstm_forward"],
        "the gates are read in the order i, f, o, g",
    ),
    "no tanh on the cell before the output gate": (
        {"tanh_c = np.tanh(c_next)": "tanh_c = c_next"},
        ["lstm_step_forward", "lstm_forward"],
        "no tanh on the cell before the output gate",
    ),
    "GRU reset gate applied before Wh (Cho form)": (
        {N_LINE: "n = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])"},
        ["gru_step_forward", "gru_forward"],
        "the original GRU of Cho et al.",
    ),
    "dc_prev missing the forget gate": (
        {"dc_prev = dc * f": "dc_prev = dc"},
        ["lstm_step_backward", "lstm_backward"],
        "dc_prev misses the forget gate",
    ),
    "GRU z and 1 - z swapped": (
        {"h_next = (1 - z) * n + z * h_prev": "h_next = z * n + (1 - z) * h_prev"},
        ["gru_step_forward", "gru_forward"],
        "z and 1 - z are swapped",
    ),
    "GRU dh_prev without the direct path": (
        {"dh_prev = dh_next * z + dah @ Wh.T": "dh_prev = dah @ Wh.T"},
        ["gru_step_backward", "gru_backward"],
        "dh_prev misses the direct path",
    ),
    "GRU backward ignores the reset in dah": (
        {"[da_r, da_z, da_n * r]": "[da_r, da_z, da_n]"},
        ["gru_step_backward", "gru_backward"],
        "the n block of dah misses r",
    ),
    "LSTM BPTT drops dh from later steps": (
        {"dh[:, t] + dh_prev, dc_prev, step_caches[t]": "dh[:, t], dc_prev, step_caches[t]"},
        ["lstm_backward"],
        "the gradient flowing back from later steps is dropped",
    ),
    "LSTM BPTT does not pass dc back": (
        {"dh[:, t] + dh_prev, dc_prev, step_caches[t]": "dh[:, t] + dh_prev, 0 * dc_prev, step_caches[t]"},
        ["lstm_backward"],
        "dc_prev is not passed back",
    ),
    "GRU BPTT drops dh from later steps": (
        {"gru_step_backward(dh[:, t] + dh_prev, step_caches[t])": "gru_step_backward(dh[:, t], step_caches[t])"},
        ["gru_backward"],
        "the gradient flowing back from later steps is dropped",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, functions, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex02")
    assert result.score < result.max_score
    lost = _by_function(result)
    for function in functions:
        assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
        assert any(phrase in feedback for feedback in lost[function]), lost[function]


def test_wrong_weight_shape_is_reported_as_a_shape(tmp_path):
    """A learner who stacks the gates on the wrong axis learns the expected shape."""
    path = mutant(SOLUTION, {"dWx = x.T @ da\n": "dWx = (x.T @ da).T\n"}, tmp_path)
    result = grade_notebook(path, "ex02")
    feedback = " ".join(_by_function(result)["lstm_step_backward"])
    assert "dWx has shape (24, 7), expected (D, 4H) = (7, 24)" in feedback
