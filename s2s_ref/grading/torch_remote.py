"""The checker's handle on a learner's PyTorch code: modules built, given weights, called,
backpropagated and trained with plain data only.

``torch_side(learner)`` is ``Remote`` for a notebook loaded in a grading worker (each operation is
a ``torch_*`` request; the learner's objects stay there as numbered handles; tensors travel as
``.npy`` bytes of their own dtype, read with ``allow_pickle=False``) and ``Local`` for a check cell
in the learner's own kernel (the same ``torch_ops`` functions, called directly). The tests of
ex06 and ex07 are written once against this interface; they hold the reference, the expected
values and the mistakes, and compare ndarrays only: nothing the learner returns is called.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from s2s_ref.grading import protocol, torch_ops
from s2s_ref.grading.feedback import Feedback, call_learner
from s2s_ref.grading.remote import RemoteLearner, WorkerDied, encode_argument, explain


@dataclass
class Output:
    """One value a learner's call returned: its array (None unless a tensor), its type there."""

    array: np.ndarray | None
    type_name: str
    requires_grad: bool


@dataclass
class Called:
    """What a call returned: outputs (``tuple``: their number if a tuple, None for a single
    value), the module's parameter gradients and the arguments' gradients after a backward."""

    outputs: list[Output]
    tuple: int | None
    param_grads: dict[str, np.ndarray] = field(default_factory=dict)
    input_grads: list = field(default_factory=list)

    def tensors(self, what: str, names: tuple[str, ...]) -> list[np.ndarray]:
        """The outputs ``names`` as float or integer arrays; Feedback for a wrong arity or a
        value that is not a tensor."""
        if len(names) > 1 and self.tuple != len(names):
            got = f"a tuple of {self.tuple}" if self.tuple else self.outputs[0].type_name
            raise Feedback(f"`{what}` should return a tuple ({', '.join(names)}), got {got}.")
        for name, out in zip(names, self.outputs, strict=False):
            if out.array is None:
                raise Feedback(f"{name} should be a torch.Tensor, got {out.type_name}.")
        return [out.array for out in self.outputs[: len(names)]]


@dataclass
class Built:
    """A learner's object made by ``build``: ``ref`` names it (a handle, or the object itself
    in a check cell); ``shapes``: its state dict's {name: shape} when it is a torch module."""

    ref: object
    name: str
    type_name: str
    module: bool
    shapes: dict = field(default_factory=dict)


def _plain(value):
    """A checker-side tensor as an ndarray of its dtype; other values unchanged."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def _built(ref, name, info) -> Built:
    shapes = {str(k): tuple(int(n) for n in v) for k, v in (info.get("shapes") or {}).items()}
    return Built(ref, name, str(info.get("type", "object")), bool(info.get("module")), shapes)


def torch_side(learner):
    """``Remote`` for a worker's learner (``remote.RemoteLearner``), else ``Local``."""
    return Remote(learner) if isinstance(learner, RemoteLearner) else Local(learner)


class Remote:
    """Operations on learner objects held by the grading worker."""

    def __init__(self, learner: RemoteLearner):
        self.learner = learner

    def _request(self, what, request, blobs=()):
        worker, deadline = self.learner._worker, self.learner.deadline
        request["seconds"] = max(deadline - time.monotonic(), 0.01)
        header, out = worker.request(request, list(blobs), deadline)
        if header.get("error") is not None:
            raise explain(what, header["error"])
        return header, out

    def build(self, name, *args, seed=None) -> Built:
        getattr(self.learner, name)  # Feedback when it is missing or not callable
        request = {"op": "torch_build", "target": name, "args": list(args), "seed": seed}
        header, _ = self._request(name, request)
        return _built(_int(header.get("handle")), name, header.get("info") or {})

    def load(self, built: Built, weights: dict) -> None:
        blobs = [protocol.encode_array(_plain(v)) for v in weights.values()]
        state = {name: i for i, name in enumerate(weights)}
        request = {"op": "torch_load", "target": built.ref, "state": state}
        self._request(f"{built.name}.load_state_dict", request, blobs)

    def call(self, what, target, *args, grad=(), upstream=None) -> Called:
        """Call ``target`` (a Built module or the name of a learner function) with ``args``."""
        if isinstance(target, str):
            getattr(self.learner, target)
        blobs: list = []
        request = {
            "op": "torch_call",
            "target": target.ref if isinstance(target, Built) else target,
            "args": [encode_argument(_plain(a), blobs) for a in args],
            "grad": list(grad),
            "upstream": None
            if upstream is None
            else [None if g is None else encode_argument(_plain(g), blobs) for g in upstream],
        }
        header, out = self._request(what, request, blobs)
        try:
            outputs = [
                Output(
                    _array(o.get("array"), out), str(o.get("type")), bool(o.get("requires_grad"))
                )
                for o in header["outputs"]
            ]
            grads = {str(k): _array(v, out) for k, v in header.get("param_grads", {}).items()}
            inputs = [_array(v, out) for v in header.get("input_grads", [])]
            arity = header.get("tuple")
            return Called(outputs, None if arity is None else int(arity), grads, inputs)
        except (protocol.ChannelError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise WorkerDied(
                f"the worker sent back something that is not a value ({exc})"
            ) from None

    def train(self, what, task, arrays: dict, settings: dict, evaluate=None, evaluations=0):
        """Run the learner-side training of ``task`` ("ex06", "ex07") in the worker.

        arrays: {name: ndarray} (a training batch, held-out sources); settings: JSON values;
        evaluate: weights {name: ndarray} -> float, answered here at most ``evaluations`` times
        while the worker trains. -> (the worker's JSON answer, its arrays).
        """
        blobs = [protocol.encode_array(_plain(v)) for v in arrays.values()]
        names = {k: i for i, k in enumerate(arrays)}
        request = {"op": "torch_train", "task": task, "arrays": names, "settings": settings}
        header, out = self._request(what, request, blobs)
        asked = 0
        while header.get("kind") == "evaluate":
            asked += 1
            if evaluate is None or asked > evaluations:
                raise Feedback(f"{what}: the training loop asked for more than {evaluations} "
                               "evaluations, which it never does.")  # fmt: skip
            try:
                pairs = zip(header["names"], out, strict=True)
                weights = {str(n): protocol.decode_array(b) for n, b in pairs}
            except (protocol.ChannelError, KeyError, TypeError, ValueError) as exc:
                raise WorkerDied(f"the worker sent weights that are not arrays ({exc})") from None
            header, out = self._request(what, {"metric": float(evaluate(weights))})
        try:
            return header["result"], [protocol.decode_array(b) for b in out]
        except (protocol.ChannelError, KeyError) as exc:
            raise WorkerDied(
                f"the worker sent back something that is not a value ({exc})"
            ) from None


def _int(value):
    if not isinstance(value, int):
        raise WorkerDied("the worker sent back something that is not a handle")
    return value


def _array(index, blobs):
    return None if index is None else protocol.decode_array(blobs[index])


class Local:
    """The same operations on a check cell's own objects (``learner.Learner``)."""

    def __init__(self, learner):
        self.learner = learner

    def build(self, name, *args, seed=None) -> Built:
        cls = getattr(self.learner, name)
        obj = call_learner(name, torch_ops.build, cls, args, seed)
        return _built(obj, name, torch_ops.describe(obj))

    def load(self, built: Built, weights: dict) -> None:
        arrays = {k: _plain(v) for k, v in weights.items()}
        call_learner(f"{built.name}.load_state_dict", torch_ops.load, built.ref, arrays)

    def call(self, what, target, *args, grad=(), upstream=None) -> Called:
        func = getattr(self.learner, target) if isinstance(target, str) else target.ref
        module = None if isinstance(target, str) else target.ref
        plain = [_plain(a) for a in args]
        ups = None if upstream is None else [None if g is None else _plain(g) for g in upstream]
        answer = call_learner(what, torch_ops.call, func, plain, tuple(grad), ups, module)
        outputs = [Output(o["array"], o["type"], o["requires_grad"]) for o in answer["outputs"]]
        return Called(outputs, answer["tuple"], answer["param_grads"], answer["input_grads"])

    def train(self, what, task, arrays: dict, settings: dict, evaluate=None, evaluations=0):
        classes = {name: getattr(self.learner, name) for name in torch_ops.TRAINED[task]}
        plain = {k: _plain(v) for k, v in arrays.items()}
        return call_learner(what, torch_ops.train, task, classes, plain, settings, evaluate)
