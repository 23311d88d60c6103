"""The learner's functions as graded tests see them in the learner's own process (check cells):
missing, borrowed or crashing code becomes feedback instead of a traceback, and every call gets
copies of its array arguments, as the grader's worker does."""

import copy
import functools
import inspect

import numpy as np

from s2s_ref.grading.feedback import Feedback, call_learner
from s2s_ref.grading.reference import is_from_reference


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
        return call_learner(name, func, *args, **kwargs)

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
