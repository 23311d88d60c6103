"""NumPy multi-head attention against torch.nn.MultiheadAttention (copied weights), float64
central differences and torch autograd; masks (padding, causality), positions, bad input."""

import math

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.multihead import (
    causal_mask,
    multi_head_attention_backward,
    multi_head_attention_forward,
    positional_encoding,
)
from s2s_ref.shapes import ShapeError

from .transformer_oracles import ATTN, load_mha_, mha_grads, t64, torch_mask

# N, T, S, D, heads and D / heads all different: a swapped axis cannot pass unnoticed.
N, T, S, D, HEADS = 2, 5, 7, 12, 4
GRAD_NAMES = ("dq", "dkv", *(f"d{k}" for k in ATTN))


def _weights(rng, D, dtype=np.float64):
    W = {k: rng.normal(scale=1 / math.sqrt(D), size=(D, D)) for k in ATTN if k[0] == "W"}
    W.update({k: rng.normal(scale=0.3, size=D) for k in ATTN if k[0] == "b"})
    return {k: v.astype(dtype) for k, v in W.items()}


def _padding_mask(N, T, S, lengths):
    """(N, T, S): key s allowed iff s < lengths[n], for every query."""
    return np.broadcast_to(
        np.arange(S)[None, None, :] < np.asarray(lengths)[:, None, None], (N, T, S)
    )


def _problem(seed, N=N, T=T, S=S, D=D, mask=None):
    rng = np.random.default_rng(seed)
    q, kv = rng.normal(size=(N, T, D)), rng.normal(size=(N, S, D))
    if mask is None:  # row 0 padded after 3 keys, every other row ragged too, plus random holes
        lengths = [3] + [max(1, S - n) for n in range(1, N)]
        mask = _padding_mask(N, T, S, lengths) & (rng.random((N, T, S)) < 0.8)
        mask[:, :, 0] = True  # every query keeps one key
    return q, kv, np.ascontiguousarray(mask), _weights(rng, D), rng.normal(size=(N, T, D))


def _forward(q, kv, mask, W, n_heads=HEADS):
    return multi_head_attention_forward(q, kv, mask, *(W[k] for k in ATTN), n_heads)


def _torch(q, kv, mask, W, n_heads=HEADS, dout=None):
    """torch.nn.MultiheadAttention, float64, same weights -> out, weights (N, heads, T, S), grads"""
    mha = torch.nn.MultiheadAttention(q.shape[2], n_heads, batch_first=True, dtype=torch.float64)
    load_mha_(mha, W)
    tq, tkv = t64(q, grad=True), t64(kv, grad=True)
    out, weights = mha(
        tq,
        tkv,
        tkv,
        attn_mask=torch_mask(mask, n_heads),
        need_weights=True,
        average_attn_weights=False,
    )
    grads = None
    if dout is not None:
        out.backward(torch.from_numpy(dout))
        grads = {"dq": tq.grad.numpy(), "dkv": tkv.grad.numpy()}
        grads.update({f"d{k}": g for k, g in mha_grads(mha).items()})
    return out.detach().numpy(), weights.detach().numpy(), grads


SIZES = [
    pytest.param(dict(N=N, T=T, S=S, D=D), HEADS, id="distinct"),
    pytest.param(dict(N=1, T=1, S=S, D=D), 3, id="N1-T1"),
    pytest.param(dict(N=3, T=1, S=1, D=6), 3, id="one-key"),
    pytest.param(dict(N=2, T=60, S=45, D=8), 2, id="long"),
]


@pytest.mark.parametrize("sizes, n_heads", SIZES)
def test_equals_torch_multihead_attention_outputs_and_gradients(sizes, n_heads):
    q, kv, mask, W, dout = _problem(0, **sizes)
    out, weights, cache = _forward(q, kv, mask, W, n_heads)
    ref_out, ref_weights, ref_grads = _torch(q, kv, mask, W, n_heads, dout)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-10, atol=1e-12)
    grads = multi_head_attention_backward(dout, cache)
    for name, g in zip(GRAD_NAMES, grads, strict=True):
        np.testing.assert_allclose(g, ref_grads[name], rtol=1e-9, atol=1e-11, err_msg=name)


def test_self_attention_equals_torch_with_query_as_keys():
    q, _, _, W, dout = _problem(1, S=T)
    mask = np.broadcast_to(causal_mask(T), (N, T, T))
    out, _, cache = _forward(q, q, mask, W)
    ref_out, _, ref = _torch(q, q, mask, W, dout=dout)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    dq, dkv, *_ = multi_head_attention_backward(dout, cache)
    tq = t64(q, grad=True)  # one leaf used as query, key and value: autograd adds the paths
    mha = torch.nn.MultiheadAttention(D, HEADS, batch_first=True, dtype=torch.float64)
    load_mha_(mha, W)
    mha(tq, tq, tq, attn_mask=torch_mask(mask, HEADS))[0].backward(torch.from_numpy(dout))
    np.testing.assert_allclose(dq + dkv, tq.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_backward_equals_central_differences():
    q, kv, mask, W, dout = _problem(2, N=2, T=3, S=4, D=6)
    _, _, cache = _forward(q, kv, mask, W, 3)
    grads = multi_head_attention_backward(dout, cache)

    def f(q, kv, *params):
        return _forward(q, kv, mask, dict(zip(ATTN, params, strict=True)), 3)[0]

    args = [q, kv, *(W[k] for k in ATTN)]
    for i, (name, g) in enumerate(zip(GRAD_NAMES, grads, strict=True)):
        num = numerical_gradient(f, args, i, dout)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8, err_msg=name)
        if name != "dbk":  # 0 in theory: q . bk adds the same to every score of a row
            assert relative_error(g, num) < 1e-6, name
    np.testing.assert_allclose(grads[GRAD_NAMES.index("dbk")], 0, atol=1e-12)


def test_weights_are_exactly_zero_where_not_allowed_and_rows_sum_to_one():
    q, kv, mask, W, _ = _problem(3)
    _, weights, _ = _forward(q, kv, mask, W)
    assert weights.shape == (N, HEADS, T, S)
    assert np.all(weights[np.broadcast_to(~mask[:, None], weights.shape)] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


def test_padded_keys_change_nothing_even_when_huge():
    q, kv, mask, W, dout = _problem(4, mask=_padding_mask(N, T, S, [3, 5]))
    out, weights, cache = _forward(q, kv, mask, W)
    grads = multi_head_attention_backward(dout, cache)
    noisy = kv.copy()
    noisy[0, 3:] = 1e4 * np.random.default_rng(5).normal(size=(S - 3, D))
    noisy[1, 5:] = -1e4
    out2, weights2, cache2 = _forward(q, noisy, mask, W)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(weights2, weights)
    dkv = multi_head_attention_backward(dout, cache2)[1]
    assert np.all(dkv[0, 3:] == 0) and np.all(dkv[1, 5:] == 0)
    np.testing.assert_allclose(dkv, grads[1], rtol=1e-12, atol=1e-12)


def test_under_the_causal_mask_output_t_ignores_inputs_after_t():
    q, _, _, W, _ = _problem(6, S=T)
    mask = np.broadcast_to(causal_mask(T), (N, T, T))
    out, _, _ = _forward(q, q, mask, W)
    for t in range(T - 1):
        changed = q.copy()
        changed[:, t + 1 :] = np.random.default_rng(t).normal(size=changed[:, t + 1 :].shape)
        np.testing.assert_array_equal(
            _forward(changed, changed, mask, W)[0][:, : t + 1], out[:, : t + 1]
        )


def test_batch_rows_are_independent():
    q, kv, mask, W, _ = _problem(7, N=3)
    out, _, _ = _forward(q, kv, mask, W)
    for n in range(3):
        alone, _, _ = _forward(q[n : n + 1], kv[n : n + 1], mask[n : n + 1], W)
        np.testing.assert_allclose(alone[0], out[n], rtol=1e-12, atol=1e-14)


def test_float32_in_float32_out():
    q, kv, mask, W, dout = _problem(8)
    W32 = {k: v.astype(np.float32) for k, v in W.items()}
    out, weights, cache = _forward(q.astype(np.float32), kv.astype(np.float32), mask, W32)
    assert out.dtype == weights.dtype == np.float32
    assert all(
        g.dtype == np.float32 for g in multi_head_attention_backward(dout.astype(np.float32), cache)
    )
    np.testing.assert_allclose(out, _forward(q, kv, mask, W)[0], rtol=1e-4, atol=1e-5)


def test_inputs_are_not_written():
    q, kv, mask, W, dout = _problem(9)
    before = [a.copy() for a in (q, kv, mask, dout, *W.values())]
    _, _, cache = _forward(q, kv, mask, W)
    multi_head_attention_backward(dout, cache)
    for a, b in zip((q, kv, mask, dout, *W.values()), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_query_with_no_allowed_key_is_an_error_not_nan():
    q, kv, mask, W, _ = _problem(10)
    mask[1, 2] = False
    with pytest.raises(ValueError, match=r"may attend to no key .*\(n=1, t=2\)"):
        _forward(q, kv, mask, W)


def _bad(seed=11):
    q, kv, mask, W, _ = _problem(seed)
    return dict(q=q, kv=kv, mask=mask, W=W)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(q=np.ones((N, T))), ShapeError, r"q should have 3 dimension\(s\) \(N T D\)"),
        (dict(kv=np.ones((N, S, D + 1))), ShapeError, "kv should have shape"),
        (dict(kv=np.ones((N + 1, S, D))), ShapeError, "kv should have shape"),
        (dict(mask=np.ones((N, S, T), dtype=bool)), ShapeError, "mask should have shape"),
        (dict(mask=np.ones((N, T, S))), TypeError, "mask must be boolean"),
        (dict(q=np.ones((N, T, D), dtype=np.int64)), TypeError, "q must be a float array"),
        (dict(W="Wo:transpose"), ShapeError, "Wo should have shape"),
        (dict(n_heads=5), ValueError, "n_heads must be a positive divisor of D = 12"),
        (dict(n_heads=0), ValueError, "n_heads must be a positive divisor"),
    ],
)
def test_bad_input_gets_a_sentence(change, error, match):
    args = _bad()
    n_heads = change.pop("n_heads", HEADS)
    if change.get("W") == "Wo:transpose":
        args["W"]["Wo"] = np.ones((D, D - 1))
        change = {}
    args.update(change)
    with pytest.raises(error, match=match):
        _forward(args["q"], args["kv"], args["mask"], args["W"], n_heads)


def test_positional_encoding_equals_the_formula_written_out():
    for T_, D_ in [(9, 6), (4, 7), (1, 1), (0, 4)]:
        pe = positional_encoding(T_, D_)
        assert pe.shape == (T_, D_)
        for t in range(T_):
            for j in range(D_):
                angle = t / 10000 ** ((j - j % 2) / D_)
                expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
                assert pe[t, j] == pytest.approx(expected, abs=1e-12)


def test_positional_encoding_dot_products_depend_only_on_the_offset():
    pe = positional_encoding(40, 16)
    for k in (1, 3, 7):
        dots = (pe[:-k] * pe[k:]).sum(axis=1)  # <PE[t], PE[t + k]> for every t
        np.testing.assert_allclose(dots, dots[0], rtol=1e-12)


def test_causal_mask_is_the_lower_triangle():
    for T_ in (1, 4, 9):
        m = causal_mask(T_)
        assert m.dtype == bool and m.shape == (T_, T_)
        assert all(m[t, s] == (s <= t) for t in range(T_) for s in range(T_))
    with pytest.raises(ValueError, match="T must be an integer >= 0"):
        causal_mask(-1)
    with pytest.raises(TypeError, match="must be integers"):
        positional_encoding(3.0, 4)
