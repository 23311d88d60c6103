"""Layer normalisation: each vector rescaled to mean 0 and variance 1, then a learned gain, shift.

    mu = mean(x),  var = mean((x - mu)^2)  over the last axis (the D features of one position)
    x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta

Unlike batch normalisation nothing is shared across the batch or the time steps, so a padded
position or a batch of one changes nothing for the others. Exercise 8 has the learner write both
functions; its solution holds the same code.
Book: chapter 8, "Layer normalisation and the residual stream".
"""

import numpy as np

from s2s_ref.numpy_nn.transformer_checks import check_layer_norm


def layer_norm_forward(x, gamma, beta, eps=1e-5):
    """Normalise over the last axis, then scale by gamma and shift by beta.

    x: (..., D) float, gamma: (D,), beta: (D,), eps > 0 -> y: (..., D), cache
    The variance divides by D (biased), as torch.nn.LayerNorm does; eps, inside the square root,
    keeps a constant vector (variance 0) finite; 1e-5 is torch's default.
    Book: chapter 8, "Layer normalisation and the residual stream".
    """
    check_layer_norm(x, gamma, beta, eps)  # given: a sentence for a bad argument
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # (..., 1)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std  # (..., D)
    y = gamma * x_hat + beta
    cache = (x_hat, inv_std, gamma)
    return y, cache


def layer_norm_backward(dy, cache):
    """dy: (..., D) -> dx: (..., D), dgamma: (D,), dbeta: (D,)

    With g = dy * gamma, every x_i moves the mean and the variance seen by all D outputs:
        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    the two mean terms being those paths (through mu and through var).
    Book: chapter 8, "Layer normalisation and the residual stream".
    """
    x_hat, inv_std, gamma = cache
    D = x_hat.shape[-1]
    dgamma = (dy * x_hat).reshape(-1, D).sum(axis=0)  # summed over every position
    dbeta = dy.reshape(-1, D).sum(axis=0)
    g = dy * gamma
    mean_g = g.mean(axis=-1, keepdims=True)  # the path through mu
    mean_gx = (g * x_hat).mean(axis=-1, keepdims=True)  # the path through var
    dx = inv_std * (g - mean_g - x_hat * mean_gx)
    return dx, dgamma, dbeta
