"""Masked cross-entropy over a batch of sequences, the twin of ``numpy_nn.loss``.

Book: chapter 6, "From NumPy to autograd".
"""

import torch
import torch.nn.functional as F


def masked_cross_entropy(logits, targets, mask):
    """Mean over real tokens of -log softmax(logits)[target].

    logits: (N, T, V), targets: (N, T) integers, mask: (N, T) bool, True = real token -> scalar.
    Padded positions add nothing to the loss and get zero gradient; the mean divides by the
    number of real tokens, not N * T; non-finite logits there cannot leak (they are replaced
    with torch.where, never multiplied by 0). Computed in float32 at least, so that bf16 logits
    under autocast do not lose the loss's precision.
    Book: chapter 6, "From NumPy to autograd" (chapter 3 for the loss).
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2] or mask.shape != targets.shape:
        raise ValueError(
            "masked_cross_entropy: expected logits (N, T, V), targets (N, T) and mask (N, T), got "
            f"{tuple(logits.shape)}, {tuple(targets.shape)} and {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(f"masked_cross_entropy: mask must be boolean (True = real); {mask.dtype}")
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise TypeError(f"masked_cross_entropy: targets must be integer ids, got {targets.dtype}")
    n_real = mask.sum()
    if int(n_real) == 0:
        raise ValueError("masked_cross_entropy: the mask has no real token; the mean is undefined")
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    logp = F.log_softmax(torch.where(mask.unsqueeze(-1), logits, zero), dim=-1)
    safe = torch.where(mask, targets, torch.zeros_like(targets))  # padded ids may be anything
    picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (N, T)
    return -torch.where(mask, picked, zero).sum() / n_real
