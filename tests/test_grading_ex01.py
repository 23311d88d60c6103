"""The ex01 grader: full marks for the solution, 0 for the exercise, and each typical bug loses
points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex01_rnn.ipynb"


def _by_function(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


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


MUTATIONS = {
    "sigmoid instead of tanh": (
        {"h_next = np.tanh(x @ Wx + h_prev @ Wh + b)": "h_next = 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))"},
        "rnn_step_forward",
        "sigmoid instead of tanh",
    ),
    "missing bias": (
        {"h_next = np.tanh(x @ Wx + h_prev @ Wh + b)": "h_next = np.tanh(x @ Wx + h_prev @ Wh)"},
        "rnn_step_forward",
        "bias b is missing",
    ),
    "transposed dWh": (
        {"dWh = h_prev.T @ da": "dWh = da.T @ h_prev"},
        "rnn_step_backward",
        "dWh is transposed",
    ),
    "forgotten 1 - h^2": (
        {"da = dh_next * (1 - h_next**2)": "da = dh_next"},
        "rnn_step_backward",
        "tanh derivative (1 - h_next**2) is missing",
    ),
    "BPTT drops the gradient from later steps": (
        {"rnn_step_backward(dh[:, t] + dh_prev, step_caches[t])": "rnn_step_backward(dh[:, t], step_caches[t])"},
        "rnn_backward",
        "gradient flowing back from later steps is dropped",
    ),
    "db summed over the wrong axis": (
        {"db = da.sum(axis=0)": "db = da.sum(axis=1)"},
        "rnn_step_backward",
        "db has shape (3,), expected (H,) = (5,)",
    ),
    "state stored before the step": (
        {"        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)\n        h[:, t] = h_prev":
         "        h[:, t] = h_prev\n        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)"},
        "rnn_forward",
        "holds the state before reading",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, function, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex01")
    assert result.score < result.max_score
    lost = _by_function(result)
    assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
    assert any(phrase in feedback for feedback in lost[function]), lost[function]


def test_mistake_in_forward_is_reported_when_grading_backward(tmp_path):
    """A learner whose forward raises learns why the backward could not be tested."""
    path = mutant(SOLUTION, {"cache = (x, h_prev, Wx, Wh, h_next)": "cache = (x, h_prev, Wx, Wh, h_next)\n    raise ValueError('oops')"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex01")
    backward = next(t for t in result.tests if t.name.startswith("rnn_step_backward"))
    assert "needs your `rnn_step_forward` for the cache" in backward.feedback
    assert "ValueError: oops" in backward.feedback and "cell 4" in backward.feedback
