"""NumPy pre-norm Transformer layers against torch.nn.TransformerEncoderLayer/DecoderLayer
(norm_first=True, relu, dropout 0, copied weights), central differences and torch autograd."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.multihead import causal_mask
from s2s_ref.numpy_nn.transformer import (
    decoder_layer_backward,
    decoder_layer_forward,
    decoder_layer_keys,
    encoder_layer_backward,
    encoder_layer_forward,
    encoder_layer_keys,
    feed_forward_backward,
    feed_forward_forward,
    init_layer,
)
from s2s_ref.shapes import ShapeError

from .transformer_oracles import t64, torch_layer, torch_layer_grads, torch_mask

# N, T, S, D, heads, D / heads and the FFN size H all different.
N, T, S, D, HEADS, H = 2, 5, 7, 12, 4, 10


def _params(keys, D, H, seed):
    rng = np.random.default_rng(seed)
    params = init_layer(keys, D, H, rng)
    for k in params:  # norms away from (1, 0) and biases away from 0, so that mistakes show
        if k.endswith((".gamma", ".beta")) or ".b" in k:
            params[k] = params[k] + rng.normal(scale=0.3, size=params[k].shape)
    return params


def _lengths_mask(lengths, T, S):
    """(N, T, S): key s allowed iff s < lengths[n]."""
    keys = np.arange(S)[None, :] < np.asarray(lengths)[:, None]  # (N, S)
    return np.repeat(keys[:, None, :], T, axis=1)


def _masks(N, T, S, seed):
    rng = np.random.default_rng(seed)
    src_len = rng.integers(1, S + 1, size=N)
    src_len[0] = S
    tgt_len = rng.integers(1, T + 1, size=N)
    tgt_len[0] = T
    self_mask = causal_mask(T)[None] & _lengths_mask(tgt_len, T, T)
    self_mask[:, :, 0] = True  # a padded query still needs one key; its output is ignored
    return self_mask, _lengths_mask(src_len, T, S)


def _encoder(N, T, D, H, heads, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D))
    mask = _lengths_mask([T] + [max(1, T - 2 * n) for n in range(1, N)], T, T)
    return x, mask, _params(encoder_layer_keys(), D, H, seed), rng.normal(size=(N, T, D))


def _decoder(N, T, S, D, H, seed):
    rng = np.random.default_rng(seed)
    x, memory = rng.normal(size=(N, T, D)), rng.normal(size=(N, S, D))
    self_mask, cross_mask = _masks(N, T, S, seed)
    params = _params(decoder_layer_keys(), D, H, seed)
    return x, memory, self_mask, cross_mask, params, rng.normal(size=(N, T, D))


SIZES = [
    pytest.param((N, T, S, D, H, HEADS), id="distinct"),
    pytest.param((1, 1, 3, 6, 5, 3), id="N1-T1"),
    pytest.param((2, 50, 40, 8, 6, 2), id="long"),
]


@pytest.mark.parametrize("sizes", SIZES)
def test_encoder_layer_equals_torch(sizes):
    n, t, _, d, h, heads = sizes
    x, mask, params, dy = _encoder(n, t, d, h, heads, seed=1)
    y, cache = encoder_layer_forward(x, mask, params, heads)
    dx, grads = encoder_layer_backward(dy, cache)
    layer = torch_layer(params, heads, decoder=False)
    tx = t64(x, grad=True)
    ref = layer(tx, src_mask=torch_mask(mask, heads))
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    ref_grads = torch_layer_grads(layer, decoder=False)
    assert list(grads) == list(encoder_layer_keys())
    for k in grads:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("sizes", SIZES)
def test_decoder_layer_equals_torch(sizes):
    n, t, s, d, h, heads = sizes
    x, memory, self_mask, cross_mask, params, dy = _decoder(n, t, s, d, h, seed=2)
    y, cache = decoder_layer_forward(x, memory, self_mask, cross_mask, params, heads)
    dx, dmemory, grads = decoder_layer_backward(dy, cache)
    layer = torch_layer(params, heads, decoder=True)
    tx, tm = t64(x, grad=True), t64(memory, grad=True)
    ref = layer(tx, tm, tgt_mask=torch_mask(self_mask, heads),
                memory_mask=torch_mask(cross_mask, heads))  # fmt: skip
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dmemory, tm.grad.numpy(), rtol=1e-9, atol=1e-11)
    ref_grads = torch_layer_grads(layer, decoder=True)
    assert list(grads) == list(decoder_layer_keys())
    for k in grads:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-9, atol=1e-11, err_msg=k)


def _check_central_differences(forward, arrays, params, grads_of_arrays, grads, dy):
    """Every array input and every parameter against central differences of sum(dy * y)."""
    keys = list(params)

    def f(*args):
        return forward(*args[: len(arrays)], dict(zip(keys, args[len(arrays) :], strict=True)))

    args = [*arrays, *(params[k] for k in keys)]
    expected = [*grads_of_arrays, *(grads[k] for k in keys)]
    for i, (name, g) in enumerate(zip(["input"] * len(arrays) + keys, expected, strict=True)):
        num = numerical_gradient(f, args, i, dy)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8, err_msg=name)
        if not name.endswith(".bk"):  # dL/dbk = 0 exactly (the softmax ignores a shift per row)
            assert relative_error(g, num) < 1e-6, name


def test_encoder_layer_backward_equals_central_differences():
    x, mask, params, dy = _encoder(2, 4, 6, 5, 3, seed=3)
    _, cache = encoder_layer_forward(x, mask, params, 3)
    dx, grads = encoder_layer_backward(dy, cache)
    _check_central_differences(lambda x, p: encoder_layer_forward(x, mask, p, 3)[0], [x], params,
                               [dx], grads, dy)  # fmt: skip


def test_decoder_layer_backward_equals_central_differences():
    x, memory, self_mask, cross_mask, params, dy = _decoder(2, 3, 4, 6, 5, seed=4)
    _, cache = decoder_layer_forward(x, memory, self_mask, cross_mask, params, 3)
    dx, dmemory, grads = decoder_layer_backward(dy, cache)

    def forward(x, memory, p):
        return decoder_layer_forward(x, memory, self_mask, cross_mask, p, 3)[0]

    _check_central_differences(forward, [x, memory], params, [dx, dmemory], grads, dy)


def test_feed_forward_equals_torch_autograd():
    rng = np.random.default_rng(5)
    x, dy = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, D))
    W1, b1, W2, b2 = (rng.normal(size=s) for s in ((D, H), (H,), (H, D), (D,)))
    y, cache = feed_forward_forward(x, W1, b1, W2, b2)
    grads = feed_forward_backward(dy, cache)
    tensors = [t64(a, grad=True) for a in (x, W1, b1, W2, b2)]
    tx, tW1, tb1, tW2, tb2 = tensors
    ref = torch.relu(tx @ tW1 + tb1) @ tW2 + tb2
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-12)
    for g, t in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_decoder_output_t_ignores_target_inputs_after_t():
    x, memory, _, cross_mask, params, _ = _decoder(N, T, S, D, H, seed=6)
    self_mask = np.broadcast_to(causal_mask(T), (N, T, T))
    y, _ = decoder_layer_forward(x, memory, self_mask, cross_mask, params, HEADS)
    for t in range(T - 1):
        changed = x.copy()
        changed[:, t + 1 :] += 5.0
        y2, _ = decoder_layer_forward(changed, memory, self_mask, cross_mask, params, HEADS)
        np.testing.assert_array_equal(y2[:, : t + 1], y[:, : t + 1])
        assert not np.allclose(y2[:, t + 1 :], y[:, t + 1 :])


def test_padded_source_positions_change_nothing():
    x, memory, self_mask, _, params, dy = _decoder(N, T, S, D, H, seed=7)
    cross_mask = _lengths_mask([S, 3], T, S)
    y, cache = decoder_layer_forward(x, memory, self_mask, cross_mask, params, HEADS)
    _, dmemory, grads = decoder_layer_backward(dy, cache)
    noisy = memory.copy()
    noisy[1, 3:] = 1e3
    y2, cache2 = decoder_layer_forward(x, noisy, self_mask, cross_mask, params, HEADS)
    _, dmemory2, grads2 = decoder_layer_backward(dy, cache2)
    np.testing.assert_array_equal(y2, y)
    assert np.all(dmemory2[1, 3:] == 0)
    for k in grads:
        np.testing.assert_allclose(grads2[k], grads[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_padded_encoder_keys_change_nothing_for_real_positions():
    x, mask, params, _ = _encoder(N, T, D, H, HEADS, seed=8)
    mask = _lengths_mask([T, 2], T, T)
    y, _ = encoder_layer_forward(x, mask, params, HEADS)
    changed = x.copy()
    changed[1, 2:] = -7.0
    np.testing.assert_array_equal(encoder_layer_forward(changed, mask, params, HEADS)[0][1, :2],
                                  y[1, :2])  # fmt: skip


def test_float32_stays_float32():
    x, mask, params, dy = _encoder(N, T, D, H, HEADS, seed=9)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    y, cache = encoder_layer_forward(x.astype(np.float32), mask, p32, HEADS)
    dx, grads = encoder_layer_backward(dy.astype(np.float32), cache)
    assert y.dtype == dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    np.testing.assert_allclose(
        y, encoder_layer_forward(x, mask, params, HEADS)[0], rtol=1e-4, atol=1e-4
    )


def test_init_layer_shapes():
    params = init_layer(decoder_layer_keys(), D, H, np.random.default_rng(0))
    assert params["ffn.W1"].shape == (D, H) and params["ffn.W2"].shape == (H, D)
    assert params["cross_attn.Wv"].shape == (D, D) and params["norm3.beta"].shape == (D,)
    np.testing.assert_array_equal(params["norm2.gamma"], 1.0)


def test_bad_input_gets_a_sentence():
    x, mask, params, _ = _encoder(N, T, D, H, HEADS, seed=10)
    with pytest.raises(KeyError, match=r"params lacks \['ffn.b2'\]"):
        encoder_layer_forward(x, mask, {k: v for k, v in params.items() if k != "ffn.b2"}, HEADS)
    with pytest.raises(ShapeError, match="ffn.W2 should have shape"):
        encoder_layer_forward(x, mask, {**params, "ffn.W2": np.ones((H + 1, D))}, HEADS)
    with pytest.raises(ShapeError, match=r"x should have 3 dimension\(s\)"):
        encoder_layer_forward(x[0], mask, params, HEADS)
    with pytest.raises(TypeError, match="x must be a float array"):
        encoder_layer_forward(x.astype(int), mask, params, HEADS)
    with pytest.raises(TypeError, match="mask must be boolean"):
        encoder_layer_forward(x, mask.astype(float), params, HEADS)
    dec = _decoder(N, T, S, D, H, seed=11)
    with pytest.raises(ShapeError, match="memory should have shape"):
        decoder_layer_forward(dec[0], dec[1][:, :, :-1], *dec[2:5], HEADS)
