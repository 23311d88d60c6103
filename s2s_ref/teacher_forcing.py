"""Teacher forcing and scheduled sampling: how often the decoder reads the true previous token.

During training the decoder's input at step t is either the true token y_{t-1} (teacher forcing,
Williams and Zipser 1989) or the model's own previous prediction (free running, as at test time).
Scheduled sampling (Bengio et al. 2015) flips a coin per token, using the truth with probability
eps_i that decays with the training step i from about 1 to a floor:

- linear:          eps_i = max(eps_min, k - c * i)        0 <= eps_min < 1, k <= 1, c > 0
- exponential:     eps_i = k ** i                         0 < k < 1
- inverse sigmoid: eps_i = k / (k + exp(i / k))           k >= 1

``always`` (eps = 1) is plain teacher forcing, ``fixed`` a constant ratio, 0 free running.
Book: chapter 4, "Teacher forcing" and "Teacher-forcing ratio and scheduled sampling".
"""

import math
from dataclasses import dataclass, field

import numpy as np

KINDS = ("always", "fixed", "linear", "exponential", "inverse_sigmoid")


def linear_decay(i: int, k: float = 1.0, c: float = 1e-3, eps_min: float = 0.0) -> float:
    """eps_i = max(eps_min, k - c * i)."""
    if not (0 <= eps_min < 1 and c > 0 and 0 < k <= 1):
        raise ValueError(
            f"linear_decay: need 0 <= eps_min < 1, 0 < k <= 1, c > 0; got {eps_min}, {k}, {c}"
        )
    return max(eps_min, k - c * i)


def exponential_decay(i: int, k: float = 0.999) -> float:
    """eps_i = k ** i."""
    if not 0 < k < 1:
        raise ValueError(f"exponential_decay: need 0 < k < 1, got k={k}")
    return k**i


def inverse_sigmoid_decay(i: int, k: float = 100.0) -> float:
    """eps_i = k / (k + exp(i / k)); about 1 for i << k ln k, 1/2 at i = k ln k."""
    if k < 1:
        raise ValueError(f"inverse_sigmoid_decay: need k >= 1, got k={k}")
    x = i / k
    return k / (k + math.exp(x)) if x < 700 else 0.0  # exp overflows past 709


@dataclass(frozen=True)
class Schedule:
    """A teacher-forcing schedule: ``schedule(i)`` is the probability of feeding the truth at
    training step i.

    kind: one of KINDS; params: the keyword arguments of its formula, e.g.
    ``Schedule("fixed", {"ratio": 0.5})``, ``Schedule("inverse_sigmoid", {"k": 200})``.
    Book: chapter 4, "Teacher-forcing ratio and scheduled sampling".
    """

    kind: str = "always"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Schedule: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "fixed" and not 0 <= self.params.get("ratio", -1) <= 1:
            raise ValueError("Schedule('fixed') needs params={'ratio': r} with 0 <= r <= 1")
        self(0)  # reject bad parameters now, not in the middle of training

    def __call__(self, i: int) -> float:
        if self.kind == "always":
            return 1.0
        if self.kind == "fixed":
            return float(self.params["ratio"])
        formula = {"linear": linear_decay, "exponential": exponential_decay}.get(
            self.kind, inverse_sigmoid_decay
        )
        return formula(i, **self.params)


def teacher_coins(shape, ratio: float, rng: np.random.Generator | None) -> np.ndarray:
    """Boolean array, True where the decoder reads the true previous token (probability ratio).

    shape: e.g. (N,) for one decoder step; ratio 1 needs no rng (all True), ratio 0 all False.
    """
    if not 0 <= ratio <= 1:
        raise ValueError(f"teacher_coins: ratio must lie in [0, 1], got {ratio}")
    if ratio in (0, 1):
        return np.full(shape, bool(ratio))
    if rng is None:
        raise ValueError("teacher_coins: a ratio strictly between 0 and 1 needs an rng")
    return rng.random(shape) < ratio
