"""Comparisons that explain themselves: wrong shape, which output is off, by how much, and why.

Book: preface, "How grading works".
"""

import contextlib
import contextvars
import traceback
from collections.abc import Callable, Mapping

import numpy as np

FLOAT32 = dict(rtol=1e-4, atol=1e-5)  # what a correct float32 computation reaches
_NOTES: contextvars.ContextVar = contextvars.ContextVar("notes", default=None)


class Feedback(Exception):
    """A graded test failed; the message is what the learner reads."""


@contextlib.contextmanager
def notes():
    """Collect the notes of the checks made inside (values right only to float32 precision):
    the test passes on values and loses at most one point for them."""
    found: list[str] = []
    token = _NOTES.set(found)
    try:
        yield found
    finally:
        _NOTES.reset(token)


@contextlib.contextmanager
def case(label: str):
    """Feedback raised inside names the case it came from ("with N = 1, T = 1: ...")."""
    try:
        yield
    except Feedback as exc:
        raise Feedback(f"{label}: {exc}" if label else str(exc)) from None


class Findings:
    """Several outputs checked together: every wrong one is reported, not only the first.

    ``findings.check(...)`` takes ``check_array``'s arguments; ``findings.raise_any()`` raises one
    Feedback holding every message.
    """

    def __init__(self):
        self.messages: list[str] = []

    def check(self, *args, **kwargs) -> None:
        try:
            check_array(*args, **kwargs)
        except Feedback as exc:
            self.messages.append(str(exc))

    def raise_any(self) -> None:
        if self.messages:
            raise Feedback(" ".join(self.messages))


def check_array(what, got, expected, *, rtol=1e-6, atol=1e-8, shape_hint="", mistakes=None):
    """Raise Feedback unless ``got`` equals ``expected`` to tolerance.

    what: name shown to the learner ("dWh"); got, expected: arrays; shape_hint: the shape in letters
    ("(H, H)"); mistakes: {description: callable returning the array a known mistake produces}.
    The message names a wrong type or shape (expected vs got), NaNs, the largest error with its
    index, and the known mistake the wrong value matches, if any.
    """
    if got is None:
        raise Feedback(f"{what} is None: did you forget a `return`?")
    dtype = getattr(got, "dtype", None)
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError) as exc:
        raise Feedback(f"{what} should be a NumPy array of floats, got {type_name(got)}") from exc
    expected_kind = np.asarray(expected).dtype.kind  # dtype advice only where floats are expected
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        hint = f" {shape_hint}" if shape_hint else ""
        raise Feedback(
            f"{what} has shape {got.shape}, expected{hint} = {expected.shape}."
            + _shape_advice(got.shape, expected.shape)
            + _matches(got, mistakes, rtol, atol, expected)
        )
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    if not np.all(np.isfinite(got)):
        raise Feedback(
            f"{what} contains NaN or inf; the reference is finite everywhere."
            + _matches(got, mistakes, rtol, atol, expected)
        )
    if expected_kind == "f" and _check_dtype(what, dtype, got, expected):
        return
    err = np.abs(got - expected)
    idx = np.unravel_index(int(np.argmax(err)), err.shape)
    where = f" at index {tuple(int(i) for i in idx)}" if err.ndim else ""
    off = np.mean(err > atol + rtol * np.abs(expected))
    want, have = _distinct(expected[idx], got[idx])
    message = (
        f"{what} is wrong: the largest error is {err[idx]:.3g}{where} (expected {want}, got "
        f"{have}); {off:.0%} of the entries are off."
    )
    raise Feedback(message + _matches(got, mistakes, rtol, atol, expected))


def _matches(got, mistakes, rtol, atol, expected) -> str:
    diagnosis = diagnose(got, mistakes or {}, rtol=rtol, atol=atol, expected=expected)
    return f" This matches a known mistake: {diagnosis}" if diagnosis else ""


def _distinct(expected: float, got: float) -> tuple[str, str]:
    """The two numbers printed with enough digits that they do not read the same."""
    for digits in (6, 9, 12, 17):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            return a, b
    return repr(float(expected)), repr(float(got))


def _check_dtype(what, dtype, got, expected) -> bool:
    """Feedback for values that are off only because of an integer or low-precision dtype; True
    when they are right to float32 precision and a test is collecting notes (see ``notes``)."""
    if not isinstance(dtype, np.dtype):  # a list or a scalar: values decide
        return False
    kind = dtype.kind
    if kind in "iub":
        raise Feedback(
            f"{what} has integer dtype {dtype}, so its values were truncated: build it as a float "
            "array (np.zeros(shape) is float64; np.zeros_like of an integer array is not)."
        )
    if kind == "f" and dtype.itemsize < 8 and np.allclose(got, expected, **FLOAT32):
        found = _NOTES.get()
        message = (
            f"{what} has dtype {dtype}: its values are right to {dtype} precision, but the inputs "
            "are float64 and casting down loses precision; keep the inputs' dtype (this costs at "
            "most 1 point)."
        )
        if found is None:  # no test is collecting notes: a plain failure
            raise Feedback(message)
        found.append(message)
        return True
    if kind == "f" and dtype.itemsize < 8 and np.allclose(got, expected, rtol=1e-3, atol=1e-5):
        raise Feedback(
            f"{what} has dtype {dtype}: the inputs are float64, and casting down loses the "
            "precision the test needs; keep the inputs' dtype."
        )
    return False


def type_name(value) -> str:
    """The name of a value's type as the learner wrote it (also for values from a worker)."""
    return getattr(value, "type_name", None) or type(value).__name__


def unpack(result, func: str, names: tuple[str, ...]):
    """``result`` if it is a tuple (or list) of ``len(names)`` items, else Feedback saying what
    ``func`` returned instead."""
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return tuple(result)
    expected = f"a tuple ({', '.join(names)})"
    if result is None:
        raise Feedback(f"`{func}` returned None, expected {expected}: did you forget a `return`?")
    got = (
        f"a {type_name(result)} of {len(result)}"
        if isinstance(result, (tuple, list))
        else type_name(result)
    )
    raise Feedback(f"`{func}` should return {expected}, got {got}.")


def call_learner(name: str, func, *args, **kwargs):
    """Call learner code in this process; its exceptions become Feedback naming it, with the line
    of the learner's cell it came from (the same words as for a call in a worker: ``explain_error``
    below)."""
    try:
        return func(*args, **kwargs)
    except Feedback:
        raise
    except NotImplementedError:
        raise Feedback(explain_error(name, "not_implemented")) from None
    except MemoryError as exc:
        raise Feedback(explain_error(name, "memory", **describe_exception(exc))) from None
    except Exception as exc:
        raise Feedback(explain_error(name, "raised", **describe_exception(exc))) from None


MESSAGE_LIMIT = 400  # characters of a learner exception's message quoted in feedback


def describe_exception(exc: BaseException) -> dict:
    """A learner exception as plain data: its type, its message (cut) and where in the learner's
    cells it was raised (' (cell 4, line 7: `code`)', or '')."""
    text = str(exc)
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT] + " …"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = ""
    if frames:
        last = frames[-1]
        where = f" ({last.filename.strip('<>')}, line {last.lineno}: `{(last.line or '').strip()}`)"
    return {"type": type(exc).__name__, "message": text, "where": where}


def explain_error(name: str, kind: str, type: str = "", message: str = "", where: str = "") -> str:
    """The feedback for learner function ``name`` failing: ``kind`` "not_implemented", "memory"
    or "raised" (an exception of ``type`` with ``message``, raised ``where``)."""
    if kind == "not_implemented":
        return f"`{name}` is not implemented yet (it raises NotImplementedError)."
    if kind == "memory":
        return (
            f"`{name}` ran out of memory ({message}): the grader caps each notebook's memory; is "
            f"an array far too large?{where}"
        )
    hint = (
        ". Only imports, functions, classes and constants are run when grading: a function "
        "must not use variables that other cells compute."
        if type == "NameError"
        else ""
    )
    return f"`{name}` raised {type or 'an exception'}: {message}{where}{hint}"


def forward_for_cache(forward, names: tuple[str, ...], *args, **kwargs):
    """The learner's forward's outputs ``names`` (the last one its opaque cache), for a test of
    its backward; Feedback that says so when the forward itself fails."""
    try:
        return unpack(forward(*args, **kwargs), forward.__name__, names)
    except Feedback as exc:
        raise Feedback(
            f"this test needs your `{forward.__name__}` for the cache, and it failed: {exc}"
        ) from None


def diagnose(
    got, mistakes: Mapping[str, Callable[[], object]], *, rtol=1e-6, atol=1e-8, expected=None
):
    """The description of the first known mistake whose output equals ``got`` and, on these
    inputs, differs from ``expected`` (the reference), or None."""
    for description, produce in mistakes.items():
        try:
            wrong = np.asarray(produce(), dtype=float)
        except Exception:  # a mistake that cannot even run on these inputs cannot match
            continue
        if wrong.shape != np.shape(got) or not np.allclose(
            got, wrong, rtol=rtol, atol=atol, equal_nan=True
        ):
            continue
        if (
            expected is not None
            and wrong.shape == np.shape(expected)
            and np.allclose(wrong, expected, rtol=rtol, atol=atol, equal_nan=True)
        ):
            continue  # indistinguishable from the right answer here: no label
        return description
    return None


def _shape_advice(got, expected):
    if len(got) == len(expected) and sorted(got) == sorted(expected) and got != expected:
        return " The axes are in the wrong order: is a matrix transposed?"
    if len(got) != len(expected):
        return " The number of dimensions differs: was an axis summed away, or one kept too many?"
    return ""
