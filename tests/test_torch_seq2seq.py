"""Properties of the fast Seq2Seq: padding is invisible, rows are independent, the decoder is
causal, and the step-by-step (scheduled sampling) path computes what the fused path does."""

import pytest
import torch

from s2s_ref.torch_nn.loss import masked_cross_entropy
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.seq2seq import Seq2Seq, reset_uniform_

from .torch_tasks import BOS, EOS, VOCAB, reversal_data


def _model(cell="gru", pack=True):
    g = torch.Generator().manual_seed(0)
    return Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, cell=cell, pack=pack, generator=g).double()


def _batch(n=4):
    d = reversal_data(n, seed=3)
    return d.src, d.src_mask, d.tgt_in, d.tgt_out, d.tgt_mask


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_extra_padding_changes_neither_loss_nor_gradients(cell):
    src, mask, tgt_in, tgt_out, tgt_mask = _batch()
    results = []
    for extra in (0, 3):
        model = _model(cell)
        pad = torch.randint(3, VOCAB, (src.shape[0], extra))  # junk ids under a False mask
        s = torch.cat([src, pad], 1)
        m = torch.cat([mask, torch.zeros_like(pad, dtype=torch.bool)], 1)
        t_pad = torch.randint(3, VOCAB, (src.shape[0], extra))
        ti, to = torch.cat([tgt_in, t_pad], 1), torch.cat([tgt_out, t_pad], 1)
        tm = torch.cat([tgt_mask, torch.zeros_like(t_pad, dtype=torch.bool)], 1)
        loss = masked_cross_entropy(model(s, m, ti), to, tm)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    for g0, g1 in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(g0, g1, rtol=1e-10, atol=1e-12)


def test_without_packing_padding_leaks_into_the_output():
    src, mask, tgt_in, *_ = _batch()
    model = _model(pack=False)
    wide = torch.cat([src, torch.full((src.shape[0], 3), 5)], 1)
    wide_mask = torch.cat([mask, torch.zeros(src.shape[0], 3, dtype=torch.bool)], 1)
    assert not torch.allclose(model(src, mask, tgt_in), model(wide, wide_mask, tgt_in))


def test_batch_rows_are_independent():
    src, mask, tgt_in, *_ = _batch()
    model = _model()
    together = model(src, mask, tgt_in)
    for i in range(src.shape[0]):
        L = int(mask[i].sum())
        alone = model(src[i : i + 1, :L], mask[i : i + 1, :L], tgt_in[i : i + 1])
        torch.testing.assert_close(alone[0], together[i], rtol=1e-12, atol=1e-12)


def test_output_t_does_not_depend_on_decoder_inputs_after_t():
    src, mask, tgt_in, *_ = _batch()
    model = _model()
    changed = tgt_in.clone()
    changed[:, 3:] = (changed[:, 3:] + 1) % VOCAB
    torch.testing.assert_close(model(src, mask, tgt_in)[:, :3], model(src, mask, changed)[:, :3])


def test_step_path_with_all_true_coins_equals_the_fused_path():
    src, mask, tgt_in, *_ = _batch()
    model = _model()
    fused = model(src, mask, tgt_in, teacher_forcing=1.0)
    stepped = model(src, mask, tgt_in, teacher_forcing=1 - 1e-12, generator=torch.Generator())
    torch.testing.assert_close(stepped, fused, rtol=1e-10, atol=1e-12)


def test_free_running_feeds_back_the_greedy_tokens():
    src, mask, *_ = _batch()
    model = _model()
    tokens, lengths, _ = greedy_decode(model, src, mask, BOS, EOS, max_len=6)
    T = tokens.shape[1]
    dummy = torch.full((src.shape[0], T), BOS)  # only position 0 is read at ratio 0
    logits = model(src, mask, dummy, teacher_forcing=0.0, generator=torch.Generator())
    real = torch.arange(T)[None] < lengths[:, None]
    assert torch.equal(logits.argmax(-1)[real], tokens[real])


def test_bad_batches_are_refused_with_a_sentence():
    src, mask, tgt_in, *_ = _batch()
    model = _model()
    with pytest.raises(ValueError, match="at least one real token"):
        model(src, torch.zeros_like(mask), tgt_in)
    with pytest.raises(ValueError, match="boolean src_mask"):
        model(src, mask.long(), tgt_in)
    with pytest.raises(ValueError, match=r"teacher_forcing must lie in \[0, 1\]"):
        model(src, mask, tgt_in, teacher_forcing=2.0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seeded_init_has_torch_nn_bounds_for_every_linear_and_rnn_parameter(cell):
    """The seeded draw of each Linear/RNN parameter, biases included, spans what torch.nn's own
    reset spans: the largest |value| over 20 draws matches torch's to 2%."""
    model = Seq2Seq(11, 300, emb=9, hidden=40, cell=cell)  # proj: 40 -> 300, bridge: 80 -> 40

    def largest(reset):
        top = {}
        for _ in range(20):
            reset()
            for name, p in model.named_parameters():
                top[name] = max(top.get(name, 0.0), p.abs().max().item())
        return top

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.RNNBase))]
    theirs = largest(lambda: [m.reset_parameters() for m in layers])
    g = torch.Generator().manual_seed(0)
    ours = largest(lambda: reset_uniform_(model, g))
    for name, p in model.named_parameters():
        if "embedding" not in name:  # torch.nn draws embeddings from N(0, 1)
            assert ours[name] == pytest.approx(theirs[name], rel=0.02), (name, tuple(p.shape))
