"""Comparisons that explain themselves: wrong shape, which output is off, by how much, and why.

Book: preface, "How grading works".
"""

from collections.abc import Callable, Mapping

import numpy as np


class Feedback(Exception):
    """A graded test failed; the message is what the learner reads."""


def check_array(what, got, expected, *, rtol=1e-6, atol=1e-8, shape_hint="", mistakes=None):
    """Raise Feedback unless ``got`` equals ``expected`` to tolerance.

    what: name shown to the learner ("dWh"); got, expected: arrays; shape_hint: the shape in letters
    ("(H, H)"); mistakes: {description: callable returning the array a known mistake produces}.
    The message names a wrong type or shape (expected vs got), NaNs, the largest error with its
    index, and the known mistake the wrong value matches, if any.
    """
    if got is None:
        raise Feedback(f"{what} is None: did you forget a `return`?")
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError) as exc:
        raise Feedback(
            f"{what} should be a NumPy array of floats, got {type(got).__name__}"
        ) from exc
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        hint = f" {shape_hint}" if shape_hint else ""
        raise Feedback(
            f"{what} has shape {got.shape}, expected{hint} = {expected.shape}."
            + _shape_advice(got.shape, expected.shape)
        )
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    if not np.all(np.isfinite(got)):
        raise Feedback(f"{what} contains NaN or inf; the reference is finite everywhere.")
    err = np.abs(got - expected)
    idx = np.unravel_index(int(np.argmax(err)), err.shape)
    where = f" at index {tuple(int(i) for i in idx)}" if err.ndim else ""
    off = np.mean(err > atol + rtol * np.abs(expected))
    message = (
        f"{what} is wrong: the largest error is {err[idx]:.3g}{where} (expected "
        f"{expected[idx]:.6g}, got {got[idx]:.6g}); {off:.0%} of the entries are off."
    )
    diagnosis = diagnose(got, mistakes or {}, rtol=rtol, atol=atol)
    if diagnosis:
        message += f" This matches a known mistake: {diagnosis}"
    raise Feedback(message)


def diagnose(got, mistakes: Mapping[str, Callable[[], object]], *, rtol=1e-6, atol=1e-8):
    """The description of the first known mistake whose output equals ``got``, or None."""
    for description, produce in mistakes.items():
        try:
            wrong = np.asarray(produce(), dtype=float)
        except Exception:  # a mistake that cannot even run on these inputs cannot match
            continue
        if wrong.shape == np.shape(got) and np.allclose(got, wrong, rtol=rtol, atol=atol):
            return description
    return None


def _shape_advice(got, expected):
    if len(got) == len(expected) and sorted(got) == sorted(expected) and got != expected:
        return " The axes are in the wrong order: is a matrix transposed?"
    if len(got) != len(expected):
        return " The number of dimensions differs: was an axis summed away, or one kept too many?"
    return ""
