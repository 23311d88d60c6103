"""The sentences for bad input to layer norm, multi-head attention and the causal mask.

Exercise 8 hands these checks to the learner (its functions call them first, as the package's
do), so that a wrong shape or dtype stops with a sentence naming the argument instead of a
traceback from deep inside a matrix product.
Book: chapter 8, "Layer normalisation and the residual stream", "What self-attention adds",
"One mask for padding and for the future".
"""

import numpy as np

from s2s_ref.shapes import check_shapes

ATTENTION_PARAMETERS = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")


def check_float(func, **arrays):
    """Raise TypeError naming ``func`` and the argument unless every array is a NumPy array of
    a float dtype."""
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{func}: {name} must be a NumPy float array, got {type(a).__name__}")
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"{func}: {name} must be a float array, got dtype {a.dtype}")


def check_layer_norm(x, gamma, beta, eps):
    """x: (..., D) with D >= 1, gamma and beta: (D,), all float; eps > 0. Raises otherwise."""
    func = "layer_norm_forward"
    check_float(func, x=x, gamma=gamma, beta=beta)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{func}: x should be (..., D) with D >= 1, got {x.shape}")
    D = x.shape[-1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape != (D,):
            raise ValueError(f"{func}: {name} should have shape (D,) = ({D},), got {p.shape}")
    if not eps > 0:
        raise ValueError(f"{func}: eps must be > 0, got {eps}")


def check_multi_head_attention(q, kv, mask, Wq, Wk, Wv, Wo, bq, bk, bv, bo, n_heads):
    """q: (N, T, D), kv: (N, S, D), mask: (N, T, S) bool with a True in every row, the W's
    (D, D), the b's (D,), n_heads a positive divisor of D. Raises otherwise."""
    func = "multi_head_attention_forward"
    params = dict(zip(ATTENTION_PARAMETERS, (Wq, Wk, Wv, Wo, bq, bk, bv, bo), strict=True))
    check_float(func, q=q, kv=kv, **params)
    specs = {"q": (q, "N T D"), "kv": (kv, "N S D"), "mask": (mask, "N T S")}
    specs.update({n: (p, "D D" if n[0] == "W" else "D") for n, p in params.items()})
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


def check_length(T):
    """T: an integer >= 0 (a sequence length). Raises ValueError otherwise."""
    if not isinstance(T, (int, np.integer)) or isinstance(T, bool) or T < 0:
        raise ValueError(f"causal_mask: T must be an integer >= 0, got {T!r}")
