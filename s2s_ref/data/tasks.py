"""Algorithmic tasks generated in code: copy, reverse, sort, multi-digit addition.

Each ``make_<task>(n, rng, ...)`` returns n ``(source tokens, target tokens)`` pairs from the
requested split. The split is a hash of the source sequence (``splits.split_of``), so an example
is in the same split for every n and seed, and a test example never appears in training.
Book: chapter 3, "Tasks".
"""

import string

from s2s_ref.data.splits import check_count, draw_in_split

LETTERS = tuple(string.ascii_lowercase)


def _symbols(n_symbols: int) -> tuple[str, ...]:
    if not 2 <= n_symbols <= len(LETTERS):
        raise ValueError(f"n_symbols must lie in [2, {len(LETTERS)}], got {n_symbols}")
    return LETTERS[:n_symbols]


def _check_lengths(min_len: int, max_len: int) -> None:
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")


def _make_sequence_task(name, transform, n, rng, min_len, max_len, n_symbols, split,
                        test_fraction):  # fmt: skip
    n = check_count(name, n)
    symbols = _symbols(n_symbols)
    _check_lengths(min_len, max_len)

    def draw():
        length = int(rng.integers(min_len, max_len + 1))
        src = [symbols[i] for i in rng.integers(0, len(symbols), size=length)]
        return src, transform(src)

    return draw_in_split(
        draw, lambda ex: " ".join(ex[0]), n, split, test_fraction, max_tries=max(1000, 50 * n)
    )


def make_copy(n, rng, min_len=1, max_len=10, n_symbols=10, split="train", test_fraction=0.1):
    """Copy: "c a b" -> "c a b". The simplest task: the decoder must replay the source.

    rng: numpy.random.Generator; lengths uniform in [min_len, max_len]; symbols 'a', 'b', ...
    -> list of n (source tokens, target tokens) pairs.
    """
    return _make_sequence_task(
        "make_copy", list, n, rng, min_len, max_len, n_symbols, split, test_fraction
    )


def make_reverse(n, rng, min_len=1, max_len=10, n_symbols=10, split="train", test_fraction=0.1):
    """Reverse: "c a b" -> "b a c". The first output depends on the last input.

    Same arguments as make_copy.
    """
    return _make_sequence_task(
        "make_reverse", lambda s: s[::-1], n, rng, min_len, max_len, n_symbols, split, test_fraction
    )


def make_sort(n, rng, min_len=1, max_len=10, n_symbols=10, split="train", test_fraction=0.1):
    """Sort: "c a b" -> "a b c" (alphabetical). Each output depends on the whole source.

    Same arguments as make_copy.
    """
    return _make_sequence_task(
        "make_sort", sorted, n, rng, min_len, max_len, n_symbols, split, test_fraction
    )


def make_addition(n, rng, min_digits=1, max_digits=3, split="train", test_fraction=0.1):
    """Addition, character level: "1 2 3 + 4 5" -> "1 6 8".

    Each operand has a number of digits uniform in [min_digits, max_digits] (no leading zeros).
    The split hashes the source, so "12+3" and "3+12" may land in different splits.
    """
    n = check_count("make_addition", n)
    _check_lengths(min_digits, max_digits)

    def operand():
        digits = int(rng.integers(min_digits, max_digits + 1))
        low = 0 if digits == 1 else 10 ** (digits - 1)
        return int(rng.integers(low, 10**digits))

    def draw():
        a, b = operand(), operand()
        return [*str(a), "+", *str(b)], list(str(a + b))

    return draw_in_split(
        draw, lambda ex: "".join(ex[0]), n, split, test_fraction, max_tries=max(1000, 50 * n)
    )


TASKS = {"copy": make_copy, "reverse": make_reverse, "sort": make_sort, "addition": make_addition}
