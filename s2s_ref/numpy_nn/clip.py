"""Gradient clipping by global norm, the standard guard against exploding gradients.

Book: chapter 1, "Clipping".
"""

import numpy as np


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most max_norm.

    grads: sequence of arrays of any shapes; max_norm: float > 0
    -> (clipped: list of new arrays, total_norm: the norm before clipping)
    The direction of the update is kept; only its length shrinks. The inputs are not modified.
    Same rule as torch.nn.utils.clip_grad_norm_ (scale = max_norm / (norm + 1e-6), if below 1).
    """
    if not max_norm > 0:
        raise ValueError(f"clip_by_global_norm: max_norm must be > 0, got {max_norm}")
    total_norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return [np.asarray(g) * np.asarray(scale, dtype=np.asarray(g).dtype) for g in grads], total_norm
