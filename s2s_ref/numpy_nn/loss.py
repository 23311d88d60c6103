"""Masked softmax cross-entropy over a batch of sequences.

Book: chapter 3, "The masked sequence loss".
"""

import numpy as np

from s2s_ref.shapes import check_shapes


def log_softmax(logits, axis=-1):
    """log softmax(logits) along an axis, stable for huge logits (subtract the max first).

    logits: (..., V) -> (..., V)
    """
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(logits, targets, mask):
    """Mean over real tokens of -log softmax(logits)[target], and its gradient.

    logits: (N, T, V), targets: (N, T) integers in [0, V), mask: (N, T) bool, True = real token
    -> loss: float, dlogits: (N, T, V)
    Padded positions add nothing to the loss and get exactly zero gradient; the mean divides by
    the number of real tokens, not N * T. dlogits = (softmax - one_hot) / n_real on real tokens.
    Book: chapter 3, "The masked sequence loss".
    """
    check_shapes(
        "softmax_cross_entropy", logits=(logits, "N T V"), targets=(targets, "N T"),
        mask=(mask, "N T"),
    )  # fmt: skip
    mask = np.asarray(mask)
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
    logp = log_softmax(logits)
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (N, T)
    loss = -picked[mask].sum() / n_real
    one_hot = np.zeros_like(logp)
    np.put_along_axis(one_hot, targets[..., None], 1.0, axis=-1)
    dlogits = (np.exp(logp) - one_hot) * (mask[..., None] / n_real)
    return float(loss), dlogits
