"""The learner's functions as graded tests see them in the learner's own process (check cells):
missing, borrowed or crashing code becomes feedback instead of a traceback, and every call gets
copies of its array arguments, as the grader's worker does."""

import copy
import functools
import inspect
import traceback

import numpy as np

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.reference import is_from_reference

_MESSAGE_LIMIT = 400  # characters of a learner exception's message quoted in feedback


class Learner:
    """Attribute access to a notebook's namespace: ``learner.rnn_forward(...)``.

    A missing name, a function taken from the reference package, ``NotImplementedError`` (the
    exercise's placeholder), a call that does not fit the function's signature and any other
    exception each raise Feedback that says so.
    """

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def __getattr__(self, name):
        func = self._namespace.get(name)
        if func is None:
            raise Feedback(f"`{name}` is not defined in your notebook: keep the function's name.")
        if not callable(func):
            raise Feedback(f"`{name}` should be a function, got {type(func).__name__}.")
        if is_from_reference(func):
            raise Feedback(
                f"`{name}` is the course's reference implementation, not yours: it scores 0. "
                "Write the function yourself."
            )
        return _explained(name, func)


def _explained(name, func):
    @functools.wraps(func)
    def call(*args, **kwargs):
        _check_signature(name, func, args, kwargs)
        args = [_copied(a) for a in args]
        kwargs = {k: _copied(v) for k, v in kwargs.items()}
        try:
            return func(*args, **kwargs)
        except Feedback:
            raise
        except NotImplementedError:
            raise Feedback(
                f"`{name}` is not implemented yet (it raises NotImplementedError)."
            ) from None
        except MemoryError as exc:
            raise Feedback(
                f"`{name}` ran out of memory ({_message(exc)}): the grader caps each notebook's "
                f"memory; is an array far too large?{_where(exc)}"
            ) from None
        except Exception as exc:
            raise Feedback(
                f"`{name}` raised {type(exc).__name__}: {_message(exc)}{_where(exc)}{_hint(exc)}"
            ) from None

    return call


def _copied(value):
    """A copy of an array (or a tuple or list of them) passed to learner code."""
    if isinstance(value, (np.ndarray, tuple, list)):
        return copy.deepcopy(value)
    return value


def _check_signature(name, func, args, kwargs):
    """Feedback when the test's call cannot bind to the learner's parameters."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins and some callables have none: just call them
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise Feedback(
            f"`{name}{signature}` cannot be called as the exercise specifies ({exc}): keep the "
            "signature given in the notebook."
        ) from None


def _message(exc) -> str:
    text = str(exc)
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + " …"


def _hint(exc) -> str:
    if isinstance(exc, NameError):
        return (
            ". Only imports, functions, classes and constants are run when grading: a function "
            "must not use variables that other cells compute."
        )
    return ""


def _where(exc) -> str:
    """' (cell 4, line 7)': the innermost frame of the learner's own cells, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({last.filename.strip('<>')}, line {last.lineno}: `{(last.line or '').strip()}`)"
