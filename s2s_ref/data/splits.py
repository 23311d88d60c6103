"""A fixed held-out split that never leaks: decided by a hash of the example's key.

Drawing a random test set per run lets the same example land in training on another seed or
size. Here the split of an example is a pure function of its key (the source sequence, or the
date, or the number), so it is the same whatever n, seed or process; Python's ``hash`` is salted
per process, so we use blake2b.
Book: chapter 3, "A held-out set that stays held out".
"""

import hashlib

import numpy as np

SPLITS = ("train", "test")


def split_of(key: str, test_fraction: float = 0.1) -> str:
    """'test' for a fixed fraction of keys, 'train' for the rest; deterministic.

    key: any string identifying the example (e.g. ``" ".join(source_tokens)``)
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64  # uniform in [0, 1)
    return "test" if u < test_fraction else "train"


def check_count(func: str, n, what: str = "n") -> int:
    """Raise a sentence unless ``n`` is an integer >= 0 (a bool or a float like 2.5 is not)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{func}: {what} must be an integer >= 0, got {n!r}")
    if n < 0:
        raise ValueError(f"{func}: {what} must be an integer >= 0, got {n}")
    return int(n)


def check_split(split: str, test_fraction: float) -> None:
    """Raise ValueError with a sentence for an unknown split name or fraction outside (0, 1)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")


def draw_in_split(draw, key, n: int, split: str, test_fraction: float, max_tries: int):
    """Call ``draw()`` until n examples whose ``key(example)`` falls in ``split``.

    Raises RuntimeError if max_tries draws were not enough (the space of examples is too small
    for this split, e.g. sequences of length 1 over 3 symbols).
    """
    n = check_count("draw_in_split", n)
    check_split(split, test_fraction)
    out = []
    if n == 0:
        return out
    for _ in range(max_tries):
        example = draw()
        if split_of(key(example), test_fraction) == split:
            out.append(example)
            if len(out) == n:
                return out
    raise RuntimeError(
        f"found only {len(out)} of {n} {split!r} examples in {max_tries} draws: the space of "
        f"examples is too small for this split; widen the lengths or the alphabet"
    )
