"""NumPy attention against float64 finite differences and torch autograd, plus its properties."""

import math

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.attention import (
    additive_attention_backward,
    additive_attention_forward,
    dot_attention_backward,
    dot_attention_forward,
    general_attention_backward,
    general_attention_forward,
    masked_softmax,
)
from s2s_ref.shapes import ShapeError

from .conftest import N

# All different from each other and from N (= 3), so a swapped axis cannot pass a shape check.
S, HQ, HK, HV, A = 5, 6, 4, 7, 8
KINDS = ["dot", "scaled", "general", "additive"]


def _mask():
    """Row 0: 3 real keys then padding; row 1: all real; row 2: a single real key."""
    lengths = np.array([3, S, 1])
    return np.arange(S)[None, :] < lengths[:, None]


def _problem(kind, rng, dtype=np.float64):
    """-> forward(q, k, v, mask, *params), backward, (q, k, v, mask, *params)"""
    hk = HQ if kind in ("dot", "scaled") else HK
    q = rng.normal(size=(N, HQ)).astype(dtype)
    k = rng.normal(size=(N, S, hk)).astype(dtype)
    v = rng.normal(size=(N, S, HV)).astype(dtype)
    if kind == "dot":
        return dot_attention_forward, dot_attention_backward, (q, k, v, _mask())
    if kind == "scaled":

        def forward(q, k, v, mask):
            return dot_attention_forward(q, k, v, mask, scale=True)

        return forward, dot_attention_backward, (q, k, v, _mask())
    if kind == "general":
        W = rng.normal(size=(HQ, HK)).astype(dtype) * 0.5
        return general_attention_forward, general_attention_backward, (q, k, v, _mask(), W)
    Wq = rng.normal(size=(HQ, A)).astype(dtype) * 0.5
    Wk = rng.normal(size=(HK, A)).astype(dtype) * 0.5
    w = rng.normal(size=A).astype(dtype)
    return additive_attention_forward, additive_attention_backward, (q, k, v, _mask(), Wq, Wk, w)


def _torch_attention(kind, q, k, v, mask, *params):
    """The same equations in torch ops, with torch's own masked_fill(-inf) + softmax."""
    if kind in ("dot", "scaled"):
        scores = torch.einsum("nh,nsh->ns", q, k)
        if kind == "scaled":
            scores = scores / math.sqrt(k.shape[-1])
    elif kind == "general":
        scores = torch.einsum("nh,hk,nsk->ns", q, params[0], k)
    else:
        Wq, Wk, w = params
        scores = torch.tanh((q @ Wq)[:, None, :] + k @ Wk) @ w
    weights = torch.softmax(scores.masked_fill(~torch.from_numpy(mask), -torch.inf), dim=1)
    return torch.einsum("ns,nsv->nv", weights, v), weights


def _grad_indices(args):
    return [i for i, a in enumerate(args) if i != 3]  # every array but the mask


@pytest.mark.parametrize("kind", KINDS)
def test_shapes(kind, rng):
    forward, backward, args = _problem(kind, rng)
    context, weights, cache = forward(*args)
    assert context.shape == (N, HV) and weights.shape == (N, S)
    grads = backward(rng.normal(size=(N, HV)), cache)
    assert [g.shape for g in grads] == [args[i].shape for i in _grad_indices(args)]


@pytest.mark.parametrize("kind", KINDS)
def test_backward_against_finite_differences(kind, rng):
    forward, backward, args = _problem(kind, rng)
    dcontext = rng.normal(size=(N, HV))
    _, _, cache = forward(*args)
    grads = backward(dcontext, cache)
    for g, i in zip(grads, _grad_indices(args), strict=True):
        num = numerical_gradient(lambda *a: forward(*a)[0], args, i, dcontext)
        assert relative_error(g, num) < 1e-8, f"gradient of argument {i}"


@pytest.mark.parametrize("kind", KINDS)
def test_forward_and_backward_match_torch_autograd(kind, rng):
    forward, backward, args = _problem(kind, rng)
    dcontext = rng.normal(size=(N, HV))
    context, weights, cache = forward(*args)
    grads = backward(dcontext, cache)
    tensors = [torch.tensor(args[i], requires_grad=True) for i in _grad_indices(args)]
    t_context, t_weights = _torch_attention(kind, *tensors[:3], args[3], *tensors[3:])
    t_context.backward(torch.from_numpy(dcontext))
    np.testing.assert_allclose(context, t_context.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(weights, t_weights.detach().numpy(), atol=1e-12)
    for g, t in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_rows_sum_to_one_and_padding_gets_exactly_zero(kind, rng):
    forward, _, args = _problem(kind, rng)
    _, weights, _ = forward(*args)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(weights[~args[3]] == 0.0)
    assert np.all(weights[args[3]] > 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_single_real_key_takes_all_the_weight(kind, rng):
    forward, _, args = _problem(kind, rng)
    context, weights, _ = forward(*args)
    np.testing.assert_array_equal(weights[2], np.eye(S)[0])  # row 2 has one real key
    np.testing.assert_allclose(context[2], args[2][2, 0], rtol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_permuting_the_keys_permutes_the_weights(kind, rng):
    forward, _, (q, k, v, mask, *params) = _problem(kind, rng)
    mask = np.ones_like(mask)
    perm = rng.permutation(S)
    context, weights, _ = forward(q, k, v, mask, *params)
    p_context, p_weights, _ = forward(q, k[:, perm], v[:, perm], mask, *params)
    np.testing.assert_allclose(p_weights, weights[:, perm], rtol=1e-12)
    np.testing.assert_allclose(p_context, context, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_padded_keys_and_values_change_nothing(kind, rng):
    """Large finite garbage in padded positions: same outputs and gradients, 0 gradient there."""
    forward, backward, args = _problem(kind, rng)
    q, k, v, mask, *params = args
    dcontext = rng.normal(size=(N, HV))
    k2, v2 = k.copy(), v.copy()
    k2[~mask] = rng.normal(size=k2[~mask].shape) * 1e3
    v2[~mask] = rng.normal(size=v2[~mask].shape) * 1e3
    context, weights, cache = forward(*args)
    context2, weights2, cache2 = forward(q, k2, v2, mask, *params)
    np.testing.assert_array_equal(weights, weights2)
    np.testing.assert_allclose(context, context2, rtol=1e-14)
    grads, grads2 = backward(dcontext, cache), backward(dcontext, cache2)
    for i, (g, g2) in enumerate(zip(grads, grads2, strict=True)):
        np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-14, err_msg=f"gradient {i}")
    assert np.all(grads2[1][~mask] == 0) and np.all(grads2[2][~mask] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_huge_scores_stay_finite_and_match_torch(kind, rng):
    forward, _, (q, k, v, mask, *params) = _problem(kind, rng)
    q = q * 1e4  # scores of order 1e4: a naive exp overflows
    context, weights, _ = forward(q, k, v, mask, *params)
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    t = [torch.from_numpy(a) for a in (q, k, v)]
    t_context, _ = _torch_attention(kind, *t, mask, *map(torch.from_numpy, params))
    np.testing.assert_allclose(context, t_context.numpy(), atol=1e-10)


def test_scaled_dot_divides_the_scores_by_the_root_of_the_key_size(rng):
    _, _, (q, k, v, mask) = _problem("dot", rng)
    scaled, _, _ = dot_attention_forward(q, k, v, mask, scale=True)
    by_hand, _, _ = dot_attention_forward(q / np.sqrt(HQ), k, v, mask)
    np.testing.assert_allclose(scaled, by_hand, rtol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_without_real_keys_is_an_error_not_nan(kind, rng):
    forward, _, (q, k, v, mask, *params) = _problem(kind, rng)
    mask = mask.copy()
    mask[1] = False
    with pytest.raises(ValueError, match=r"row\(s\) \[1\] have no real key"):
        forward(q, k, v, mask, *params)


def test_a_non_boolean_mask_is_an_error(rng):
    _, _, (q, k, v, mask) = _problem("dot", rng)
    with pytest.raises(TypeError, match="boolean"):
        dot_attention_forward(q, k, v, mask.astype(int))


def test_shape_errors_name_the_argument(rng):
    _, _, (q, k, v, mask, Wq, Wk, w) = _problem("additive", rng)
    with pytest.raises(ShapeError, match="Wk"):
        additive_attention_forward(q, k, v, mask, Wq, Wk.T, w)
    with pytest.raises(ShapeError, match="k"):
        dot_attention_forward(q, k, v, mask)  # Hk = 4 differs from Hq = 6
    with pytest.raises(ShapeError, match="mask"):
        general_attention_forward(q, k, v, mask[:, :-1], np.zeros((HQ, HK)))


def test_masked_softmax_ignores_padded_inf_and_nan():
    scores = np.array([[1.0, np.inf, np.nan], [0.0, 0.0, -np.inf]])
    mask = np.array([[True, False, False], [True, True, False]])
    np.testing.assert_array_equal(masked_softmax(scores, mask), [[1, 0, 0], [0.5, 0.5, 0]])


@pytest.mark.parametrize("kind", KINDS)
def test_float32_in_float32_out(kind, rng):
    forward, backward, args = _problem(kind, rng, np.float32)
    context, weights, cache = forward(*args)
    assert context.dtype == weights.dtype == np.float32
    grads = backward(np.ones((N, HV), np.float32), cache)
    assert all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_are_not_modified(kind, rng):
    forward, backward, args = _problem(kind, rng)
    before = [a.copy() for a in args]
    _, _, cache = forward(*args)
    backward(np.ones((N, HV)), cache)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)
