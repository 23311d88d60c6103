"""One grading worker: loads a learner's notebook and answers the checker's requests with values.

Started by ``runner`` (inside the sandbox that ``sandbox`` builds) as ``python -m
s2s_ref.grading.worker NOTEBOOK EXERCISE IN_FD OUT_FD [...]``. It applies its limits, loads the
notebook's definitions, sends ``{"kind": "loaded"}`` with the notebook's problems, then answers
one request at a time:

- ``{"op": "call", "target": NAME or HANDLE, "args": [...], "kwargs": {...}}``: call a learner
  function (or a learner object held by the worker) with arrays (``.npy`` blobs), JSON scalars,
  handles of earlier results or step models (``grading.models``); answer with the result as
  values (arrays, nested tuples and lists; any other object stays here, named by a handle), the
  arguments the call wrote into, or the exception as text.
- ``{"op": "torch_build" | "torch_load" | "torch_call" | "torch_train", ...}``: PyTorch
  exercises (see ``torch_ops``): build a learner's module (kept here as a handle, its state
  dict's shapes sent back), give it weights sent as arrays, call it or a learner function with
  tensors and backpropagate an upstream gradient (outputs and gradients sent back as arrays),
  train the learner's modules and send back predictions (ex06) or ask the checker to evaluate
  weights while training (ex07: ``{"kind": "evaluate"}`` messages, answered with a number).
- ``{"op": "forget"}``: drop the handles (a test ended).

The worker never holds the reference, the expected values, the held-out targets or the
mistakes; it has no verdict to send. Its stdout and stderr go to /dev/null.
"""

import argparse
import inspect
import os
import signal
import sys
import traceback

import numpy as np

from s2s_ref.grading import protocol, sandbox
from s2s_ref.grading.feedback import describe_exception

MAX_MESSAGE = 1500  # characters of one feedback or problem line: learner text is unbounded
MAX_DEPTH = 4  # nesting of tuples and lists sent back as values
MAX_ITEMS = 10_000  # items of one result sent back (the rest would be a handle)


class _TestTimeout(BaseException):  # not Exception: learner code must not swallow it by accident
    pass


def _on_alarm(signum, frame):
    raise _TestTimeout


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("exercise")
    parser.add_argument("fd_in", type=int)
    parser.add_argument("fd_out", type=int)
    parser.add_argument("--scratch", required=True, help="the working directory and HOME")
    parser.add_argument("--load-timeout", type=float, default=60.0, help="seconds to load")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="address space cap")
    parser.add_argument("--cpu-seconds", type=int, default=3600, help="CPU time cap")
    parser.add_argument("--hidden", nargs="*", default=[], help="modules left out of the copy")
    parser.add_argument("--label", default="", help="the notebook graded, as `ps` shows it")
    parser.add_argument("--hide", nargs="*", default=[], help="folders to cover (unshare mode)")
    parser.add_argument("--scratch-bytes", type=int, default=0, help="size of a scratch tmpfs")
    parser.add_argument("--uid", type=int, default=-1, help="become this user after mounting")
    args = parser.parse_args(argv)
    fd_in, fd_out = sandbox.keep_channel(args.fd_in, args.fd_out)
    sandbox.die_with_parent()
    sandbox.cover(args.hide, args.scratch, args.scratch_bytes)
    sandbox.become(args.uid)
    sandbox.limit_resources(int(args.memory_gb * 2**30), args.cpu_seconds)
    sandbox.enter_scratch(args.scratch)
    sandbox.forget_editable_installs()
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        Worker(args, fd_in, fd_out).run()
    except protocol.ChannelError:  # the checker went away or sent garbage: nothing to answer
        os._exit(3)


class Worker:
    def __init__(self, args, fd_in, fd_out):
        self.args, self.fd_in, self.fd_out = args, fd_in, fd_out
        self.namespace: dict = {}
        self.handles: dict[int, object] = {}

    def run(self):
        if not self.load():
            return
        while True:
            request, blobs = protocol.receive(self.fd_in)
            try:
                header, out = self.answer(request, blobs)
            except _TestTimeout:
                header, out = {"error": {"kind": "timeout"}}, []
            except BaseException as exc:  # the worker's own failure, reported as text
                header, out = {"error": {"kind": "worker", "message": _describe(exc)}}, []
            protocol.send(self.fd_out, header, out)

    def load(self) -> bool:
        from s2s_ref.grading.loader import NotebookError, load_notebook
        from s2s_ref.grading.reference import ImportBlocker

        # the modules are not there; this only says why an import of one fails
        ImportBlocker(self.args.exercise, tuple(self.args.hidden)).install()
        signal.setitimer(signal.ITIMER_REAL, self.args.load_timeout)
        try:
            loaded = load_notebook(self.args.notebook)
        except NotebookError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            protocol.send(self.fd_out, {"kind": "unreadable", "message": _shorten(str(exc))})
            return False
        except _TestTimeout:
            protocol.send(
                self.fd_out,
                {
                    "kind": "unreadable",
                    "message": f"loading the notebook's definitions took over "
                    f"{self.args.load_timeout:g} s (an endless loop in a class body, a "
                    "decorator or a default argument?)",
                },
            )
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.namespace = loaded.namespace
        defined = {
            name: "function" if callable(value) else type(value).__name__
            for name, value in list(self.namespace.items())
            if isinstance(name, str) and not name.startswith("__")
        }
        header = {
            "kind": "loaded",
            "problems": [_shorten(p) for p in loaded.problems[:50]],
            "defined": defined,
            "broken": {k: _shorten(v) for k, v in loaded.broken.items()},
        }
        protocol.send(self.fd_out, header)
        return True

    def answer(self, request, blobs):
        op = request.get("op")
        if op == "forget":
            self.handles.clear()
            return {"ok": True}, []
        if op in TORCH_OPS:
            return self.torch(request, blobs)
        if op != "call":
            return {"error": {"kind": "worker", "message": f"unknown request {op!r}"}}, []
        target = request.get("target")
        func = self.handles.get(target) if isinstance(target, int) else self.namespace.get(target)
        args = [self.decode(a, blobs) for a in request.get("args", [])]
        kwargs = {k: self.decode(v, blobs) for k, v in request.get("kwargs", {}).items()}
        signal.setitimer(signal.ITIMER_REAL, max(float(request.get("seconds", 30)), 0.01))
        try:
            return self.call(func, args, kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def decode(self, spec, blobs):
        if "array" in spec:
            return protocol.decode_array(blobs[spec["array"]])
        if "handle" in spec:
            return self.handles[spec["handle"]]
        if "model" in spec:
            from s2s_ref.grading.models import StepModel

            return StepModel.from_json(spec["model"])
        if "seq" in spec:
            items = [self.decode(item, blobs) for item in spec["items"]]
            return tuple(items) if spec["seq"] == "tuple" else items
        return spec.get("json")

    def call(self, func, args, kwargs):
        if not callable(func):
            return {"error": {"kind": "worker", "message": "not a function"}}, []
        names = _argument_names(func, args, kwargs)
        if isinstance(names, str):
            return {"error": {"kind": "signature", "message": names}}, []
        before = {
            name: value.copy() for name, value in names.items() if isinstance(value, np.ndarray)
        }
        try:
            result = func(*args, **kwargs)
        except _TestTimeout:
            raise
        except NotImplementedError:
            return {"error": {"kind": "not_implemented"}}, []
        except MemoryError as exc:
            return {"error": {"kind": "memory", **describe_exception(exc)}}, []
        except BaseException as exc:  # SystemExit, GeneratorExit... from learner code too
            return {"error": {"kind": "raised", **describe_exception(exc)}}, []
        changed = [
            name
            for name, copy in before.items()
            if not (
                names[name].shape == copy.shape
                and np.array_equal(names[name], copy, equal_nan=copy.dtype.kind in "fc")
            )
        ]
        blobs: list[bytes] = []
        value = self.encode(result, blobs, depth=0)
        return {"ok": True, "result": value, "changed": changed}, blobs

    def encode(self, obj, blobs, depth):
        """``obj`` as a value: None, an array, a string, a sequence of those; else a handle."""
        if obj is None:
            return {"none": True}
        handle = len(self.handles) + 1
        self.handles[handle] = obj
        kind = type(obj).__name__
        if isinstance(obj, (tuple, list)) and depth < MAX_DEPTH and len(obj) <= MAX_ITEMS:
            items = [self.encode(item, blobs, depth + 1) for item in obj]
            return {"handle": handle, "type": kind, "seq": "tuple" if isinstance(obj, tuple)
                    else "list", "items": items}  # fmt: skip
        if isinstance(obj, str):
            return {"handle": handle, "type": kind, "str": _shorten(obj)}
        array = _as_numeric(obj)
        if array is not None:
            blobs.append(protocol.encode_array(array))
            return {"handle": handle, "type": kind, "array": len(blobs) - 1}
        return {"handle": handle, "type": kind}

    def torch(self, request, blobs):
        """Answer a ``torch_*`` request (see ``torch_ops``) within the test's time."""
        signal.setitimer(signal.ITIMER_REAL, max(float(request.get("seconds", 30)), 0.01))
        try:
            return self._torch(request, blobs)
        except _TestTimeout:
            raise
        except NotImplementedError:
            return {"error": {"kind": "not_implemented"}}, []
        except MemoryError as exc:
            return {"error": {"kind": "memory", **describe_exception(exc)}}, []
        except BaseException as exc:  # learner code, as in ``call``
            return {"error": {"kind": "raised", **describe_exception(exc)}}, []
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _torch(self, request, blobs):
        from s2s_ref.grading import torch_ops

        op, target = request["op"], request.get("target")
        obj = self.handles.get(target) if isinstance(target, int) else self.namespace.get(target)
        if op == "torch_build":
            if not callable(obj):
                return {"error": {"kind": "worker", "message": "not a function"}}, []
            built = torch_ops.build(obj, request.get("args", []), request.get("seed"))
            handle = len(self.handles) + 1
            self.handles[handle] = built
            return {"ok": True, "handle": handle, "info": torch_ops.describe(built)}, []
        if op == "torch_load":
            weights = {k: protocol.decode_array(blobs[i]) for k, i in request["state"].items()}
            return {"ok": True, "info": torch_ops.load(obj, weights)}, []
        if op == "torch_train":
            task = request.get("task")
            classes = {name: self.namespace.get(name) for name in torch_ops.TRAINED[task]}
            arrays = {k: protocol.decode_array(blobs[i]) for k, i in request["arrays"].items()}
            result, out = torch_ops.train(task, classes, arrays, request["settings"], self.ask)
            return {"ok": True, "result": result}, [protocol.encode_array(a) for a in out]
        args = [self.decode(a, blobs) for a in request.get("args", [])]
        upstream = request.get("upstream")
        if upstream is not None:
            upstream = [None if g is None else self.decode(g, blobs) for g in upstream]
        module = obj if hasattr(obj, "named_parameters") else None
        answer = torch_ops.call(obj, args, tuple(request.get("grad", ())), upstream, module)
        out: list[bytes] = []

        def blob(array):
            if array is None:
                return None
            out.append(protocol.encode_array(array))
            return len(out) - 1

        header = {
            "ok": True,
            "tuple": answer["tuple"],
            "outputs": [{"type": o["type"], "array": blob(o["array"]),
                         "requires_grad": o["requires_grad"]} for o in answer["outputs"]],
            "param_grads": {k: blob(v) for k, v in answer["param_grads"].items()},
            "input_grads": [blob(g) for g in answer["input_grads"]],
        }  # fmt: skip
        return header, out

    def ask(self, weights):
        """The checker's metric for ``weights`` (a training loop's evaluation): a number."""
        names = sorted(weights)
        protocol.send(self.fd_out, {"kind": "evaluate", "names": names},
                      [protocol.encode_array(weights[n]) for n in names])  # fmt: skip
        reply, _ = protocol.receive(self.fd_in)
        return float(reply["metric"])


TORCH_OPS = ("torch_build", "torch_load", "torch_call", "torch_train")


def _as_numeric(obj):
    """A numeric ndarray made from ``obj`` here in the worker, or None when it is not one."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu().numpy()
        if isinstance(obj, (dict, set, frozenset, bytes, type)) or callable(obj):
            return None
        array = np.asarray(obj)
    except Exception:  # learner objects may refuse: they stay in the worker as handles
        return None
    if array.dtype.kind not in "biufc" or type(array) is not np.ndarray:
        return None
    return array


def _argument_names(func, args, kwargs):
    """{parameter name: argument} for the call, or a sentence when it cannot bind."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins and some callables have none
        return {f"argument {i + 1}": a for i, a in enumerate(args)} | dict(kwargs)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        return (
            f"`{getattr(func, '__name__', 'the function')}{signature}` cannot be called as the "
            f"exercise specifies ({exc}): keep the signature given in the notebook."
        )
    names = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            names |= {f"{name}[{i}]": v for i, v in enumerate(value)}
        elif kind is inspect.Parameter.VAR_KEYWORD:
            names |= value
        else:
            names[name] = value
    return names


def _describe(exc) -> str:
    return _shorten("".join(traceback.format_exception(exc, limit=-3)))


def _shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut; lone surrogates escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]} … [{len(text) - limit + 40} characters cut]"


if __name__ == "__main__":
    main()
