"""Multi-head scaled dot-product attention, sinusoidal positions and the causal mask.

Every one of T queries attends over S keys, in n_heads independent heads of size d = D / n_heads:

    Q = q Wq + bq,  K = kv Wk + bk,  V = kv Wv + bv             (N, T, D), (N, S, D), (N, S, D)
    split the last axis into n_heads blocks of d                 (N, n_heads, T or S, d)
    a = softmax over the allowed keys of Q K^T / sqrt(d)         (N, n_heads, T, S)
    out = concat_heads(a V) Wo + bo                              (N, T, D)

One boolean mask (N, T, S), True = may attend, covers both padding (a padded key is False in
every row) and causality (key s > t is False in row t); a disallowed key gets weight exactly 0.
Self-attention is kv = q; the gradient of the shared input is then dq + dkv.
Book: chapter 8, "Multi-head attention", "Masks", "Positions".
"""

import numpy as np

from s2s_ref.numpy_nn.attention import masked_softmax, masked_softmax_backward
from s2s_ref.numpy_nn.layer_norm import check_float
from s2s_ref.shapes import check_shapes

_NAMES = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")


def positional_encoding(T, D):
    """Sinusoidal positions (Vaswani et al. 2017): PE[t, 2i] = sin(t w_i), PE[t, 2i+1] = cos(t w_i),
    w_i = 10000^(-2i / D). T >= 0, D >= 1 -> (T, D) float64; an odd D ends on a sine column.

    Each pair of columns is a clock turning at its own speed, so PE[t + k] is a rotation of PE[t]
    that depends on k only: relative positions are linear functions of the encoding.
    Book: chapter 8, "Positions".
    """
    if not (isinstance(T, (int, np.integer)) and isinstance(D, (int, np.integer))):
        raise TypeError(f"positional_encoding: T and D must be integers, got {T!r}, {D!r}")
    if T < 0 or D < 1:
        raise ValueError(f"positional_encoding: need T >= 0 and D >= 1, got T={T}, D={D}")
    rates = 10000.0 ** (-np.arange(0, D, 2) / D)  # (ceil(D/2),): w_i for columns 2i
    angles = np.arange(T)[:, None] * rates[None, :]  # (T, ceil(D/2))
    pe = np.empty((T, D))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : D // 2])
    return pe


def causal_mask(T):
    """(T, T) bool, True on and below the diagonal: query t may attend to keys 0..t only.

    Combine with padding as ``causal_mask(T)[None] & key_mask[:, None, :]`` -> (N, T, T).
    Book: chapter 8, "Masks".
    """
    if not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"causal_mask: T must be an integer >= 0, got {T!r}")
    return np.tril(np.ones((T, T), dtype=bool))


def _split(x, n_heads):
    """(N, L, D) -> (N, n_heads, L, d): head h is the columns h*d .. (h+1)*d - 1."""
    N, L, D = x.shape
    return x.reshape(N, L, n_heads, D // n_heads).transpose(0, 2, 1, 3)


def _merge(x):
    """(N, n_heads, L, d) -> (N, L, n_heads * d), the inverse of _split."""
    N, n_heads, L, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, L, n_heads * d)


def _check(q, kv, mask, params, n_heads):
    func = "multi_head_attention_forward"
    check_float(func, q=q, kv=kv, **dict(zip(_NAMES, params, strict=True)))
    specs = {"q": (q, "N T D"), "kv": (kv, "N S D"), "mask": (mask, "N T S")}
    specs.update(
        {n: (p, "D D" if n[0] == "W" else "D") for n, p in zip(_NAMES, params, strict=True)}
    )
    D = check_shapes(func, **specs)["D"]
    if not isinstance(n_heads, (int, np.integer)) or n_heads < 1 or D % n_heads:
        raise ValueError(f"{func}: n_heads must be a positive divisor of D = {D}, got {n_heads!r}")
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"{func}: mask must be boolean (True = may attend), got {mask.dtype}")
    empty = np.argwhere(~mask.any(axis=2))
    if empty.size:
        shown = ", ".join(f"(n={n}, t={t})" for n, t in empty[:5].tolist())
        raise ValueError(
            f"{func}: {len(empty)} quer(y/ies) may attend to no key (mask row all False): "
            f"{shown}; a softmax over nothing is undefined, so give every query one key"
        )


def multi_head_attention_forward(q, kv, mask, Wq, Wk, Wv, Wo, bq, bk, bv, bo, n_heads):
    """Multi-head scaled dot-product attention of T queries over S keys/values.

    q: (N, T, D) queries' inputs, kv: (N, S, D) keys' and values' inputs (kv = q: self-attention),
    mask: (N, T, S) bool, True = query t may attend to key s (every row needs one True),
    Wq, Wk, Wv, Wo: (D, D) used as x @ W, bq, bk, bv, bo: (D,), n_heads: divides D
    -> out: (N, T, D), weights: (N, n_heads, T, S) (exactly 0 where mask is False), cache
    Scores are divided by sqrt(D / n_heads), the size of one head's dot product.
    Book: chapter 8, "Multi-head attention".
    """
    params = (Wq, Wk, Wv, Wo, bq, bk, bv, bo)
    _check(q, kv, mask, params, n_heads)
    mask = np.asarray(mask)
    D = q.shape[2]
    S = kv.shape[1]
    c = 1 / float(np.sqrt(D // n_heads))  # a Python float keeps float32 inputs float32
    Q = _split(q @ Wq + bq, n_heads)  # (N, n_heads, T, d)
    K = _split(kv @ Wk + bk, n_heads)  # (N, n_heads, S, d)
    V = _split(kv @ Wv + bv, n_heads)
    scores = (Q @ K.transpose(0, 1, 3, 2)) * c  # (N, n_heads, T, S)
    rows = np.broadcast_to(mask[:, None], scores.shape).reshape(-1, S)  # the same for every head
    weights = masked_softmax(scores.reshape(-1, S), rows).reshape(scores.shape)
    context = _merge(weights @ V)  # (N, T, D)
    out = context @ Wo + bo
    return out, weights, (q, kv, params, n_heads, c, Q, K, V, weights, context)


def multi_head_attention_backward(dout, cache):
    """dout: (N, T, D) -> dq: (N, T, D), dkv: (N, S, D), dWq, dWk, dWv, dWo: (D, D),
    dbq, dbk, dbv, dbo: (D,)

    For self-attention (kv = q) the input's gradient is dq + dkv.
    Book: chapter 8, "Multi-head attention".
    """
    q, kv, (Wq, Wk, Wv, Wo, _, _, _, _), n_heads, c, Q, K, V, weights, context = cache
    D = q.shape[2]
    S = kv.shape[1]
    flat = dout.reshape(-1, D)
    dWo = context.reshape(-1, D).T @ flat
    dbo = flat.sum(axis=0)
    dctx = _split(dout @ Wo.T, n_heads)  # (N, n_heads, T, d)
    dV = weights.transpose(0, 1, 3, 2) @ dctx  # (N, n_heads, S, d)
    dweights = dctx @ V.transpose(0, 1, 3, 2)  # (N, n_heads, T, S)
    dscores = masked_softmax_backward(dweights.reshape(-1, S), weights.reshape(-1, S))
    dscores = dscores.reshape(weights.shape) * c  # 0 where the mask is False: weights are 0 there
    dQ = _merge(dscores @ K)  # (N, T, D)
    dK = _merge(dscores.transpose(0, 1, 3, 2) @ Q)  # (N, S, D)
    dV = _merge(dV)
    q2, kv2 = q.reshape(-1, D), kv.reshape(-1, D)
    dQf, dKf, dVf = dQ.reshape(-1, D), dK.reshape(-1, D), dV.reshape(-1, D)
    dq = dQ @ Wq.T
    dkv = dK @ Wk.T + dV @ Wv.T  # the keys and the values both read kv
    return (
        dq, dkv, q2.T @ dQf, kv2.T @ dKf, kv2.T @ dVf, dWo,
        dQf.sum(axis=0), dKf.sum(axis=0), dVf.sum(axis=0), dbo,
    )  # fmt: skip
