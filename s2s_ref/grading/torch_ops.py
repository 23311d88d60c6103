"""PyTorch learner code driven with plain data: build a module, load weights, call it, backward.

The grading worker answers the checker's ``torch_*`` requests with these functions (the learner's
objects stay in the worker; only arrays, numbers and names go back), and a notebook's check cells
call them directly (``torch_remote.Local``), so that both run the same code. Inputs arrive as
ndarrays and become tensors of the same dtype (ids stay int64, masks bool); every result is an
ndarray, a JSON number, a string or a list of those.
"""

import contextlib

import numpy as np
import torch


def as_tensor(value, requires_grad=False):
    """An ndarray as a fresh tensor of its dtype (a float one tracking gradients if asked);
    JSON values and learner objects pass through unchanged."""
    if not isinstance(value, np.ndarray):
        return value
    tensor = torch.from_numpy(np.array(value, copy=True))
    return tensor.requires_grad_() if requires_grad and tensor.is_floating_point() else tensor


def build(cls, args, seed=None):
    """``cls(*args)``, with torch's random state seeded by ``seed`` (and restored) if given."""
    if seed is None:
        return cls(*args)
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        return cls(*args)


def describe(obj) -> dict:
    """The type of ``obj`` and, for a module, its state dict's shapes {name: [sizes]}."""
    info = {"type": type(obj).__name__, "module": isinstance(obj, torch.nn.Module)}
    if info["module"]:
        info["shapes"] = {k: list(v.shape) for k, v in obj.state_dict().items()}
    return info


def state(module) -> dict[str, np.ndarray]:
    """A module's state dict as float64 ndarrays."""
    return {k: v.detach().double().cpu().numpy() for k, v in module.state_dict().items()}


def load(module, weights: dict[str, np.ndarray]) -> dict:
    """Make ``module`` float64 and give it ``weights`` (all of its state, nothing else)."""
    module.double()
    module.load_state_dict(
        {k: torch.from_numpy(np.array(v, copy=True)) for k, v in weights.items()}
    )
    return describe(module)


def value(obj) -> dict:
    """One output as plain data: {"type", "array" (an ndarray or None), "requires_grad"}."""
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu()
        array = (tensor.double() if tensor.is_floating_point() else tensor).numpy()
        return {"type": "Tensor", "array": array, "requires_grad": bool(obj.requires_grad)}
    return {"type": type(obj).__name__, "array": None, "requires_grad": False}


def call(func, args, grad=(), upstream=None, module=None) -> dict:
    """Call ``func(*args)``; with ``upstream`` (one gradient or None per output), backpropagate
    sum(output * upstream) and report the gradients of ``module``'s parameters and of the
    arguments listed in ``grad`` (their positions).

    -> {"tuple": number of outputs or None for a single one, "outputs": [value(...)],
        "param_grads": {name: ndarray}, "input_grads": [ndarray or None]}
    """
    tensors = [as_tensor(a, i in grad) for i, a in enumerate(args)]
    if module is not None:
        module.zero_grad(set_to_none=True)
    result = func(*tensors)
    outputs = list(result) if isinstance(result, tuple) else [result]
    answer = {
        "tuple": len(outputs) if isinstance(result, tuple) else None,
        "outputs": [value(o) for o in outputs],
        "param_grads": {},
        "input_grads": [],
    }
    if upstream is None:
        return answer
    terms = [
        (o * as_tensor(g).to(o.dtype)).sum()
        for o, g in zip(outputs, upstream, strict=False)
        if g is not None and isinstance(o, torch.Tensor) and o.requires_grad
    ]
    if terms:
        sum(terms).backward()
    if module is not None:
        answer["param_grads"] = {
            name: p.grad.detach().double().numpy()
            for name, p in module.named_parameters()
            if p.grad is not None
        }
    answer["input_grads"] = [
        t.grad.detach().double().numpy()
        if i in grad and isinstance(t, torch.Tensor) and t.grad is not None
        else None
        for i, t in enumerate(tensors)
    ]
    return answer


@contextlib.contextmanager
def deterministic(seed: int):
    """While inside: torch's random state forked and seeded with ``seed``, its deterministic
    algorithms on; both restored afterwards (a check cell runs in the learner's own kernel)."""
    before = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(before)


TRAINED = {"ex06": ("Encoder", "Decoder"), "ex07": ("LuongDecoder",)}  # the learner's classes


def train(task, classes, arrays, settings, evaluate=None):
    """The learner-side training of ``task``: ex06 trains ``classes`` and returns the greedy
    token ids for the held-out sources ``arrays["src"]`` and the trained weights (named in the
    JSON dict's "weights"); ex07 trains, asking ``evaluate(weights)`` for the metric.
    -> (a JSON dict, a list of ndarrays)."""
    if task == "ex06":
        from s2s_ref.grading.ex06_training import learner_predictions

        data = {k.removeprefix("train_"): v for k, v in arrays.items() if k.startswith("train_")}
        tokens, weights = learner_predictions(
            classes["Encoder"], classes["Decoder"], data, arrays["src"], arrays["src_mask"],
            *(settings[k] for k in ("V", "sos_id", "eos_id", "seed")),
        )  # fmt: skip
        names = sorted(weights)
        return {"weights": names}, [tokens, *(weights[n] for n in names)]
    if task == "ex07":
        from s2s_ref.grading.ex07_training import learner_training

        step = learner_training(classes["LuongDecoder"], arrays, settings["seed"],
                                lambda model: evaluate(state(model)))  # fmt: skip
        return {"step": int(step)}, []
    raise ValueError(f"no training task {task!r}")
