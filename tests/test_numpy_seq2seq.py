"""The NumPy encoder-decoder against finite differences, torch autograd, and its properties."""

import numpy as np
import pytest
import torch

from s2s_ref.data.batching import make_batch, pad_batch, shift_for_decoder
from s2s_ref.data.tasks import make_copy
from s2s_ref.data.vocab import Vocab
from s2s_ref.decoding import greedy_decode
from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.decoder import decoder_backward, decoder_forward
from s2s_ref.numpy_nn.encoder import encoder_backward, encoder_forward
from s2s_ref.numpy_nn.seq2seq import (
    DECODER,
    ENCODER,
    decoder_step_fn,
    init_seq2seq,
    initial_state,
    seq2seq_forward,
    seq2seq_loss,
)
from s2s_ref.numpy_nn.training import evaluate, predict, train
from s2s_ref.teacher_forcing import Schedule

from .conftest import E, H, N, V

VS = V + 2  # source and target vocabularies of different sizes: a swap cannot pass
S_LENGTHS, T_LENGTHS = [4, 2, 3], [3, 1, 2]  # N = 3 sources and targets of different lengths


def _data(rng, s_lengths=S_LENGTHS, t_lengths=T_LENGTHS):
    src, src_mask, _ = pad_batch([rng.integers(4, VS, size=k) for k in s_lengths])
    tgt_in, tgt_out, tgt_mask = shift_for_decoder([rng.integers(4, V, size=k) for k in t_lengths])
    return src, src_mask, tgt_in, tgt_out, tgt_mask


def _params(rng):
    p = init_seq2seq(VS, V, E, H, rng, dtype=np.float64)
    return {k: v + 0.1 * rng.normal(size=v.shape) for k, v in p.items()}  # nonzero biases


def test_encoder_backward_against_finite_differences(rng):
    src, src_mask, *_ = _data(rng)
    params = [_params(rng)[k] for k in ENCODER]
    enc, context, cache = encoder_forward(src, src_mask, *params)
    assert enc.shape == (N, src.shape[1], H) and context.shape == (N, H)
    denc, dcontext = rng.normal(size=enc.shape), rng.normal(size=context.shape)
    grads = encoder_backward(denc, dcontext, cache)

    def f(*p):
        enc, context, _ = encoder_forward(src, src_mask, *p)
        return np.sum(enc * denc) + np.sum(context * dcontext)

    for i, g in enumerate(grads):
        assert relative_error(g, numerical_gradient(f, params, i)) < 1e-7, ENCODER[i]


def test_decoder_backward_against_finite_differences(rng):
    _, _, tgt_in, *_ = _data(rng)
    p = _params(rng)
    args = [rng.normal(size=(N, H)), *(p[k] for k in DECODER)]
    logits, fed, cache = decoder_forward(tgt_in, *args)
    np.testing.assert_array_equal(fed, tgt_in)
    dlogits = rng.normal(size=logits.shape)
    grads = decoder_backward(dlogits, cache)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: decoder_forward(tgt_in, *a)[0], args, i, dlogits)
        assert relative_error(g, num) < 1e-7, ("context", *DECODER)[i]


def test_whole_model_gradients_against_finite_differences(rng):
    data, params = _data(rng), _params(rng)
    loss, grads, _ = seq2seq_loss(params, *data)
    keys = list(params)

    def f(*values):
        return seq2seq_loss(dict(zip(keys, values, strict=True)), *data)[0]

    for i, k in enumerate(keys):
        num = numerical_gradient(f, [params[k] for k in keys], i)
        assert relative_error(grads[k], num) < 1e-6, k


def _torch_loss(params, src, src_mask, tgt_in, tgt_out, tgt_mask):
    """The same model written with torch.nn.GRU / GRUCell (copied weights) and autograd."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    enc = torch.nn.GRU(E, H, batch_first=True).double()
    dec = torch.nn.GRUCell(E + H, H).double()
    for module, prefix, suffix in ((enc, "enc_", "_l0"), (dec, "dec_", "")):
        # weights are (in, out) in NumPy and (out, in) in torch: assign the transposed leaves
        # so that autograd reaches our tensors
        for name, ours in (
            ("weight_ih", "Wx"),
            ("weight_hh", "Wh"),
            ("bias_ih", "bx"),
            ("bias_hh", "bh"),
        ):
            delattr(module, name + suffix)
            value = t[prefix + ours]
            setattr(module, name + suffix, value.T if value.ndim == 2 else value)
    ids = torch.from_numpy(src)
    out, _ = enc(t["enc_emb"][ids])
    lengths = torch.from_numpy(src_mask.sum(1))
    c = out[torch.arange(len(src)), lengths - 1]
    s, logits = c, []
    for step in range(tgt_in.shape[1]):
        s = dec(torch.cat([t["dec_emb"][torch.from_numpy(tgt_in[:, step])], c], 1), s)
        logits.append(torch.cat([s, c], 1) @ t["dec_Wo"] + t["dec_bo"])
    logits = torch.stack(logits, 1)
    mask = torch.from_numpy(tgt_mask)
    loss = torch.nn.functional.cross_entropy(logits[mask], torch.from_numpy(tgt_out)[mask])
    loss.backward()
    return loss.item(), logits.detach().numpy(), {k: v.grad.numpy() for k, v in t.items()}


def test_forward_and_gradients_match_a_torch_reimplementation(rng):
    data, params = _data(rng), _params(rng)
    loss, grads, logits = seq2seq_loss(params, *data)
    t_loss, t_logits, t_grads = _torch_loss(params, *data)
    np.testing.assert_allclose(loss, t_loss, rtol=1e-12)
    mask = data[4]
    np.testing.assert_allclose(logits[mask], t_logits[mask], atol=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], t_grads[k], atol=1e-10, err_msg=k)


def test_padding_changes_nothing(rng):
    src, src_mask, tgt_in, tgt_out, tgt_mask = _data(rng)
    params = _params(rng)
    loss, grads, logits = seq2seq_loss(params, src, src_mask, tgt_in, tgt_out, tgt_mask)

    # three more padded columns, and garbage ids where the padding was
    src_mask2 = np.pad(src_mask, ((0, 0), (0, 3)))
    src2 = np.where(src_mask2, np.pad(src, ((0, 0), (0, 3))), 5)
    tgt_mask2 = np.pad(tgt_mask, ((0, 0), (0, 2)))
    tgt_in2 = np.where(tgt_mask2, np.pad(tgt_in, ((0, 0), (0, 2))), 6)
    tgt_out2 = np.where(tgt_mask2, np.pad(tgt_out, ((0, 0), (0, 2))), 4)
    loss2, grads2, logits2 = seq2seq_loss(params, src2, src_mask2, tgt_in2, tgt_out2, tgt_mask2)
    np.testing.assert_allclose(loss2, loss, rtol=1e-12)
    np.testing.assert_allclose(logits2[:, : logits.shape[1]][tgt_mask], logits[tgt_mask])
    for k in params:
        np.testing.assert_allclose(grads2[k], grads[k], atol=1e-12, err_msg=k)


def test_under_teacher_forcing_output_t_ignores_later_inputs(rng):
    src, src_mask, tgt_in, *_ = _data(rng, t_lengths=[4, 4, 4])
    params = _params(rng)
    logits, _, _ = seq2seq_forward(params, src, src_mask, tgt_in)
    for t in range(tgt_in.shape[1] - 1):
        changed = tgt_in.copy()
        changed[:, t + 1 :] = rng.integers(4, V, size=changed[:, t + 1 :].shape)
        logits2, _, _ = seq2seq_forward(params, src, src_mask, changed)
        np.testing.assert_array_equal(logits2[:, : t + 1], logits[:, : t + 1])
        assert not np.allclose(logits2[:, t + 1 :], logits[:, t + 1 :])


def test_batch_elements_are_independent(rng):
    data, params = _data(rng), _params(rng)
    logits, _, _ = seq2seq_forward(params, *data[:3])
    for i in range(N):
        alone, _, _ = seq2seq_forward(params, *(a[i : i + 1] for a in data[:3]))
        np.testing.assert_allclose(alone[0], logits[i], atol=1e-12)
    # and a change in row 0 moves only row 0's logits
    src = data[0].copy()
    src[0, 0] = 4 if src[0, 0] != 4 else 5
    other, _, _ = seq2seq_forward(params, src, *data[1:3])
    np.testing.assert_array_equal(other[1:], logits[1:])
    assert not np.allclose(other[0], logits[0])


def test_greedy_decoding_equals_teacher_forcing_fed_its_own_predictions(rng):
    src, src_mask, *_ = _data(rng)
    params = _params(rng)
    sos, eos, steps = 1, 2, 6
    state = initial_state(params, src, src_mask)
    out, lengths, _ = greedy_decode(decoder_step_fn(params), state, N, sos, eos, steps, pad_id=-1)
    own = np.full((N, steps), sos)
    for i in range(N):  # after EOS the decoder keeps predicting; compare up to EOS only
        own[i, 1 : lengths[i]] = out[i, : lengths[i] - 1]
    logits, _, _ = seq2seq_forward(params, src, src_mask, own)
    for i in range(N):
        np.testing.assert_array_equal(logits[i, : lengths[i]].argmax(1), out[i, : lengths[i]])
    # teacher_ratio = 0 is the same free running, inside the training forward
    _, fed, _ = seq2seq_forward(params, src, src_mask, own, teacher_ratio=0.0)
    for i in range(N):
        np.testing.assert_array_equal(fed[i, 1 : lengths[i]], out[i, : lengths[i] - 1])


def test_mixed_teacher_forcing_backward_is_teacher_forcing_on_the_fed_tokens(rng):
    data, params = _data(rng, t_lengths=[4, 5, 3]), _params(rng)
    ratio_rng = np.random.default_rng(7)
    loss, grads, _ = seq2seq_loss(params, *data, teacher_ratio=0.5, rng=ratio_rng)
    _, fed, _ = seq2seq_forward(params, *data[:3], 0.5, np.random.default_rng(7))
    assert (fed != data[2]).any()  # some predictions were fed
    loss2, grads2, _ = seq2seq_loss(params, data[0], data[1], fed, *data[3:])
    np.testing.assert_allclose(loss, loss2)
    for k in params:
        np.testing.assert_allclose(grads[k], grads2[k], err_msg=k)


def test_bad_inputs_are_rejected_with_a_sentence(rng):
    src, src_mask, tgt_in, _, _ = _data(rng)
    p = _params(rng)
    enc_p = [p[k] for k in ENCODER]
    with pytest.raises(TypeError, match="src_mask must be boolean"):
        encoder_forward(src, src_mask.astype(int), *enc_p)
    with pytest.raises(ValueError, match="padding only on the right"):
        encoder_forward(src, src_mask[:, ::-1], *enc_p)
    with pytest.raises(ValueError, match=r"Wx should have shape \(E \+ H, 3H\)"):
        decoder_forward(
            tgt_in,
            np.zeros((N, H)),
            *(p[k] for k in DECODER[:1]),
            p["enc_Wx"],
            *(p[k] for k in DECODER[2:]),
        )


def test_inputs_are_not_modified(rng):
    data, params = _data(rng), _params(rng)
    before = [a.copy() for a in (*data, *params.values())]
    seq2seq_loss(params, *data, teacher_ratio=0.5, rng=rng)
    for a, b in zip((*data, *params.values()), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_training_lowers_the_loss_and_reports_history():
    rng = np.random.default_rng(0)
    vocab = Vocab(list("abcd"))
    params = init_seq2seq(len(vocab), len(vocab), 8, 16, rng, dtype=np.float64)
    test = make_copy(20, np.random.default_rng(1), 2, 4, 4, split="test")

    def next_batch(r):
        return make_batch(make_copy(16, r, 2, 4, 4), vocab, vocab)

    history = train(
        params,
        next_batch,
        120,
        rng,
        lr=1e-2,
        every=40,
        schedule=Schedule("fixed", {"ratio": 0.8}),
        evaluate_fn=lambda p: evaluate(p, test, vocab, vocab),
    )
    assert [h["step"] for h in history] == [40, 80, 120]
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    assert history[-1]["teacher_ratio"] == 0.8
    assert {"tf_token_acc", "free_token_acc", "free_exact"} <= set(history[-1])
    preds = predict(params, [s for s, _ in test], vocab, vocab)
    assert len(preds) == len(test) and all(set(p) <= set("abcd") for p in preds)
