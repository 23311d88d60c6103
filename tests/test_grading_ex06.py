"""The ex06 grader: full marks for the solution, 0 for the exercise, and each typical bug loses
points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex06_torch_seq2seq.ipynb"
TIMEOUT = 120  # the training test takes a few CPU seconds, far more wall time on a busy machine


def _lost(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


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


PACKED = """        packed = pack_padded_sequence(
            self.embedding(src), lengths, batch_first=True, enforce_sorted=False
        )
        out, h_n = self.rnn(packed)
        outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=S)"""
UNPACKED = """        outputs, h_n = self.rnn(self.embedding(src))
        outputs = outputs * src_mask.unsqueeze(-1)"""
MUTATIONS = {
    "padding read (no packing)": (
        {PACKED: UNPACKED}, "Encoder", "the padding is read: pack the embedded batch"),
    "h_n reshaped without transposing": (
        {"summary = torch.cat([h_n[0], h_n[1]], dim=-1)": "summary = h_n.reshape(N, -1)"},
        "Encoder", "transpose it to (N, 2, H) before reshaping"),
    "directions swapped": (
        {"summary = torch.cat([h_n[0], h_n[1]], dim=-1)":
         "summary = torch.cat([h_n[1], h_n[0]], dim=-1)"},
        "Encoder", "the two directions are swapped"),
    "one-way encoder": (
        {"nn.GRU(E, H, batch_first=True, bidirectional=True)": "nn.GRU(E, H, batch_first=True)"},
        "Encoder", "must be bidirectional"),
    "context not fed to the decoder": (
        {"self.rnn = nn.GRU(E + C, H, batch_first=True)": "self.rnn = nn.GRU(E, H, batch_first=True)",
         "torch.cat([x, ctx], dim=-1), state)": "x, state)"},
        "Decoder", "an input of size E + C"),
    "decoder input in the wrong order": (
        {"torch.cat([x, ctx], dim=-1)": "torch.cat([ctx, x], dim=-1)"},
        "Decoder", "the order is [embedded token; context]"),
    "initial state ignored": (
        {"torch.cat([x, ctx], dim=-1), state)": "torch.cat([x, ctx], dim=-1))"},
        "Decoder", "the initial state is ignored"),
    "softmax returned instead of logits": (
        {"logits = self.proj(out)": "logits = torch.softmax(self.proj(out), dim=-1)"},
        "Decoder", "return the logits, before any softmax"),
    "bidirectional decoder (reads the future)": (
        {"self.rnn = nn.GRU(E + C, H, batch_first=True)":
         "self.rnn = nn.GRU(E + C, H // 2, batch_first=True, bidirectional=True)"},
        "Decoder", "has the wrong parameters"),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, module, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex06", timeout=TIMEOUT)
    assert result.score < result.max_score
    lost = _lost(result)
    assert module in lost, f"{bug}: {module} should lose points; lost: {lost}"
    assert any(phrase in feedback for feedback in lost[module]), lost[module]
