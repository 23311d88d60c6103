"""The ex07 grader: full marks for the solution, 0 for the exercise, and each typical bug loses
points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex07_torch_attention.ipynb"


def _lost(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


@pytest.mark.slow
def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex07", timeout=120)
    assert result.max_score == 15
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex07")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


MUTATIONS = {
    "mask ignored": (
        {'scores.masked_fill(~mask[:, None, :], float("-inf"))': "scores"},
        "batched_masked_softmax",
        "the mask is ignored",
    ),
    "padded scores set to 0": (
        {'float("-inf"))': "0.0)"},
        "batched_masked_softmax",
        "padded scores are set to 0, not -inf",
    ),
    "softmax over the wrong axis": (
        {"weights = torch.softmax(scores, dim=-1)": "weights = torch.softmax(scores, dim=1)"},
        "batched_masked_softmax",
        "softmax runs over the wrong axis",
    ),
    "context from the keys": (
        {"context = torch.bmm(weights, v)": "context = torch.bmm(weights, k)"},
        "general_attention",
        "averages the keys k",
    ),
    "Luong attends with the previous state": (
        {"context, weights = general_attention(s, enc, enc, mask, self.W)":
         "context, weights = general_attention(torch.cat([h0.transpose(0, 1), s[:, :-1]], 1), enc, enc, mask, self.W)"},
        "LuongDecoder",
        "state before the step",
    ),
    "combined layer without tanh": (
        {"o = torch.tanh(self.combine(torch.cat([s, context], dim=-1)))": "o = self.combine(torch.cat([s, context], dim=-1))"},
        "LuongDecoder",
        "misses its tanh",
    ),
    "concatenation in the wrong order": (
        {"torch.cat([s, context], dim=-1)": "torch.cat([context, s], dim=-1)"},
        "LuongDecoder",
        "concatenation is [c_t; s_t]",
    ),
    "attention weights detached": (
        {"context = torch.bmm(weights, v)": "context = torch.bmm(weights.detach(), v)"},
        "general_attention",
        "does not reach the context",
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, function, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex07", timeout=120)
    assert result.score < result.max_score
    lost = _lost(result)
    assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
    assert any(phrase in feedback for feedback in lost[function]), lost[function]
