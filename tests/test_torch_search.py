"""Batched greedy and beam search against the framework-agnostic s2s_ref.decoding, same model."""

import numpy as np
import pytest
import torch

from s2s_ref import decoding
from s2s_ref.torch_nn.search import beam_search, decoding_step, greedy_decode
from s2s_ref.torch_nn.seq2seq import Seq2Seq

from .torch_tasks import BOS, EOS, VOCAB, reversal_data

MAX_LEN = 7
BEAMS = [(1, 0.0, "gnmt"), (3, 0.0, "gnmt"), (3, 0.7, "gnmt"), (4, 1.0, "power")]


def _setup(cell, seed=0, n=5):
    g = torch.Generator().manual_seed(seed)
    # large weights make peaked distributions, so EOS comes early and beams finish at varied steps
    model = Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, cell=cell, generator=g).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
        model.decoder.proj.bias[EOS] += 1.5  # EOS often among the best: hypotheses of all lengths
    data = reversal_data(n, seed=seed + 1)
    return model, data.src, data.src_mask


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_greedy_equals_the_reference_greedy(cell):
    model, src, mask = _setup(cell)
    tokens, lengths, logp = greedy_decode(model, src, mask, BOS, EOS, MAX_LEN)
    step, state = decoding_step(model, src, mask)
    ref_tokens, ref_lengths, ref_logp = decoding.greedy_decode(
        step, state, src.shape[0], BOS, EOS, MAX_LEN
    )
    np.testing.assert_array_equal(tokens.numpy(), ref_tokens)
    np.testing.assert_array_equal(lengths.numpy(), ref_lengths)
    np.testing.assert_allclose(logp.numpy(), ref_logp, rtol=1e-5)


def test_greedy_equals_teacher_forcing_fed_its_own_predictions():
    model, src, mask = _setup("gru")
    tokens, lengths, _ = greedy_decode(model, src, mask, BOS, EOS, MAX_LEN)
    tgt_in = torch.cat([torch.full((src.shape[0], 1), BOS), tokens[:, :-1]], dim=1)
    with torch.no_grad():
        logits = model(src, mask, tgt_in)
    real = torch.arange(tokens.shape[1])[None] < lengths[:, None]
    assert torch.equal(logits.argmax(-1)[real], tokens[real])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("beam_size, alpha, penalty", BEAMS)
def test_batched_beam_equals_the_reference_beam(cell, beam_size, alpha, penalty):
    model, src, mask = _setup(cell, seed=beam_size)
    ours = beam_search(model, src, mask, BOS, EOS, MAX_LEN, beam_size, alpha, penalty)
    step, state = decoding_step(model, src, mask)
    ref = decoding.beam_search(step, state, src.shape[0], BOS, EOS, MAX_LEN, beam_size,
                               alpha, penalty)  # fmt: skip
    assert len(ours) == len(ref)
    for hyps, ref_hyps in zip(ours, ref, strict=True):
        assert [h.tokens for h in hyps] == [h.tokens for h in ref_hyps]
        assert [h.finished for h in hyps] == [h.finished for h in ref_hyps]
        np.testing.assert_allclose([h.score for h in hyps], [h.score for h in ref_hyps], rtol=1e-6)


def test_beam_of_one_is_greedy():
    model, src, mask = _setup("gru", seed=3)
    tokens, lengths, _ = greedy_decode(model, src, mask, BOS, EOS, MAX_LEN)
    for n, [hyp] in enumerate(beam_search(model, src, mask, BOS, EOS, MAX_LEN, beam_size=1)):
        n_tokens = int(lengths[n]) - hyp.finished
        assert list(hyp.tokens) == tokens[n, :n_tokens].tolist()


def test_beam_rejects_bad_sizes():
    model, src, mask = _setup("gru")
    with pytest.raises(ValueError, match="beam_size >= 1"):
        beam_search(model, src, mask, BOS, EOS, MAX_LEN, beam_size=0)
