"""Gradient clipping by global norm, the standard guard against exploding gradients.

Book: chapter 1, "Clipping".
"""

import numpy as np

from s2s_ref.shapes import as_float


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most max_norm.

    grads: sequence of arrays of any shapes; max_norm: float > 0 (np.inf: record the norm, never
    clip, as torch.nn.utils.clip_grad_norm_ does)
    -> (clipped: list of new arrays, total_norm: the norm before clipping)
    The direction of the update is kept; only its length shrinks. The inputs are not modified.
    Same rule as torch.nn.utils.clip_grad_norm_ (scale = max_norm / (norm + 1e-6), if below 1).
    A gradient holding inf or NaN has no direction to keep: FloatingPointError names it (the
    update should be skipped or the learning rate lowered), instead of a NaN scale that would
    zero the finite gradients.
    """
    if not (isinstance(max_norm, (int, float, np.number)) and max_norm > 0):  # False for NaN
        raise ValueError(f"clip_by_global_norm: max_norm must be a number > 0, got {max_norm!r}")
    grads = as_float("clip_by_global_norm", **{f"grads[{i}]": g for i, g in enumerate(grads)})
    bad = [i for i, g in enumerate(grads) if not np.isfinite(g).all()]
    if bad:
        raise FloatingPointError(
            f"clip_by_global_norm: gradient(s) {bad} hold inf or NaN; their norm is undefined "
            "(skip this update or lower the learning rate)"
        )
    total_norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return [g * np.asarray(scale, dtype=g.dtype) for g in grads], total_norm
