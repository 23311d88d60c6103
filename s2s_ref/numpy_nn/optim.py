"""An optimiser with explicit state: Adam (Kingma and Ba, 2015).

Hyperparameters live in a frozen dataclass, state in a dict that the caller keeps, so that a
training loop reads as

    opt = Adam(lr=1e-2)
    state = opt.init(params)
    for batch in batches:
        grads = ...
        params, state = opt.step(params, grads, state)

``params`` and ``grads`` are dicts of arrays with the same names and shapes. ``step`` is a pure
function: it returns new parameter arrays and a new state and never writes into the caller's
arrays, so an old ``(params, state)`` pair stays valid (handy for comparisons and restarts).
The update rule is that of torch.optim.Adam (no weight decay, no amsgrad), and the tests check
it step by step against torch.
Book: chapter 2, "Training with Adam".
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Adam:
    """Adam: running means of the gradient and of its square, corrected for their zero start:

        t <- t + 1
        m <- beta1 * m + (1 - beta1) * g          v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Each parameter's step is about lr in size whatever the scale of its gradient.
    State: {"t": int, "m": {name: array}, "v": {name: array}}.
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        _check_range("Adam", "lr", self.lr, 0, None)
        _check_range("Adam", "beta1", self.beta1, 0, 1)
        _check_range("Adam", "beta2", self.beta2, 0, 1)
        _check_range("Adam", "eps", self.eps, 0, None)

    def init(self, params):
        """params: {name: array} -> the state before the first step (t = 0, zero moments)."""
        zeros = {k: np.zeros_like(p) for k, p in params.items()}
        return {"t": 0, "m": zeros, "v": dict(zeros)}

    def step(self, params, grads, state):
        """One update -> (new params, new state); the arguments are not modified."""
        _check_same(params, grads, state["m"])
        t = state["t"] + 1
        m = {k: self.beta1 * state["m"][k] + (1 - self.beta1) * grads[k] for k in params}
        v = {k: self.beta2 * state["v"][k] + (1 - self.beta2) * grads[k] ** 2 for k in params}
        correct1, correct2 = 1 - self.beta1**t, 1 - self.beta2**t
        new_params = {
            k: params[k] - self.lr * (m[k] / correct1) / (np.sqrt(v[k] / correct2) + self.eps)
            for k in params
        }
        return new_params, {"t": t, "m": m, "v": v}


def _check_range(opt, name, value, low, high):
    """low <= value (< high, if given); a sentence otherwise."""
    if not (value >= low and (high is None or value < high)):
        interval = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{opt}: {name} should be in {interval}, got {value}")


def _check_same(params, grads, state):
    """The three dicts name the same arrays, with the same shapes."""
    for other, what in ((grads, "grads"), (state, "state")):
        if other.keys() != params.keys():
            raise KeyError(
                f"{what} has names {sorted(other)} but params has {sorted(params)}: "
                "they must match one to one"
            )
        for k, p in params.items():
            if np.shape(other[k]) != np.shape(p):
                raise ValueError(
                    f"{what}[{k!r}] has shape {np.shape(other[k])}, params[{k!r}] {np.shape(p)}"
                )
