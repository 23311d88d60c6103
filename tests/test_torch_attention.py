"""torch_nn attention against the NumPy reference (float64, identical weights): outputs, weights
and gradients; batched queries against one query at a time; masking properties."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn import attention as att
from s2s_ref.torch_nn.attention import (
    AdditiveScore,
    DotScore,
    GeneralScore,
    PooledScore,
    make_score,
    masked_softmax,
)

from .conftest import D, E, H, N

S, Hk, Hv, A, T = 5, 4, 7, 8, 2  # q is (N, H) = (3, 6); all sizes distinct except dot's Hq = Hk
TOL = 1e-6


def _module(name, Hq):
    return {
        "dot": lambda: DotScore(),
        "scaled_dot": lambda: DotScore(scale=True),
        "general": lambda: GeneralScore(Hq, Hk),
        "additive": lambda: AdditiveScore(Hq, Hk, A),
        "pooled": lambda: PooledScore(Hk, A),
    }[name]().double()


NUMPY = {
    "dot": (att.dot_attention_forward, att.dot_attention_backward, (), {}),
    "scaled_dot": (att.dot_attention_forward, att.dot_attention_backward, (), {"scale": True}),
    "general": (att.general_attention_forward, att.general_attention_backward, ("W",), {}),
    "additive": (
        att.additive_attention_forward,
        att.additive_attention_backward,
        ("Wq", "Wk", "w"),
        {},
    ),
    "pooled": (att.pooled_attention_forward, att.pooled_attention_backward, ("Wk", "w"), {}),
}


def _inputs(rng, name):
    Hq = Hk if name.endswith("dot") else H
    q, k, v = rng.normal(size=(N, Hq)), rng.normal(size=(N, S, Hk)), rng.normal(size=(N, S, Hv))
    mask = np.arange(S)[None, :] < np.array([S, 3, 1])[:, None]
    return Hq, q, k, v, mask


def _leaf(a):
    return torch.from_numpy(np.array(a)).requires_grad_()


@pytest.mark.parametrize("name", list(NUMPY))
def test_parity_with_numpy_outputs_and_gradients(rng, name):
    Hq, q, k, v, mask = _inputs(rng, name)
    module = _module(name, Hq)
    forward, backward, pnames, kwargs = NUMPY[name]
    params = [getattr(module, p).detach().numpy().copy() for p in pnames]
    ctx_np, w_np, cache = forward(q, k, v, mask, *params, **kwargs)
    dctx = rng.normal(size=ctx_np.shape)
    grads_np = backward(dctx, cache)

    tq, tk, tv = _leaf(q), _leaf(k), _leaf(v)
    ctx, w = module(tq, tk, tv, torch.from_numpy(mask))
    ctx.backward(torch.from_numpy(dctx))
    np.testing.assert_allclose(ctx.detach().numpy(), ctx_np, atol=TOL)
    np.testing.assert_allclose(w.detach().numpy(), w_np, atol=TOL)
    dq = torch.zeros_like(tq) if tq.grad is None else tq.grad  # pooled: q is not used at all
    ours = [dq, tk.grad, tv.grad] + [getattr(module, p).grad for p in pnames]
    for label, a, b in zip(["dq", "dk", "dv", *pnames], ours, grads_np, strict=True):
        np.testing.assert_allclose(a.numpy(), b, atol=TOL, err_msg=label)


@pytest.mark.parametrize("name", list(NUMPY))
def test_batched_queries_equal_one_query_at_a_time(rng, name):
    Hq, _, k, v, mask = _inputs(rng, name)
    module = _module(name, Hq)
    q = rng.normal(size=(N, T, Hq))
    tk, tv, tm = torch.from_numpy(k), torch.from_numpy(v), torch.from_numpy(mask)
    ctx, w = module(torch.from_numpy(q), tk, tv, tm)
    assert ctx.shape == (N, T, Hv) and w.shape == (N, T, S)
    for t in range(T):
        ctx_t, w_t = module(torch.from_numpy(q[:, t]), tk, tv, tm)
        torch.testing.assert_close(ctx[:, t], ctx_t, rtol=0, atol=1e-12)
        torch.testing.assert_close(w[:, t], w_t, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(NUMPY))
def test_padded_keys_get_exactly_zero_weight_and_gradient(rng, name):
    Hq, q, k, v, mask = _inputs(rng, name)
    module = _module(name, Hq)
    tm = torch.from_numpy(mask)
    tk, tv = _leaf(k), _leaf(v)
    ctx, w = module(torch.from_numpy(q), tk, tv, tm)
    assert (w[~tm] == 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(N, dtype=w.dtype))
    ctx.sum().backward()
    assert (tk.grad[~tm] == 0).all() and (tv.grad[~tm] == 0).all()
    # garbage behind the mask (huge, inf, NaN) changes nothing
    k2, v2 = k.copy(), v.copy()
    k2[~mask], v2[~mask] = np.nan, 1e30  # 0 * 1e30 = 0; values are not masked
    k2[2, 1] = np.inf
    ctx2, w2 = module(torch.from_numpy(q), torch.from_numpy(k2), torch.from_numpy(v2), tm)
    assert torch.equal(w2, w.detach()) or torch.allclose(w2, w.detach(), atol=0)
    np.testing.assert_array_equal(ctx2.detach().numpy(), ctx.detach().numpy())


def test_masked_softmax_is_exact_zero_and_ignores_nan():
    scores = torch.tensor([[[1.0, float("nan"), 1.0]]])
    w = masked_softmax(scores, torch.tensor([[True, False, True]]))
    assert w.tolist() == [[[0.5, 0.0, 0.5]]]


def test_bad_masks_and_shapes_are_reported(rng):
    _, q, k, v, mask = _inputs(rng, "general")
    module = GeneralScore(H, Hk).double()
    args = torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v)
    empty = mask.copy()
    empty[1] = False
    with pytest.raises(ValueError, match=r"row\(s\) \[1\] have no real key"):
        module(*args, torch.from_numpy(empty))
    with pytest.raises(ValueError, match="boolean"):
        module(*args, torch.from_numpy(mask.astype(np.int64)))
    with pytest.raises(ValueError, match="Hq == Hk"):
        make_score("dot", H, Hk)
    with pytest.raises(ValueError, match="unknown score"):
        make_score("cosine", H, Hk)
    with pytest.raises(ValueError, match="expected q"):
        module(args[0], args[1][:, :, :, None], args[2], torch.from_numpy(mask))


def test_pooled_weights_ignore_the_query(rng):
    module = PooledScore(D, E).double()
    k = torch.from_numpy(rng.normal(size=(N, S, D)))
    mask = torch.ones(N, S, dtype=torch.bool)
    _, w = module(torch.from_numpy(rng.normal(size=(N, T, H))), k, k, mask)
    torch.testing.assert_close(w[:, 0], w[:, 1], rtol=0, atol=0)
