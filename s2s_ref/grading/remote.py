"""The checker's view of a worker: the learner's functions as calls across the process boundary.

``RemoteLearner`` gives graded tests the same interface as ``learner.Learner`` (``learner.f(...)``
raises Feedback for a missing, unparsable or failing function), but each call sends its arguments
to the worker as values and gets values back: arrays come back as ``RemoteArray`` (a plain
ndarray that remembers the worker's object), tuples and lists as ``RemoteTuple`` / ``RemoteList``,
anything else as an ``Opaque`` handle. Passing one of those to a later call hands the worker's own
object to the learner (so a forward's cache reaches its backward unchanged). Nothing from the
worker is called, unpickled or trusted as a verdict.
"""

import time

import numpy as np

from s2s_ref.grading import protocol
from s2s_ref.grading.feedback import Feedback, explain_error
from s2s_ref.grading.models import StepModel


class WorkerDied(Exception):
    """The worker is gone (it exited, crashed, overran or broke the channel); the message says
    how, in words for the learner."""


class TestTimedOut(Exception):
    """Learner code ran past the test's time; the worker stopped it and is still usable."""


class RemoteArray(np.ndarray):
    """An array returned by learner code; ``handle`` names the worker's original object and
    ``type_name`` its type there (a list, a float, a learner's class...)."""

    handle = None
    type_name = "ndarray"


class RemoteTuple(tuple):
    handle = None
    type_name = "tuple"


class RemoteList(list):
    handle = None
    type_name = "list"


class Opaque:
    """A result that is not an array (a learner's cache object, a dict...), held by the worker."""

    def __init__(self, handle: int, type_name: str):
        self.handle, self.type_name = handle, type_name

    def __repr__(self):
        return f"<a {self.type_name} held by the worker>"


def encode_argument(value, blobs: list):
    """A JSON spec for one argument (arrays appended to ``blobs`` as ``.npy`` bytes)."""
    handle = getattr(value, "handle", None)
    if isinstance(handle, int):
        return {"handle": handle}
    if isinstance(value, np.ndarray):
        blobs.append(protocol.encode_array(np.asarray(value)))
        return {"array": len(blobs) - 1}
    if isinstance(value, np.generic):
        return {"json": value.item()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"json": value}
    if isinstance(value, StepModel):
        return {"model": value.to_json()}
    if isinstance(value, (tuple, list)):
        return {"seq": "tuple" if isinstance(value, tuple) else "list",
                "items": [encode_argument(v, blobs) for v in value]}  # fmt: skip
    raise TypeError(f"cannot send a {type(value).__name__} to the worker")


def decode_result(spec, blobs):
    """The value a worker sent back, as plain data (see the module's docstring)."""
    if not isinstance(spec, dict) or spec.get("none"):
        return None
    handle = spec.get("handle")
    if "seq" in spec:
        items = [decode_result(s, blobs) for s in spec.get("items", [])]
        value = RemoteTuple(items) if spec["seq"] == "tuple" else RemoteList(items)
    elif "array" in spec:
        value = protocol.decode_array(blobs[spec["array"]]).view(RemoteArray)
    elif "str" in spec:
        return str(spec["str"])
    else:
        return Opaque(handle, str(spec.get("type", "object")))
    value.handle, value.type_name = handle, str(spec.get("type", type(value).__name__))
    return value


class RemoteLearner:
    """``learner.rnn_forward(...)`` for a notebook loaded in a worker.

    loaded: the worker's "loaded" message (names it defines, and why others are not defined);
    deadline: the ``time.monotonic()`` instant the current test must end by.
    """

    def __init__(self, worker, loaded: dict, deadline: float):
        self._worker, self._loaded, self.deadline = worker, loaded, deadline
        self.changed: list[tuple[str, str]] = []  # (function, argument) it wrote into

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        kind = self._loaded.get("defined", {}).get(name)
        if kind is None:
            broken = self._loaded.get("broken", {}).get(name)
            raise Feedback(
                f"{broken}." if broken else
                f"`{name}` is not defined in your notebook: keep the function's name."
            )  # fmt: skip
        if kind != "function":
            raise Feedback(f"`{name}` should be a function, got {kind}.")
        return RemoteFunction(self, name)


class RemoteFunction:
    def __init__(self, learner: RemoteLearner, name: str):
        self._learner, self.__name__ = learner, name

    def __call__(self, *args, **kwargs):
        blobs: list = []
        request = {
            "op": "call",
            "target": self.__name__,
            "args": [encode_argument(a, blobs) for a in args],
            "kwargs": {k: encode_argument(v, blobs) for k, v in kwargs.items()},
            "seconds": max(self._learner.deadline - time.monotonic(), 0.01),
        }
        header, out = self._learner._worker.request(request, blobs, self._learner.deadline)
        error = header.get("error")
        if error is not None:
            raise explain(self.__name__, error)
        self._learner.changed += [(self.__name__, str(a)) for a in header.get("changed", [])]
        try:
            return decode_result(header.get("result"), out)
        except (protocol.ChannelError, IndexError, TypeError, ValueError) as exc:
            raise WorkerDied(
                f"the worker sent back something that is not a value ({exc})"
            ) from None


def explain(name: str, error: dict) -> Exception:
    """The Feedback (or TestTimedOut, WorkerDied) for a call that failed in the worker."""
    kind = error.get("kind")
    message, where = str(error.get("message", "")), str(error.get("where", ""))
    if kind == "timeout":
        return TestTimedOut()
    if kind == "signature":
        return Feedback(message)
    if kind in ("not_implemented", "memory", "raised"):
        return Feedback(explain_error(name, kind, str(error.get("type", "")), message, where))
    return WorkerDied(f"the grading worker failed: {message}")
