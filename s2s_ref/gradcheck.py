"""Gradient checking by central differences, the oracle for every hand-written backward.

Book: chapter 1, "Checking gradients".
"""

import numpy as np


def relative_error(a, b, eps=1e-12):
    """max |a - b| / max(|a| + |b|): scale-free, 0 for equal arrays, about 1 for unrelated ones.

    a, b: arrays of one shape -> float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    return float(
        np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(a) + np.abs(b), initial=0.0), eps)
    )


def numerical_gradient(f, args, wrt, dout=None, h=1e-6):
    """Gradient of sum(dout * f(*args)) with respect to args[wrt], by central differences.

    f: a function of the arrays in ``args`` returning an array (or a scalar, with dout None);
    args: sequence of arrays; wrt: the index of the argument to differentiate;
    dout: array shaped like f's output (the upstream gradient), None for a scalar f
    -> gradient shaped like args[wrt], float64.
    Each argument is copied to float64 first: the caller's arrays are never written, and
    float32 rounding (about 1e-7) would swamp a difference taken over h = 1e-6.
    """
    args = [np.array(a, dtype=np.float64) if _is_float(a) else a for a in args]
    x = args[wrt]
    if not _is_float(x):
        raise TypeError(f"numerical_gradient: argument {wrt} is not a float array")
    weight = 1.0 if dout is None else np.asarray(dout, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = np.sum(weight * f(*args))
        x[i] = old - h
        minus = np.sum(weight * f(*args))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)
