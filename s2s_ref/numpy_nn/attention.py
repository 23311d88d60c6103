"""Attention: score every key against a query, softmax over real keys, read the weighted values.

Three scoring functions share one masked softmax and one read-out, forward and backward:

    score_s = q . k_s                   (dot; scaled by 1 / sqrt(Hk) on request)
    score_s = q W k_s                   (general)
    score_s = w . tanh(q Wq + k_s Wk)   (additive)
    a = softmax(score over the real keys),  context = sum_s a_s v_s

A fourth, ``pooled_attention_forward``, ignores the query: it is learned pooling, not attention,
and is here so that chapter 5 can show how to tell the two apart.

Book: chapter 5, "Scoring functions" and "Attention, backward".
"""

import numpy as np

from s2s_ref.shapes import as_float, check_shapes


def masked_softmax(scores, mask):
    """Softmax of each row over its real positions; padded positions get exactly 0.

    scores: (N, S), mask: (N, S) bool, True = real -> weights: (N, S), rows summing to 1.
    Stable: the row maximum over real positions is subtracted first. Padded scores are never
    exponentiated (not even as -inf), so a padded score that is huge, inf or NaN changes nothing.
    A row without a real key has no distribution: it raises ValueError instead of giving NaN.
    Integer scores are computed exactly in float64 (see shapes.as_float), never truncated.
    Book: chapter 5, "Masking".
    """
    check_shapes("masked_softmax", scores=(scores, "N S"), mask=(mask, "N S"))
    (scores,) = as_float("masked_softmax", scores=scores)
    mask = _real_rows(mask)
    row_max = np.where(mask, scores, -np.inf).max(axis=1, keepdims=True)  # finite: one real key
    e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0).astype(scores.dtype)
    weights = e / e.sum(axis=1, keepdims=True)
    return weights


def _real_rows(mask):
    """The mask as a boolean array; TypeError if it is not boolean, ValueError naming the rows
    that have no real key (a softmax over nothing is undefined)."""
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"attention: mask must be boolean (True = real key), got {mask.dtype}")
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(
            f"attention: batch row(s) {empty.tolist()} have no real key (mask all False); "
            "a softmax over nothing is undefined"
        )
    return mask


def masked_softmax_backward(dweights, weights):
    """Backward of the softmax: dscore_s = a_s (g_s - sum_j a_j g_j), with g = dL/da.

    dweights: (N, S), weights: (N, S) -> dscores: (N, S); 0 on padded positions, where a_s = 0.
    Book: chapter 5, "Attention, backward".
    """
    check_shapes("masked_softmax_backward", dweights=(dweights, "{} {}".format(*np.shape(weights))))
    dweights, weights = as_float("masked_softmax_backward", dweights=dweights, weights=weights)
    dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))
    return dscores


def _real_keys(func, q, k, v, mask, **params):
    """The float arrays of an attention forward, with k and v set to 0 on padded positions
    (np.where, not a product), so that inf or NaN there cannot reach the context or dq."""
    q, k, v, *params = as_float(func, q=q, k=k, v=v, **params)
    real = np.asarray(mask)[:, :, None]
    if real.dtype != bool:
        raise TypeError(f"{func}: mask must be boolean (True = real key), got {real.dtype}")
    return q, np.where(real, k, k.dtype.type(0)), np.where(real, v, v.dtype.type(0)), *params


def _check_dcontext(func, dcontext, v):
    """dcontext must be (N, Hv), as the context was; -> it as a float array."""
    check_shapes(func, dcontext=(dcontext, f"{v.shape[0]} {v.shape[2]}"))
    return as_float(func, dcontext=dcontext)[0]


def _read(scores, v, mask):
    """Weights from scores, then context = sum_s a_s v_s. -> context (N, Hv), weights (N, S)"""
    weights = masked_softmax(scores, mask)
    context = (weights[:, None, :] @ v)[:, 0]  # batched (1, S) @ (S, Hv)
    return context, weights


def _read_backward(dcontext, weights, v):
    """Backward of _read -> dscores (N, S), dv (N, S, Hv)."""
    dv = weights[:, :, None] * dcontext[:, None, :]
    dweights = (v @ dcontext[:, :, None])[:, :, 0]
    return masked_softmax_backward(dweights, weights), dv


def dot_attention_forward(q, k, v, mask, scale=False):
    """Dot-product attention: score_s = q . k_s, divided by sqrt(Hk) when scale is True.

    q: (N, Hq), k: (N, S, Hk) with Hk = Hq, v: (N, S, Hv), mask: (N, S) bool, True = real
    -> context: (N, Hv), weights: (N, S), cache
    No parameters. Scaling keeps the scores' variance near 1 for unit-variance q and k.
    Book: chapter 5, "Scoring functions".
    """
    check_shapes(
        "dot_attention_forward", q=(q, "N H"), k=(k, "N S H"), v=(v, "N S Hv"), mask=(mask, "N S")
    )
    q, k, v = _real_keys("dot_attention_forward", q, k, v, mask)
    c = 1 / float(np.sqrt(q.shape[1])) if scale else 1.0  # a Python float keeps float32
    scores = (k @ q[:, :, None])[:, :, 0] * c
    context, weights = _read(scores, v, mask)
    return context, weights, (q, k, v, weights, c)


def dot_attention_backward(dcontext, cache):
    """dcontext: (N, Hv) -> dq: (N, Hq), dk: (N, S, Hk), dv: (N, S, Hv)

    Book: chapter 5, "Attention, backward".
    """
    q, k, v, weights, c = cache
    dcontext = _check_dcontext("dot_attention_backward", dcontext, v)
    dscores, dv = _read_backward(dcontext, weights, v)
    dscores = dscores * c
    dq = (dscores[:, None, :] @ k)[:, 0]
    dk = dscores[:, :, None] * q[:, None, :]
    return dq, dk, dv


def general_attention_forward(q, k, v, mask, W):
    """General (bilinear) attention: score_s = (q W) . k_s.

    q: (N, Hq), k: (N, S, Hk), v: (N, S, Hv), mask: (N, S) bool, W: (Hq, Hk)
    -> context: (N, Hv), weights: (N, S), cache
    Book: chapter 5, "Scoring functions".
    """
    check_shapes(
        "general_attention_forward", q=(q, "N Hq"), k=(k, "N S Hk"), v=(v, "N S Hv"),
        mask=(mask, "N S"), W=(W, "Hq Hk"),
    )  # fmt: skip
    q, k, v, W = _real_keys("general_attention_forward", q, k, v, mask, W=W)
    qW = q @ W  # (N, Hk): the query moved into key space once, not once per key
    scores = (k @ qW[:, :, None])[:, :, 0]
    context, weights = _read(scores, v, mask)
    return context, weights, (q, k, v, W, qW, weights)


def general_attention_backward(dcontext, cache):
    """dcontext: (N, Hv) -> dq: (N, Hq), dk: (N, S, Hk), dv: (N, S, Hv), dW: (Hq, Hk)

    Book: chapter 5, "Attention, backward".
    """
    q, k, v, W, qW, weights = cache
    dcontext = _check_dcontext("general_attention_backward", dcontext, v)
    dscores, dv = _read_backward(dcontext, weights, v)
    dqW = (dscores[:, None, :] @ k)[:, 0]
    dk = dscores[:, :, None] * qW[:, None, :]
    return dqW @ W.T, dk, dv, q.T @ dqW


def additive_attention_forward(q, k, v, mask, Wq, Wk, w):
    """Additive (Bahdanau, "concat") attention: score_s = w . tanh(q Wq + k_s Wk).

    q: (N, Hq), k: (N, S, Hk), v: (N, S, Hv), mask: (N, S) bool,
    Wq: (Hq, A), Wk: (Hk, A), w: (A,) -> context: (N, Hv), weights: (N, S), cache
    Book: chapter 5, "Scoring functions".
    """
    check_shapes(
        "additive_attention_forward", q=(q, "N Hq"), k=(k, "N S Hk"), v=(v, "N S Hv"),
        mask=(mask, "N S"), Wq=(Wq, "Hq A"), Wk=(Wk, "Hk A"), w=(w, "A"),
    )  # fmt: skip
    q, k, v, Wq, Wk, w = _real_keys("additive_attention_forward", q, k, v, mask, Wq=Wq, Wk=Wk, w=w)
    hidden = np.tanh((q @ Wq)[:, None, :] + k @ Wk)  # (N, S, A): the query broadcast over keys
    scores = hidden @ w
    context, weights = _read(scores, v, mask)
    return context, weights, (q, k, v, Wq, Wk, w, hidden, weights)


def additive_attention_backward(dcontext, cache):
    """dcontext: (N, Hv) -> dq: (N, Hq), dk: (N, S, Hk), dv: (N, S, Hv),
    dWq: (Hq, A), dWk: (Hk, A), dw: (A,)

    Book: chapter 5, "Attention, backward".
    """
    q, k, v, Wq, Wk, w, hidden, weights = cache
    dcontext = _check_dcontext("additive_attention_backward", dcontext, v)
    dscores, dv = _read_backward(dcontext, weights, v)
    dw = dscores.reshape(-1) @ hidden.reshape(-1, hidden.shape[2])
    dpre = dscores[:, :, None] * w * (1 - hidden**2)  # (N, S, A); tanh' = 1 - tanh^2
    dpre_q = dpre.sum(axis=1)  # the query was broadcast over S keys: its gradients add up
    dk = dpre @ Wk.T
    dWk = k.reshape(-1, k.shape[2]).T @ dpre.reshape(-1, dpre.shape[2])
    return dpre_q @ Wq.T, dk, dv, q.T @ dpre_q, dWk, dw


def pooled_attention_forward(q, k, v, mask, Wk, w):
    """Not attention: score_s = w . tanh(k_s Wk) ignores the query, so the weights are the same
    at every decoder step. A learned pooling of the values, kept here to show how to detect it.

    q: (N, Hq) (unused), k: (N, S, Hk), v: (N, S, Hv), mask: (N, S) bool, Wk: (Hk, A), w: (A,)
    -> context: (N, Hv), weights: (N, S), cache
    Book: chapter 5, "Is it really attention?".
    """
    check_shapes(
        "pooled_attention_forward", q=(q, "N Hq"), k=(k, "N S Hk"), v=(v, "N S Hv"),
        mask=(mask, "N S"), Wk=(Wk, "Hk A"), w=(w, "A"),
    )  # fmt: skip
    q, k, v, Wk, w = _real_keys("pooled_attention_forward", q, k, v, mask, Wk=Wk, w=w)
    hidden = np.tanh(k @ Wk)  # (N, S, A): no query anywhere
    context, weights = _read(hidden @ w, v, mask)
    return context, weights, (q, k, v, Wk, w, hidden, weights)


def pooled_attention_backward(dcontext, cache):
    """dcontext: (N, Hv) -> dq: (N, Hq), all zeros, dk, dv, dWk: (Hk, A), dw: (A,)

    Book: chapter 5, "Is it really attention?".
    """
    q, k, v, Wk, w, hidden, weights = cache
    dcontext = _check_dcontext("pooled_attention_backward", dcontext, v)
    dscores, dv = _read_backward(dcontext, weights, v)
    dw = dscores.reshape(-1) @ hidden.reshape(-1, hidden.shape[2])
    dpre = dscores[:, :, None] * w * (1 - hidden**2)  # (N, S, A)
    dWk = k.reshape(-1, k.shape[2]).T @ dpre.reshape(-1, dpre.shape[2])
    return np.zeros_like(q), dpre @ Wk.T, dv, dWk, dw
