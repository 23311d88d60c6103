"""Masked softmax cross-entropy over a batch of sequences.

Book: chapter 3, "The masked sequence loss".
"""

import numpy as np

from s2s_ref.shapes import as_float, check_shapes


def log_softmax(logits, axis=-1):
    """log softmax(logits) along an axis, stable for huge logits (subtract the max first).

    logits: (..., V) -> (..., V), in the logits' float dtype (integers: float64)
    """
    (logits,) = as_float("log_softmax", logits=logits)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(logits, targets, mask):
    """Mean over real tokens of -log softmax(logits)[target], and its gradient.

    logits: (N, T, V), targets: (N, T) integers in [0, V), mask: (N, T) bool, True = real token
    -> loss: float, dlogits: (N, T, V)
    Padded positions add nothing to the loss and get exactly zero gradient, whatever their
    logits hold (inf and NaN included: they are replaced with np.where, never multiplied by 0);
    the mean divides by the number of real tokens, not N * T. dlogits = (softmax - one_hot) /
    n_real on real tokens. Computed in float32 at least (a float16 sum over many tokens would
    overflow); dlogits comes back in the logits' dtype (integer logits: float64).
    Book: chapter 3, "The masked sequence loss".
    """
    check_shapes(
        "softmax_cross_entropy", logits=(logits, "N T V"), targets=(targets, "N T"),
        mask=(mask, "N T"),
    )  # fmt: skip
    (logits,) = as_float("softmax_cross_entropy", logits=logits)
    targets, mask = np.asarray(targets), np.asarray(mask)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(
            f"softmax_cross_entropy: targets must be integer token ids, got dtype {targets.dtype}"
        )
    if mask.dtype != bool:
        raise TypeError(
            f"softmax_cross_entropy: mask must be boolean (True = real token), got {mask.dtype}"
        )
    n_real = int(mask.sum())
    if n_real == 0:
        raise ValueError("softmax_cross_entropy: the mask has no real token; the mean is undefined")
    V = logits.shape[-1]
    targets = np.where(mask, targets, 0)  # padded targets may hold any id: never index with them
    if targets.min() < 0 or targets.max() >= V:
        raise IndexError(f"softmax_cross_entropy: targets must lie in [0, {V}) on real tokens")
    work = np.promote_types(logits.dtype, np.float32)
    real = mask[..., None]
    logp = log_softmax(np.where(real, logits, 0).astype(work, copy=False))
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (N, T)
    loss = -picked[mask].sum(dtype=np.float64) / n_real
    one_hot = np.zeros_like(logp)
    np.put_along_axis(one_hot, targets[..., None], 1.0, axis=-1)
    dlogits = np.where(real, (np.exp(logp) - one_hot) / n_real, 0)
    return float(loss), dlogits.astype(logits.dtype, copy=False)
