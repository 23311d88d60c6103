"""Teacher-forcing schedules against the formulas of Bengio et al. (2015), written out here."""

import math

import numpy as np
import pytest

from s2s_ref.teacher_forcing import (
    Schedule,
    exponential_decay,
    inverse_sigmoid_decay,
    linear_decay,
    teacher_coins,
)


def test_linear_decay_falls_by_c_per_step_to_its_floor():
    assert linear_decay(0, k=1.0, c=0.01, eps_min=0.1) == 1.0
    assert math.isclose(linear_decay(30, k=1.0, c=0.01, eps_min=0.1), 0.7)
    assert linear_decay(500, k=1.0, c=0.01, eps_min=0.1) == 0.1


def test_exponential_decay_is_k_to_the_i():
    assert math.isclose(exponential_decay(10, k=0.9), 0.3486784401)
    assert exponential_decay(0, k=0.5) == 1.0


def test_inverse_sigmoid_is_half_at_k_ln_k_and_never_overflows():
    k = 50.0
    assert math.isclose(inverse_sigmoid_decay(0, k), 50 / 51)
    assert math.isclose(inverse_sigmoid_decay(k * math.log(k), k), 0.5)
    values = [inverse_sigmoid_decay(i, k) for i in range(0, 10**6, 997)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # decreasing
    assert values[-1] == 0.0


def test_schedules_dispatch_and_validate():
    assert Schedule()(12345) == 1.0
    assert Schedule("fixed", {"ratio": 0.25})(99) == 0.25
    assert Schedule("exponential", {"k": 0.99})(100) == 0.99**100
    assert Schedule("inverse_sigmoid", {"k": 10})(7) == 10 / (10 + math.exp(0.7))
    for kind, params, message in [
        ("cosine", {}, "kind must be one of"),
        ("fixed", {}, "ratio"),
        ("exponential", {"k": 1.5}, "0 < k < 1"),
        ("inverse_sigmoid", {"k": 0.5}, "k >= 1"),
        ("linear", {"c": -1}, "c > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            Schedule(kind, params)


def test_teacher_coins_follow_the_ratio():
    assert teacher_coins((4,), 1.0, None).all() and not teacher_coins((4,), 0.0, None).any()
    coins = teacher_coins((20000,), 0.3, np.random.default_rng(0))
    assert abs(coins.mean() - 0.3) < 0.02
    with pytest.raises(ValueError, match="needs an rng"):
        teacher_coins((3,), 0.5, None)
