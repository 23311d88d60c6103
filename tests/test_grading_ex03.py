"""The ex03 grader: full marks for the solution, 0 for the exercise, and each typical bug loses
points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex03_encdec.ipynb"


def _by_function(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex03")
    assert result.max_score == 19
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex03")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


MUTATIONS = {
    "loss not masked": (
        {"loss = -(picked * mask).sum() / n_real": "loss = -picked.mean()",
         "dlogits = (np.exp(logp) - one_hot) * mask[..., None] / n_real":
         "dlogits = (np.exp(logp) - one_hot) / mask.size"},
        "softmax_cross_entropy",
        "the loss is not masked",
    ),
    "mean over all positions instead of real tokens": (
        {"n_real = mask.sum()": "n_real = mask.size"},
        "softmax_cross_entropy",
        "divided by N * T (all positions)",
    ),
    "no max subtraction": (
        {"shifted = logits - logits.max(axis=-1, keepdims=True)": "shifted = logits"},
        "softmax_cross_entropy",
        "Subtract each row's maximum",
    ),
    "decoder inputs and targets not shifted by one": (
        {"dec_in[n, : len(y) + 1] = [sos_id, *y]": "dec_in[n, : len(y) + 1] = [*y, eos_id]"},
        "shift_for_decoder",
        "not shifted by one",
    ),
    "repeated tokens keep one gradient": (
        {"np.add.at(dW, ids, dout)": "dW[ids] = dout"},
        "embedding_backward",
        "keeps only its last gradient",
    ),
    "context read after the padding": (
        {"context = enc[np.arange(src.shape[0]), last]": "context = enc[:, -1]"},
        "encoder_forward",
        "the context is read after the padding",
    ),
    "dcontext at the last position": (
        {"dh[np.arange(dh.shape[0]), last] += dcontext": "dh[:, -1] += dcontext"},
        "encoder_backward",
        "not at each sequence's last real token",
    ),
    "decoder starts from zeros": (
        {"steps, s = [], context": "steps, s = [], np.zeros_like(context)"},
        "decoder_forward",
        "starts from zeros",
    ),
    "dcontext misses s_0": (
        {"    dcontext += ds_next\n": "\n"},
        "decoder_backward",
        "misses its use as the initial state s_0",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, function, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex03")
    assert result.score < result.max_score
    lost = _by_function(result)
    assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
    assert any(phrase in feedback for feedback in lost[function]), lost[function]


def test_borrowing_the_reference_scores_zero(tmp_path):
    path = mutant(SOLUTION, {"from s2s_ref.checks import check": "from s2s_ref.checks import check\nfrom s2s_ref.numpy_nn.encoder import encoder_forward as ref_encoder"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex03")
    assert any("cannot be imported while ex03 is graded" in p for p in result.problems)
