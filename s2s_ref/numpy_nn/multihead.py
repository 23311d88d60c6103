"""Multi-head scaled dot-product attention, sinusoidal positions and the causal mask.

Every one of T queries attends over S keys, in n_heads independent heads of size d = D / n_heads:

    Q = q Wq + bq,  K = kv Wk + bk,  V = kv Wv + bv             (N, T, D), (N, S, D), (N, S, D)
    split the last axis into n_heads blocks of d                 (N, n_heads, T or S, d)
    a = softmax over the allowed keys of Q K^T / sqrt(d)         (N, n_heads, T, S)
    out = concat_heads(a V) Wo + bo                              (N, T, D)

One boolean mask (N, T, S), True = may attend, covers both padding (a padded key is False in
every row) and causality (key s > t is False in row t); a disallowed key gets weight exactly 0.
Self-attention is kv = q; the gradient of the shared input is then dq + dkv.
Book: chapter 8, "What self-attention adds", "One mask for padding and for the future",
"Why positions need encoding".
"""

import numpy as np

from s2s_ref.numpy_nn.transformer_checks import check_length, check_multi_head_attention


def positional_encoding(T, D):
    """Sinusoidal positions (Vaswani et al. 2017): PE[t, 2i] = sin(t w_i), PE[t, 2i+1] = cos(t w_i),
    w_i = 10000^(-2i / D). T >= 0, D >= 1 -> (T, D) float64; an odd D ends on a sine column.

    Each pair of columns is a clock turning at its own speed, so PE[t + k] is a rotation of PE[t]
    that depends on k only: relative positions are linear functions of the encoding.
    Book: chapter 8, "Why positions need encoding".
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
    Book: chapter 8, "One mask for padding and for the future".
    """
    check_length(T)  # given: a sentence for a bad argument
    mask = np.tril(np.ones((T, T), dtype=bool))  # k=0: the diagonal is included
    return mask


def multi_head_attention_forward(q, kv, mask, Wq, Wk, Wv, Wo, bq, bk, bv, bo, n_heads):
    """Multi-head scaled dot-product attention of T queries over S keys/values.

    q: (N, T, D) queries' inputs, kv: (N, S, D) keys' and values' inputs (kv = q: self-attention),
    mask: (N, T, S) bool, True = query t may attend to key s (every row needs one True),
    Wq, Wk, Wv, Wo: (D, D) used as x @ W, bq, bk, bv, bo: (D,), n_heads: divides D
    -> out: (N, T, D), weights: (N, n_heads, T, S) (exactly 0 where mask is False), cache
    Head h is the columns h*d .. (h+1)*d - 1 of the projections, d = D / n_heads, and its scores
    are divided by sqrt(d), the size of one head's dot product.
    Book: chapter 8, "What self-attention adds".
    """
    check_multi_head_attention(q, kv, mask, Wq, Wk, Wv, Wo, bq, bk, bv, bo, n_heads)  # given
    N, T, D = q.shape
    S = kv.shape[1]
    d = D // n_heads  # the size of one head
    # project, then split the last axis into the heads: (N, T, D) -> (N, n_heads, T, d)
    Q = (q @ Wq + bq).reshape(N, T, n_heads, d).transpose(0, 2, 1, 3)
    K = (kv @ Wk + bk).reshape(N, S, n_heads, d).transpose(0, 2, 1, 3)
    V = (kv @ Wv + bv).reshape(N, S, n_heads, d).transpose(0, 2, 1, 3)
    scores = Q @ K.transpose(0, 1, 3, 2) / d**0.5  # (N, n_heads, T, S)
    allowed = mask[:, None]  # (N, 1, T, S): the same mask for every head
    scores = np.where(allowed, scores, -np.inf)  # a masked key never enters the softmax
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))  # each row has an allowed key
    weights = e / e.sum(axis=-1, keepdims=True)  # exp(-inf) = 0 where the mask is False
    context = (weights @ V).transpose(0, 2, 1, 3).reshape(N, T, D)  # the heads side by side
    out = context @ Wo + bo
    cache = (q, kv, Wq, Wk, Wv, Wo, Q, K, V, weights, context)
    return out, weights, cache


def multi_head_attention_backward(dout, cache):
    """dout: (N, T, D) -> dq: (N, T, D), dkv: (N, S, D), dWq, dWk, dWv, dWo: (D, D),
    dbq, dbk, dbv, dbo: (D,)

    For self-attention (kv = q) the input's gradient is dq + dkv.
    Book: chapter 8, "What self-attention adds".
    """
    q, kv, Wq, Wk, Wv, Wo, Q, K, V, weights, context = cache
    N, T, D = q.shape
    S = kv.shape[1]
    n_heads, d = Q.shape[1], Q.shape[3]
    dWo = context.reshape(-1, D).T @ dout.reshape(-1, D)
    dbo = dout.reshape(-1, D).sum(axis=0)
    dcontext = (dout @ Wo.T).reshape(N, T, n_heads, d).transpose(0, 2, 1, 3)
    dweights = dcontext @ V.transpose(0, 1, 3, 2)  # (N, n_heads, T, S)
    dV = weights.transpose(0, 1, 3, 2) @ dcontext  # (N, n_heads, S, d)
    dscores = weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))
    dscores = dscores / d**0.5  # 0 where the mask is False: the weights are 0 there
    # back from the heads to (N, T or S, D)
    dQ = (dscores @ K).transpose(0, 2, 1, 3).reshape(N, T, D)
    dK = (dscores.transpose(0, 1, 3, 2) @ Q).transpose(0, 2, 1, 3).reshape(N, S, D)
    dV = dV.transpose(0, 2, 1, 3).reshape(N, S, D)
    dq = dQ @ Wq.T
    dkv = dK @ Wk.T + dV @ Wv.T  # the keys and the values both read kv
    q_rows, kv_rows = q.reshape(-1, D), kv.reshape(-1, D)  # every position is one row
    dQ, dK, dV = dQ.reshape(-1, D), dK.reshape(-1, D), dV.reshape(-1, D)
    dWq, dWk, dWv = q_rows.T @ dQ, kv_rows.T @ dK, kv_rows.T @ dV
    dbq, dbk, dbv = dQ.sum(axis=0), dK.sum(axis=0), dV.sum(axis=0)
    return dq, dkv, dWq, dWk, dWv, dWo, dbq, dbk, dbv, dbo
