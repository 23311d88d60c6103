"""The ex05 grader: full marks for the solution, 0 for the exercise, and each typical attention
bug loses points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex05_attention.ipynb"
SOFTMAX = (
    "    row_max = np.where(mask, scores, -np.inf).max(axis=1, keepdims=True)\n"
    "    e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)\n"
    "    weights = e / e.sum(axis=1, keepdims=True)\n"
)
CHECK = (
    "    if not np.all(mask.any(axis=1)):\n"
    '        raise ValueError("masked_softmax: a row has no real key (its mask is all False)")\n'
)


def _lost(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex05")
    assert result.max_score == 16
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex05")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


MUTATIONS = {
    "softmax over the wrong axis": (
        {SOFTMAX: SOFTMAX.replace("axis=1", "axis=0")},
        ["masked_softmax", "dot_attention_forward", "additive_attention_forward"],
        "softmax runs over the wrong axis",
    ),
    "mask applied after the softmax": (
        {SOFTMAX: "    e = np.exp(scores - scores.max(axis=1, keepdims=True))\n"
                  "    weights = e / e.sum(axis=1, keepdims=True) * mask\n"},
        ["masked_softmax", "general_attention_forward"],
        "mask is applied after the softmax",
    ),
    "fully padded row gives NaN": (
        {CHECK: ""},
        ["masked_softmax"],
        "a fully padded row gives NaN",
    ),
    "-inf arithmetic": (
        {CHECK: "", "np.exp(np.where(mask, scores - row_max, 0))": "np.exp(np.where(mask, scores, -np.inf) - row_max)"},
        ["masked_softmax"],
        "a fully padded row gives NaN",
    ),
    "no max subtraction": (
        {"np.exp(np.where(mask, scores - row_max, 0))": "np.exp(np.where(mask, scores, 0))"},
        ["masked_softmax"],
        "NaN or inf for large scores",
    ),
    "tanh missing in the additive score": (
        {"hidden = np.tanh((q @ Wq)[:, None, :] + k @ Wk)": "hidden = (q @ Wq)[:, None, :] + k @ Wk"},
        ["additive_attention_forward"],
        "tanh is missing in the additive score",
    ),
    "dW transposed": (
        {"dW = q.T @ dqW": "dW = dqW.T @ q"},
        ["general_attention_backward"],
        "dW is transposed",
    ),
    "softmax backward without the -(a . g) term": (
        {"dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))": "dscores = weights * dweights"},
        ["masked_softmax_backward", "dot_attention_backward", "general_attention_backward", "additive_attention_backward"],
        "lacks the -(a . g) term",
    ),
    "dot backward forgets the scale": (
        {"dscores = masked_softmax_backward(dweights, weights) * c": "dscores = masked_softmax_backward(dweights, weights)"},
        ["dot_attention_backward"],
        "dq is wrong",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, functions, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex05")
    assert result.score < result.max_score
    lost = _lost(result)
    for function in functions:
        assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
        assert any(phrase in feedback for feedback in lost[function]), lost[function]


def test_the_fully_padded_row_check_costs_only_its_own_test(tmp_path):
    """Without the ValueError, rows that do have real keys are still right: one test lost."""
    result = grade_notebook(mutant(SOLUTION, {CHECK: ""}, tmp_path), "ex05")
    assert result.score == result.max_score - 1
