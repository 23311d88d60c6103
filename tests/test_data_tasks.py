"""Algorithmic tasks: correct targets, reproducible from a seed, held-out split never leaks."""

import numpy as np
import pytest

from s2s_ref.data.splits import split_of
from s2s_ref.data.tasks import TASKS, make_addition, make_copy, make_reverse, make_sort
from s2s_ref.metrics import accuracy_by_length, exact_match, token_accuracy


@pytest.mark.parametrize("name", sorted(TASKS))
def test_same_seed_same_data_other_seed_other_data(name):
    make = TASKS[name]
    a = make(50, np.random.default_rng(3))
    assert a == make(50, np.random.default_rng(3))
    assert a != make(50, np.random.default_rng(4))


@pytest.mark.parametrize("name", sorted(TASKS))
def test_train_and_test_splits_are_disjoint_whatever_n_and_seed(name):
    make = TASKS[name]
    train = {tuple(s) for seed in (0, 1) for s, _ in make(400, np.random.default_rng(seed))}
    test = {tuple(s) for s, _ in make(100, np.random.default_rng(9), split="test")}
    assert train and test and not train & test


def test_split_is_a_fixed_function_of_the_key():
    keys = [f"k{i}" for i in range(5000)]
    assert [split_of(k) for k in keys] == [split_of(k) for k in keys]
    frac = np.mean([split_of(k) == "test" for k in keys])
    assert 0.08 < frac < 0.12


def test_targets_are_right():
    rng = np.random.default_rng(0)
    for s, t in make_copy(20, rng, min_len=3, max_len=7):
        assert t == s and 3 <= len(s) <= 7
    for s, t in make_reverse(20, rng):
        assert t == s[::-1]
    for s, t in make_sort(20, rng, n_symbols=4):
        assert t == sorted(s) and set(s) <= set("abcd")
    for s, t in make_addition(50, rng, max_digits=4):
        a, b = "".join(s).split("+")
        assert int("".join(t)) == int(a) + int(b) and str(int(a)) == a


def test_bad_arguments_are_rejected_with_a_sentence():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="min_len <= max_len"):
        make_copy(3, rng, min_len=5, max_len=2)
    with pytest.raises(ValueError, match="n_symbols"):
        make_copy(3, rng, n_symbols=1)
    with pytest.raises(ValueError, match="split must be one of"):
        make_copy(3, rng, split="valid")
    with pytest.raises(RuntimeError, match="too small for this split"):
        make_copy(50, rng, min_len=1, max_len=1, n_symbols=2, split="test")


def test_metrics_count_missing_and_extra_tokens():
    tgt = [["a", "b"], ["c"]]
    assert token_accuracy(tgt, [["a", "b"], ["c"]]) == 1.0
    # of a b END and c END only "a" and the first "c" are right: 2 / 5
    assert token_accuracy(tgt, [["a"], ["c", "c"]]) == 2 / 5
    assert exact_match(tgt, [["a", "b"], ["x"]]) == 0.5
    by_len = accuracy_by_length([[1, 2], [3]], tgt, [["a", "b"], ["x"]])
    assert by_len == {1: (0.5, 0.0, 1), 2: (1.0, 1.0, 1)}
