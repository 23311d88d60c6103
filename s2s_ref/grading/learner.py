"""The learner's functions as graded tests see them: missing, borrowed or crashing code becomes
feedback instead of a traceback."""

import functools
import traceback

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.reference import Borrowed, is_from_reference, tripwired


class Learner:
    """Attribute access to a notebook's namespace: ``learner.rnn_forward(...)``.

    A missing name, a function taken from the reference package, ``NotImplementedError`` (the
    exercise's placeholder) and any other exception each raise Feedback that says so.
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
        try:
            with tripwired():
                return func(*args, **kwargs)
        except Borrowed:
            raise Feedback(
                f"`{name}` calls the course's reference implementation instead of computing the "
                "result itself: it scores 0. Write the function yourself."
            ) from None
        except Feedback:
            raise
        except NotImplementedError:
            raise Feedback(
                f"`{name}` is not implemented yet (it raises NotImplementedError)."
            ) from None
        except Exception as exc:
            raise Feedback(f"`{name}` raised {type(exc).__name__}: {exc}{_where(exc)}") from None

    return call


def _where(exc) -> str:
    """' (cell 4, line 7)': the innermost frame of the learner's own cells, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({last.filename.strip('<>')}, line {last.lineno}: `{(last.line or '').strip()}`)"
