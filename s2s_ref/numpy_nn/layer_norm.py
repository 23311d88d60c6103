"""Layer normalisation: each vector rescaled to mean 0 and variance 1, then a learned gain, shift.

    mu = mean(x),  var = mean((x - mu)^2)  over the last axis (the D features of one position)
    x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta

Unlike batch normalisation nothing is shared across the batch or the time steps, so a padded
position or a batch of one changes nothing for the others.
Book: chapter 8, "Layer normalisation".
"""

import numpy as np


def check_float(func, **arrays):
    """Raise TypeError naming ``func`` and the argument unless every array has a float dtype."""
    for name, a in arrays.items():
        if not np.issubdtype(np.asarray(a).dtype, np.floating):
            raise TypeError(
                f"{func}: {name} must be a float array, got dtype {np.asarray(a).dtype}"
            )


def layer_norm_forward(x, gamma, beta, eps=1e-5):
    """Normalise over the last axis, then scale by gamma and shift by beta.

    x: (..., D) float, gamma: (D,), beta: (D,), eps > 0 -> y: (..., D), cache
    eps keeps a constant vector (variance 0) finite; 1e-5 is torch.nn.LayerNorm's default.
    Book: chapter 8, "Layer normalisation".
    """
    check_float("layer_norm_forward", x=x, gamma=gamma, beta=beta)
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"layer_norm_forward: x should be (..., D) with D >= 1, got {x.shape}")
    D = x.shape[-1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if np.shape(p) != (D,):
            raise ValueError(
                f"layer_norm_forward: {name} should have shape (D,) = ({D},), got {np.shape(p)}"
            )
    if not eps > 0:
        raise ValueError(f"layer_norm_forward: eps must be > 0, got {eps}")
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    inv_std = 1 / np.sqrt((xc**2).mean(axis=-1, keepdims=True) + eps)  # (..., 1)
    x_hat = xc * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)


def layer_norm_backward(dy, cache):
    """dy: (..., D) -> dx: (..., D), dgamma: (D,), dbeta: (D,)

    With g = dy * gamma, every x_i moves the mean and the variance seen by all D outputs:
        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    the two mean terms being those paths (through mu and through var).
    Book: chapter 8, "Layer normalisation".
    """
    x_hat, inv_std, gamma = cache
    D = x_hat.shape[-1]
    flat_dy = dy.reshape(-1, D)
    dgamma = (flat_dy * x_hat.reshape(-1, D)).sum(axis=0)
    dbeta = flat_dy.sum(axis=0)
    g = dy * gamma
    dx = inv_std * (
        g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)
    )
    return dx, dgamma, dbeta
