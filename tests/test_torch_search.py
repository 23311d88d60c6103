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
def test_beam_hypotheses_score_what_the_model_says(cell, beam_size, alpha, penalty):
    """Oracle: the model's own teacher-forced log-probabilities of each returned hypothesis."""
    model, src, mask = _setup(cell, seed=beam_size)
    results = beam_search(model, src, mask, BOS, EOS, MAX_LEN, beam_size, alpha, penalty)
    assert len(results) == src.shape[0]
    for n, hyps in enumerate(results):
        assert 1 <= len(hyps) <= beam_size
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for h in hyps:
            targets = list(h.tokens) + ([EOS] if h.finished else [])
            tgt_in = torch.tensor([[BOS, *targets[:-1]]])
            with torch.no_grad():
                log_probs = torch.log_softmax(model(src[n : n + 1], mask[n : n + 1], tgt_in), -1)
            total = log_probs[0, torch.arange(len(targets)), torch.tensor(targets)].sum().item()
            assert h.log_prob == pytest.approx(total, rel=1e-4, abs=1e-4)
            length = len(targets)
            assert h.score == pytest.approx(
                h.log_prob / decoding.length_penalty(length, alpha, penalty)
            )


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
