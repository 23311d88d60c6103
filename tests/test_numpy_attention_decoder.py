"""Attention encoder-decoders (NumPy): whole-model finite differences, torch autograd, properties."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.attention_seq2seq import (
    Seq2SeqConfig,
    greedy_decode,
    init_seq2seq,
    seq2seq_forward,
    seq2seq_loss,
)

from .conftest import E, H, N, V

S, T, V_SRC, A = 5, 4, 9, 2  # distinct from N = 3, E = 8, H = 6 and V = 7 (the target vocab)
MODELS = [("plain", "dot")] + [
    (d, s) for d in ("bahdanau", "luong") for s in ("dot", "general", "additive", "pooled")
]


def _config(decoder, score, cell="rnn"):
    return Seq2SeqConfig(V_SRC, V, emb=E, hidden=H, attn=A, decoder=decoder, cell=cell, score=score)


def _batch(rng):
    """Source lengths 5, 3, 1 (padding on the right) and target lengths 4, 2, 3."""
    src = rng.integers(0, V_SRC, size=(N, S))
    src_mask = np.arange(S)[None, :] < np.array([S, 3, 1])[:, None]
    tgt_in, tgt_out = rng.integers(0, V, size=(2, N, T))
    tgt_mask = np.arange(T)[None, :] < np.array([T, 2, 3])[:, None]
    return src, src_mask, tgt_in, tgt_out, tgt_mask


@pytest.mark.parametrize(
    ("decoder", "score", "cell"),
    [(d, s, "rnn") for d, s in MODELS]
    + [("bahdanau", "additive", "gru"), ("luong", "general", "gru")],
)
def test_whole_model_gradients_against_finite_differences(decoder, score, cell, rng):
    config = _config(decoder, score, cell)
    params = init_seq2seq(config, rng, np.float64)
    batch = _batch(rng)
    _, grads = seq2seq_loss(config, params, *batch)
    assert set(grads) == set(params)

    for name, value in params.items():

        def loss_of(a, name=name):
            return seq2seq_loss(config, {**params, name: a}, *batch)[0]

        num = numerical_gradient(loss_of, [value], 0)
        assert relative_error(grads[name], num) < 1e-6, name


@pytest.mark.parametrize(("decoder", "score"), MODELS)
def test_padded_source_tokens_change_nothing(decoder, score, rng):
    config = _config(decoder, score)
    params = init_seq2seq(config, rng, np.float64)
    src, src_mask, *target = _batch(rng)
    other = np.where(src_mask, src, (src + 1) % V_SRC)  # different ids behind the mask
    loss, grads = seq2seq_loss(config, params, src, src_mask, *target)
    loss2, grads2 = seq2seq_loss(config, params, other, src_mask, *target)
    assert loss == pytest.approx(loss2, rel=1e-13)
    for name in params:
        np.testing.assert_allclose(grads[name], grads2[name], atol=1e-13, err_msg=name)


@pytest.mark.parametrize(("decoder", "score"), MODELS)
def test_output_t_does_not_depend_on_later_decoder_inputs(decoder, score, rng):
    config = _config(decoder, score)
    params = init_seq2seq(config, rng, np.float64)
    src, src_mask, tgt_in, _, _ = _batch(rng)
    changed = tgt_in.copy()
    changed[:, 2:] = (changed[:, 2:] + 1) % V
    logits, _, _ = seq2seq_forward(config, params, src, src_mask, tgt_in)
    logits2, _, _ = seq2seq_forward(config, params, src, src_mask, changed)
    np.testing.assert_array_equal(logits[:, :2], logits2[:, :2])
    assert not np.allclose(logits[:, 2:], logits2[:, 2:])


@pytest.mark.parametrize(("decoder", "score"), MODELS)
def test_greedy_equals_teacher_forcing_fed_its_own_predictions(decoder, score, rng):
    config = _config(decoder, score)
    params = init_seq2seq(config, rng, np.float64)
    src, src_mask, *_ = _batch(rng)
    bos = 1
    ids, weights = greedy_decode(config, params, src, src_mask, T, bos)
    tgt_in = np.concatenate([np.full((N, 1), bos), ids[:, :-1]], axis=1)
    logits, tf_weights, _ = seq2seq_forward(config, params, src, src_mask, tgt_in)
    np.testing.assert_array_equal(logits.argmax(axis=2), ids)
    if decoder == "plain":
        assert weights is None and tf_weights is None
    else:
        np.testing.assert_allclose(weights, tf_weights, atol=1e-12)


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_attention_maps_are_distributions_over_the_real_source(decoder, rng):
    config = _config(decoder, "additive")
    params = init_seq2seq(config, rng, np.float64)
    src, src_mask, tgt_in, _, _ = _batch(rng)
    _, weights, _ = seq2seq_forward(config, params, src, src_mask, tgt_in)
    assert weights.shape == (N, T, S)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=1e-12)
    assert np.all(weights[np.broadcast_to(~src_mask[:, None, :], weights.shape)] == 0)


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_pooling_gives_the_same_weights_at_every_step_attention_does_not(decoder, rng):
    """The detection test of chapter 5: do the weights change across decoder steps?"""
    src, src_mask, tgt_in, _, _ = _batch(rng)
    spread = {}
    for score in ("additive", "pooled"):
        config = _config(decoder, score)
        params = init_seq2seq(config, rng, np.float64)
        _, weights, _ = seq2seq_forward(config, params, src, src_mask, tgt_in)
        spread[score] = weights[0].std(axis=0).max()  # row 0 has 5 real keys
    assert spread["pooled"] < 1e-15 < 1e-3 < spread["additive"]


def _torch_loss(config, tp, src, src_mask, tgt_in, tgt_out, tgt_mask):
    """The same model written with torch ops (vanilla RNN cell), for autograd to differentiate."""

    def cell(x, h, prefix):
        return torch.tanh(x @ tp[prefix + "Wx"] + h @ tp[prefix + "Wh"] + tp[prefix + "b"])

    def attend(q, enc):
        if config.score == "general":
            scores = torch.einsum("nh,hk,nsk->ns", q, tp["dec_att_W"], enc)
        else:
            pre = (q @ tp["dec_att_Wq"])[:, None, :] + enc @ tp["dec_att_Wk"]
            scores = torch.tanh(pre) @ tp["dec_att_w"]
        weights = torch.softmax(scores.masked_fill(~torch.from_numpy(src_mask), -torch.inf), 1)
        return torch.einsum("ns,nsh->nh", weights, enc)

    emb = tp["src_emb"][torch.from_numpy(src)]
    h, states = torch.zeros(src.shape[0], config.hidden, dtype=emb.dtype), []
    for t in range(src.shape[1]):
        h = cell(emb[:, t], h, "enc_")
        states.append(h)
    enc = torch.stack(states, 1)
    s = enc[torch.arange(src.shape[0]), torch.from_numpy(src_mask.sum(1) - 1)]
    x = tp["tgt_emb"][torch.from_numpy(tgt_in)]
    outputs = []
    for t in range(tgt_in.shape[1]):
        if config.decoder == "bahdanau":
            c = attend(s, enc)
            s = cell(torch.cat([x[:, t], c], 1), s, "dec_")
            outputs.append(torch.cat([s, c], 1))
        else:
            s = cell(x[:, t], s, "dec_")
            outputs.append(torch.tanh(torch.cat([s, attend(s, enc)], 1) @ tp["dec_Wc"]))
    logits = torch.stack(outputs, 1) @ tp["dec_Wo"] + tp["dec_bo"]
    logp = torch.log_softmax(logits, -1)
    picked = logp.gather(2, torch.from_numpy(tgt_out)[..., None])[..., 0]
    mask = torch.from_numpy(tgt_mask)
    return -(picked * mask).sum() / mask.sum()


@pytest.mark.parametrize(("decoder", "score"), [("bahdanau", "additive"), ("luong", "general")])
def test_whole_model_matches_torch_autograd(decoder, score, rng):
    config = _config(decoder, score)
    params = init_seq2seq(config, rng, np.float64)
    batch = _batch(rng)
    loss, grads = seq2seq_loss(config, params, *batch)
    tp = {n: torch.tensor(a, requires_grad=True) for n, a in params.items()}
    t_loss = _torch_loss(config, tp, *batch)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for name, t in tp.items():
        np.testing.assert_allclose(grads[name], t.grad.numpy(), atol=1e-12, err_msg=name)


def test_sources_must_be_right_padded_and_not_empty(rng):
    config = _config("plain", "dot")
    params = init_seq2seq(config, rng, np.float64)
    src, src_mask, tgt_in, _, _ = _batch(rng)
    for bad in (src_mask[:, ::-1], np.zeros_like(src_mask)):
        with pytest.raises(ValueError, match="padding only on the right"):
            seq2seq_forward(config, params, src, bad, tgt_in)
