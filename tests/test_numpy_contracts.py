"""Dtype and shape contracts of the NumPy layers: integer inputs computed exactly in float64,
upstream gradients of the wrong shape refused, non-finite values at padded positions kept out,
float16 losses that do not overflow, clipping that never turns inf into NaN, empty batches.

Oracles: the same call on float64 copies of the inputs, torch autograd, exact float64 sums."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn import attention as att
from s2s_ref.numpy_nn.clip import clip_by_global_norm
from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.fused import (
    fused_gru_backward,
    fused_gru_forward,
    fused_lstm_backward,
    fused_lstm_forward,
)
from s2s_ref.numpy_nn.gru import gru_backward, gru_forward
from s2s_ref.numpy_nn.loss import log_softmax, softmax_cross_entropy
from s2s_ref.numpy_nn.lstm import lstm_backward, lstm_forward
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from s2s_ref.shapes import ShapeError
from s2s_ref.torch_nn.loss import masked_cross_entropy

N, T, D, H, S, V, E, A = 3, 4, 5, 2, 6, 7, 4, 3


def _ints(rng, *shape):
    return rng.integers(-2, 3, size=shape)


# --- integer inputs: exact float64 ----------------------------------------------------------


def test_masked_softmax_of_integer_scores_is_not_truncated():
    weights = att.masked_softmax(np.array([[0, -1]]), np.array([[True, True]]))
    np.testing.assert_allclose(weights, [[1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))]])


def test_rnn_with_integer_inputs_equals_the_float64_computation(rng):
    args = [
        _ints(rng, N, T, D),
        _ints(rng, N, H),
        _ints(rng, D, H),
        _ints(rng, H, H),
        _ints(rng, H),
    ]
    dh = _ints(rng, N, T, H)
    h, cache = rnn_forward(*args)
    h64, cache64 = rnn_forward(*[a.astype(np.float64) for a in args])
    assert h.dtype == np.float64
    np.testing.assert_array_equal(h, h64)
    for g, g64 in zip(
        rnn_backward(dh, cache), rnn_backward(dh.astype(float), cache64), strict=True
    ):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, g64)


def test_embedding_with_an_integer_table_gives_exact_float_gradients(rng):
    ids = rng.integers(0, V, size=(N, T))
    W = _ints(rng, V, E)
    out, cache = embedding_forward(ids, W)
    dout = _ints(rng, N, T, E)
    dW = embedding_backward(dout, cache)
    expected = np.zeros((V, E))
    for n in range(N):
        for t in range(T):
            expected[ids[n, t]] += dout[n, t]
    assert dW.dtype == np.float64 and np.abs(expected).sum() > 0
    np.testing.assert_array_equal(dW, expected)


@pytest.mark.parametrize("fused_", [True, False])
@pytest.mark.parametrize("forward", ["lstm", "gru"])
def test_gated_cells_with_integer_inputs_equal_float64(rng, forward, fused_):
    G = 4 if forward == "lstm" else 3
    x, h0, Wx, Wh = (
        _ints(rng, N, T, D),
        _ints(rng, N, H),
        _ints(rng, D, G * H),
        _ints(rng, H, G * H),
    )
    if forward == "lstm":
        run, back, args = (
            fused_lstm_forward if fused_ else lstm_forward,
            fused_lstm_backward if fused_ else lstm_backward,
            (x, h0, _ints(rng, N, H), Wx, Wh, _ints(rng, 4 * H)),
        )
    else:
        run, back, args = (
            fused_gru_forward if fused_ else gru_forward,
            fused_gru_backward if fused_ else gru_backward,
            (x, h0, Wx, Wh, _ints(rng, 3 * H), _ints(rng, 3 * H)),
        )
    h, cache = run(*args)
    h64, cache64 = run(*[a.astype(np.float64) for a in args])
    assert h.dtype == np.float64
    np.testing.assert_array_equal(h, h64)
    dh = _ints(rng, N, T, H)
    for g, g64 in zip(back(dh, cache), back(dh.astype(float), cache64), strict=True):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, g64)


def test_non_numeric_arrays_are_refused_by_name():
    with pytest.raises(TypeError, match="masked_softmax: scores must be an array of real numbers"):
        att.masked_softmax(np.array([["a", "b"]]), np.array([[True, True]]))
    from s2s_ref.shapes import as_float

    with pytest.raises(TypeError, match="f: z must be an array of real numbers"):
        as_float("f", z=np.array([1 + 2j]))


def test_float_token_ids_in_the_loss_are_refused(rng):
    with pytest.raises(TypeError, match="targets must be integer token ids"):
        softmax_cross_entropy(rng.normal(size=(N, T, V)), np.zeros((N, T)), np.ones((N, T), bool))


# --- upstream gradients of the wrong shape --------------------------------------------------


@pytest.mark.parametrize("bad", [(H,), (N, 1), (1, H), (H, N)])
def test_step_backward_refuses_upstream_gradients_of_another_shape(rng, bad):
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    weights = rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    _, cache = rnn_step_forward(x, h, *weights)
    with pytest.raises(ShapeError, match="rnn_step_backward: dh_next"):
        rnn_step_backward(np.ones(bad), cache)


def test_sequence_backward_refuses_a_broadcastable_dh(rng):
    _, cache = rnn_forward(
        rng.normal(size=(N, T, D)),
        rng.normal(size=(N, H)),
        rng.normal(size=(D, H)),
        rng.normal(size=(H, H)),
        rng.normal(size=H),
    )
    with pytest.raises(ShapeError, match=r"rnn_backward: dh should have shape .*3, 4, 2"):
        rnn_backward(np.ones((N, T, 1)), cache)


def test_embedding_backward_refuses_dout_of_another_width(rng):
    _, cache = embedding_forward(rng.integers(0, V, size=(N, T)), rng.normal(size=(V, E)))
    with pytest.raises(ShapeError, match=r"embedding_backward: dout should have shape .*3, 4, 4"):
        embedding_backward(np.ones((N, T, 1)), cache)


@pytest.mark.parametrize("scorer", ["dot", "general", "additive", "pooled"])
def test_attention_backwards_refuse_dcontext_of_another_shape(rng, scorer):
    cache = _attention(rng, scorer, rng.normal(size=(N, S, H)))[2]
    with pytest.raises(ShapeError, match=f"{scorer}_attention_backward: dcontext"):
        getattr(att, f"{scorer}_attention_backward")(np.ones((N, 1)), cache)


# --- non-finite values at padded positions --------------------------------------------------


def _mask(rng):
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T - 1  # at least one padded position
    return np.arange(T)[None] < lengths[:, None]


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_softmax_cross_entropy_ignores_non_finite_logits_at_padding(rng, poison):
    logits, mask = rng.normal(size=(N, T, V)), _mask(rng)
    targets = rng.integers(0, V, size=(N, T))
    clean_loss, clean_grad = softmax_cross_entropy(logits, targets, mask)
    poisoned = logits.copy()
    poisoned[~mask] = poison
    loss, grad = softmax_cross_entropy(poisoned, targets, mask)
    assert loss == clean_loss
    np.testing.assert_array_equal(grad, clean_grad)
    assert (grad[~mask] == 0).all()


@pytest.mark.parametrize("poison", [np.nan, np.inf])
def test_torch_masked_cross_entropy_ignores_non_finite_logits_at_padding(rng, poison):
    logits, mask = rng.normal(size=(N, T, V)), _mask(rng)
    targets = torch.as_tensor(rng.integers(0, V, size=(N, T)))
    logits[~mask] = poison
    x = torch.tensor(logits, requires_grad=True)
    loss = masked_cross_entropy(x, targets, torch.as_tensor(mask))
    loss.backward()
    real = torch.tensor(logits[mask])
    expected = torch.nn.functional.cross_entropy(real, targets[torch.as_tensor(mask)])
    torch.testing.assert_close(loss, expected)
    assert (x.grad[torch.as_tensor(~mask)] == 0).all() and torch.isfinite(x.grad).all()


def _attention(rng, scorer, k, v=None, mask=None):
    q = rng.normal(size=(N, H))
    v = rng.normal(size=(N, S, 3)) if v is None else v
    if mask is None:
        mask = np.ones((N, S), bool)
        mask[:, -2:] = False
    params = {
        "dot": {},
        "general": {"W": rng.normal(size=(H, H))},
        "additive": {
            "Wq": rng.normal(size=(H, A)),
            "Wk": rng.normal(size=(H, A)),
            "w": rng.normal(size=A),
        },
        "pooled": {"Wk": rng.normal(size=(H, A)), "w": rng.normal(size=A)},
    }[scorer]
    return getattr(att, f"{scorer}_attention_forward")(q, k, v, mask, **params)


@pytest.mark.parametrize("scorer", ["dot", "general", "additive", "pooled"])
def test_non_finite_keys_and_values_at_padding_change_nothing(scorer):
    k, v = (
        np.random.default_rng(1).normal(size=(N, S, H)),
        np.random.default_rng(2).normal(size=(N, S, 3)),
    )
    clean = _attention(np.random.default_rng(0), scorer, k, v)
    k_bad, v_bad = k.copy(), v.copy()
    k_bad[:, -2:] = np.nan
    v_bad[:, -1] = np.inf
    poisoned = _attention(np.random.default_rng(0), scorer, k_bad, v_bad)
    for a, b in zip(clean[:2], poisoned[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    backward = getattr(att, f"{scorer}_attention_backward")
    dcontext = np.random.default_rng(3).normal(size=(N, 3))
    for g, g_bad in zip(backward(dcontext, clean[2]), backward(dcontext, poisoned[2]), strict=True):
        assert np.isfinite(g_bad).all()
        np.testing.assert_array_equal(g, g_bad)


def test_float16_loss_over_many_tokens_does_not_overflow():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10, 2000)).astype(np.float16)
    targets = rng.integers(0, 2000, size=(200, 10))
    mask = np.ones((200, 10), bool)
    loss, grad = softmax_cross_entropy(logits, targets, mask)
    expected = -log_softmax(logits.astype(np.float64))
    expected = np.take_along_axis(expected, targets[..., None], -1).mean()
    assert np.isfinite(loss) and abs(loss - expected) < 1e-3 * expected
    assert grad.dtype == np.float16 and np.isfinite(grad).all()


def test_float16_loss_of_many_tokens_sums_without_overflow():
    """2000 x 10 tokens at loss ~ log V: the float16 sum (~1.5e5) would be inf."""
    rng = np.random.default_rng(1)
    logits = np.zeros((2000, 10, 2000), np.float16)
    targets = rng.integers(0, 2000, size=(2000, 10))
    loss, _ = softmax_cross_entropy(logits, targets, np.ones((2000, 10), bool))
    assert loss == pytest.approx(np.log(2000), rel=1e-4)


# --- clipping and empty batches ------------------------------------------------------------


@pytest.mark.parametrize("poison", [np.inf, np.nan])
def test_clip_by_global_norm_refuses_a_non_finite_gradient_by_position(poison):
    grads = [np.ones((2, 3)), np.array([1.0, poison]), np.ones(4)]
    with pytest.raises(FloatingPointError, match=r"gradient\(s\) \[1\] hold inf or NaN"):
        clip_by_global_norm(grads, 1.0)
    assert np.isnan(grads[1][1]) or np.isinf(grads[1][1])  # the inputs are untouched


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0, "1"])
def test_clip_by_global_norm_refuses_impossible_max_norms(bad):
    with pytest.raises(ValueError, match="max_norm must be a number > 0"):
        clip_by_global_norm([np.ones(2)], bad)


def test_clip_by_global_norm_with_an_infinite_max_norm_never_clips():
    # The book's runs without clipping use max_norm=np.inf, as torch's clip_grad_norm_ allows.
    grads = [np.full((2, 3), 1e3), np.ones(4)]
    clipped, norm = clip_by_global_norm(grads, np.inf)
    assert norm == pytest.approx(np.sqrt(6e6 + 4))
    for g, c in zip(grads, clipped, strict=True):
        np.testing.assert_array_equal(c, g)


@pytest.mark.parametrize("n, t", [(0, 3), (2, 0), (0, 0)])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_backward_of_an_empty_batch_or_sequence(rng, n, t, cell):
    x, h0 = rng.normal(size=(n, t, D)), rng.normal(size=(n, H))
    if cell == "lstm":
        h, cache = fused_lstm_forward(
            x,
            h0,
            h0,
            rng.normal(size=(D, 4 * H)),
            rng.normal(size=(H, 4 * H)),
            rng.normal(size=4 * H),
        )
        grads = fused_lstm_backward(np.zeros((n, t, H)), cache)
        shapes = [(n, t, D), (n, H), (n, H), (D, 4 * H), (H, 4 * H), (4 * H,)]
    else:
        h, cache = fused_gru_forward(
            x,
            h0,
            rng.normal(size=(D, 3 * H)),
            rng.normal(size=(H, 3 * H)),
            rng.normal(size=3 * H),
            rng.normal(size=3 * H),
        )
        grads = fused_gru_backward(np.zeros((n, t, H)), cache)
        shapes = [(n, t, D), (n, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,)]
    assert h.shape == (n, t, H)
    assert [g.shape for g in grads] == shapes
    assert all((g == 0).all() for g in grads)  # nothing was computed from: every gradient is 0
