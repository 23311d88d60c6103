"""One training loop for every PyTorch model of the course: typed config, progress bar, gradient
clipping, warm-up + cosine learning rate, early stopping, atomic resumable checkpoints.

Resuming is bit-identical on CPU: the batch order, the scheduled-sampling coins and the learning
rate are pure functions of (seed, step), and the checkpoint holds the model, the optimiser and the
loop's counters, so k steps + save + load + m steps equals k + m steps straight.
Book: chapter 6, "The training loop".
"""

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field

import torch
from tqdm import TqdmWarning

with warnings.catch_warnings():  # in Jupyter without ipywidgets: a text bar, not a warning
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

from s2s_ref import __version__
from s2s_ref.atomic import atomic_open, folder_lock, sweep_temp_files
from s2s_ref.teacher_forcing import inverse_sigmoid_decay
from s2s_ref.torch_nn.devices import autocast, resolve_device, resolve_precision
from s2s_ref.torch_nn.loss import masked_cross_entropy

SCHEDULES = ("cosine", "constant")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
FIELDS = ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")


@dataclass
class TrainConfig:
    """Everything the loop needs; impossible values raise ValueError when the config is made.

    teacher_forcing: the ratio at step 0; sampling_decay k > 0 lowers it over training by
    Bengio et al.'s inverse sigmoid, ratio * k / (k + exp(step / k)), k >= 1 (None: fixed).
    patience: evaluations without improvement before stopping (None: never stop early);
    target: stop as soon as the metric reaches it; time_budget_s: stop after that much training,
    measured on budget_clock: "wall" (elapsed) or "cpu" (this process's CPU seconds, the fair
    measure on a machine shared with other jobs).
    precision: "auto" (bf16 autocast on CUDA, fp32 on CPU), "fp32" or "bf16".
    cpu_threads: torch threads during training (restored after); 1 is fastest for small RNNs on
    a busy CPU, where threads wait on each other.
    Book: chapter 6, "The training loop".
    """

    lr: float = 1e-2
    batch_size: int = 64
    max_steps: int = 1000
    warmup_steps: int = 50
    schedule: str = "cosine"
    clip_norm: float | None = 1.0
    teacher_forcing: float = 1.0
    sampling_decay: float | None = None
    eval_every: int = 100
    patience: int | None = None
    target: float | None = None
    time_budget_s: float | None = None
    budget_clock: str = "wall"
    checkpoint_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    cpu_threads: int | None = None
    progress: bool = True

    def __post_init__(self):
        rules = {  # field: (holds, what it must be)
            "lr": (math.isfinite(self.lr) and self.lr > 0, "a finite number > 0"),
            "batch_size": (
                isinstance(self.batch_size, int) and self.batch_size >= 1,
                "an integer >= 1",
            ),
            "max_steps": (
                isinstance(self.max_steps, int) and self.max_steps >= 1,
                "an integer >= 1",
            ),
            "warmup_steps": (self.warmup_steps >= 0, ">= 0"),
            "schedule": (self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            "clip_norm": (self.clip_norm is None or self.clip_norm > 0, "None or > 0"),
            "teacher_forcing": (0 <= self.teacher_forcing <= 1, "in [0, 1]"),
            "sampling_decay": (
                self.sampling_decay is None or self.sampling_decay >= 1,
                "None or >= 1",
            ),
            "eval_every": (self.eval_every >= 1, ">= 1"),
            "patience": (self.patience is None or self.patience >= 1, "None or >= 1"),
            "time_budget_s": (
                self.time_budget_s is None or self.time_budget_s > 0,
                "None or > 0 seconds",
            ),
            "budget_clock": (self.budget_clock in CLOCKS, f"one of {tuple(CLOCKS)}"),
            "cpu_threads": (self.cpu_threads is None or self.cpu_threads >= 1, "None or >= 1"),
        }
        for name, (holds, want) in rules.items():
            if not holds:
                value = getattr(self, name)
                raise ValueError(f"TrainConfig: {name}={value!r} is impossible; it must be {want}")


@dataclass
class TrainResult:
    """What a run did: steps taken, why it stopped, metric history, wall and CPU time, speed;
    note: a sentence when nothing was trained because the run had already finished."""

    step: int
    stopped: str
    best_metric: float | None
    seconds: float
    cpu_seconds: float
    tokens_per_s: float
    history: list = field(default_factory=list)
    note: str = ""


def lr_at(step, config):
    """Linear warm-up to config.lr, then cosine decay to 0 at max_steps (or constant)."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def teacher_forcing_at(step, config):
    """The teacher-forcing ratio at a step (inverse sigmoid decay when sampling_decay is set)."""
    if config.sampling_decay is None:
        return config.teacher_forcing
    return config.teacher_forcing * inverse_sigmoid_decay(step, config.sampling_decay)


def batch_indices(step, n_examples, config):
    """Indices of a step: per-epoch shuffles seeded by (seed, epoch), no partial batch."""
    per_epoch = n_examples // config.batch_size
    epoch, i = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    return torch.randperm(n_examples, generator=g)[
        i * config.batch_size : (i + 1) * config.batch_size
    ]


def trim_batch(batch):
    """A batch cut to its own longest source and target: the padding columns no row uses.

    batch: {"src", "src_mask": (N, S_max); "tgt_in", "tgt_out", "tgt_mask": (N, T_max)} tensors
    -> the same keys, (N, S) and (N, T), S and T the longest real lengths in this batch (views).
    """
    S, T = int(batch["src_mask"].sum(1).max()), int(batch["tgt_mask"].sum(1).max())
    return {k: v[:, : (S if k.startswith("src") else T)] for k, v in batch.items()}


def save_atomic(obj, path):
    """torch.save through ``s2s_ref.atomic``: a temporary file beside ``path``, fsync, os.replace,
    fsync of the folder, so a kill at any moment leaves the old file or the new one, never a torn
    one (the temporary files of killed saves are swept when the next run starts)."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


class CheckpointError(ValueError):
    """A checkpoint is unreadable, damaged, or made by another run (its fingerprint differs)."""


# Config fields that do not change what a run computes: a resume may change them freely.
_FREE_FIELDS = (
    "checkpoint_dir",
    "device",
    "cpu_threads",
    "progress",
    "time_budget_s",
    "budget_clock",
)
# Why a run may stop for good: a rerun of such a run trains no further.
FINISHED = ("max_steps", "early_stop", "time_budget", "target")


def run_fingerprint(model, data, config, evaluates):
    """What a checkpoint must agree with to be resumed: the config (except the fields that do not
    change the computation: device, threads, progress bar, time budget, folder), the model's class
    and parameter shapes, the training data (size and sha256), whether the run evaluates, and the
    package version. -> a dict of JSON-able values.

    data: tensors src (M, S), src_mask (M, S), tgt_in, tgt_out, tgt_mask (M, T) by name.
    """
    digest = hashlib.sha256()
    for k in FIELDS:
        t = data[k].detach().cpu().contiguous()
        digest.update(f"{k}{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.numpy().tobytes())
    return {
        "config": {k: v for k, v in asdict(config).items() if k not in _FREE_FIELDS},
        "model": type(model).__name__,
        "parameters": {name: list(p.shape) for name, p in model.state_dict().items()},
        "data": {"examples": int(data["src"].shape[0]), "sha256": digest.hexdigest()},
        "evaluates": bool(evaluates),
        "version": __version__,
    }


def _short(fingerprint):
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12]


def _differences(saved, current, prefix=""):
    """The leaves where two fingerprints differ, as 'key: saved -> current' strings."""
    if not (isinstance(saved, dict) and isinstance(current, dict)):
        return [] if saved == current else [f"{prefix or 'value'}: {saved!r} -> {current!r}"]
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}.{key}" if prefix else str(key)
        out += _differences(saved.get(key, "<absent>"), current.get(key, "<absent>"), name)
    return out


def save_checkpoint(path, payload, fingerprint):
    """Write ``payload`` (a dict of tensors, numbers, lists) with its run ``fingerprint`` and the
    sha256 of its bytes, atomically (save_atomic)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    blob = buffer.getvalue()
    save_atomic(
        {
            "format": 1,
            "fingerprint": fingerprint,
            "sha256": hashlib.sha256(blob).hexdigest(),
            "payload": blob,
        },
        path,
    )


def load_checkpoint(path, fingerprint=None, map_location="cpu"):
    """Read a checkpoint written by save_checkpoint -> its payload dict.

    Loads with ``torch.load(weights_only=True)`` (no code in the file can run), checks the sha256
    of the payload, and, when ``fingerprint`` is given, that the file was made by the same run.
    Raises CheckpointError naming the file (and both fingerprints on a mismatch).
    """
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds on a damaged file
        raise CheckpointError(
            f"the checkpoint {path} cannot be read ({type(err).__name__}: {err}); it is damaged "
            "or not a checkpoint of s2s_ref.torch_nn.training: delete it to start afresh"
        ) from None
    keys = {"format", "fingerprint", "sha256", "payload"}
    if not isinstance(outer, dict) or set(outer) != keys or not isinstance(outer["payload"], bytes):
        raise CheckpointError(
            f"the checkpoint {path} is not one written by s2s_ref.torch_nn.training (it lacks "
            "the fingerprint and sha256 header); delete it to start afresh"
        )
    if hashlib.sha256(outer["payload"]).hexdigest() != outer["sha256"]:
        raise CheckpointError(
            f"the checkpoint {path} is damaged: the sha256 of its payload does not match the one "
            "stored with it; delete it to start afresh"
        )
    if fingerprint is not None and outer["fingerprint"] != fingerprint:
        diffs = _differences(outer["fingerprint"], fingerprint)
        raise CheckpointError(
            f"the checkpoint {path} was made by another run: its fingerprint "
            f"{_short(outer['fingerprint'])} differs from this run's {_short(fingerprint)} "
            f"({'; '.join(diffs[:6])}); use another checkpoint_dir or delete the file"
        )
    try:
        return torch.load(
            io.BytesIO(outer["payload"]), map_location=map_location, weights_only=True
        )
    except Exception as err:
        raise CheckpointError(
            f"the checkpoint {path} has a payload that cannot be read ({err})"
        ) from None


def _checkpoint_folder(config):
    folder = config.checkpoint_dir
    try:
        os.makedirs(folder, exist_ok=True)
        probe = tempfile.TemporaryFile(dir=folder)  # os.access lies for root and some mounts
        probe.close()
    except OSError as err:
        raise ValueError(f"checkpoint_dir {folder!r} is not writable: {err}") from err
    return folder


@contextlib.contextmanager
def _threads(n):
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train(model, data, config, evaluate=None, until_step=None):
    """Train ``model`` on ``data`` with Adam; resume from config.checkpoint_dir/last.pt if present.

    data: an object with src (M, S), src_mask (M, S), tgt_in, tgt_out, tgt_mask (M, T) arrays or
    tensors (e.g. ``s2s_ref.data.batching.make_batch`` of the whole training set); each batch is
    trimmed to its own longest source and target. evaluate: model -> float, higher is better,
    called every eval_every steps (in eval mode, without gradients); a NaN metric is never the
    best. until_step: pause after this step (an integer in [0, max_steps]; checkpoint written)
    without ending the schedule, to continue later.
    With a checkpoint_dir the folder is locked for the run (a second training there fails at once),
    temporary files of killed saves are swept, and last.pt is resumed only if its run fingerprint
    (see run_fingerprint) matches; a finished run (see FINISHED) is not trained again.
    A non-finite or exploding loss (above 100 log V) raises FloatingPointError before the update.
    -> TrainResult; the model ends with its best evaluated weights when evaluate is given.
    Book: chapter 6, "The training loop".
    """
    if until_step is not None and (
        isinstance(until_step, bool)
        or not isinstance(until_step, int)
        or not 0 <= until_step <= config.max_steps
    ):
        raise ValueError(
            f"until_step={until_step!r} is impossible; it must be None or an integer in "
            f"[0, max_steps={config.max_steps}]"
        )
    tensors = {k: torch.as_tensor(getattr(data, k)) for k in FIELDS}
    M = tensors["src"].shape[0]
    if config.batch_size > M:
        raise ValueError(f"batch_size {config.batch_size} exceeds the {M} training examples")
    if not config.checkpoint_dir:
        return _train(model, tensors, config, evaluate, until_step, None)
    folder = _checkpoint_folder(config)
    with folder_lock(folder):
        sweep_temp_files(folder)
        return _train(model, tensors, config, evaluate, until_step, os.path.join(folder, "last.pt"))


def _train(model, tensors, config, evaluate, until_step, path):
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    M = tensors["src"].shape[0]
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    state = {
        "step": 0,
        "best": None,
        "bad_evals": 0,
        "history": [],
        "best_state": None,
        "stopped": None,
    }
    fingerprint = run_fingerprint(model, tensors, config, evaluate is not None) if path else None
    if path and os.path.exists(path):
        saved = load_checkpoint(path, fingerprint, map_location=device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["loop"]
        if state["stopped"] in FINISHED:
            return _finished(model, state, path, evaluate)
    stop_step = config.max_steps if until_step is None else until_step
    clock, start_cpu = CLOCKS[config.budget_clock], time.process_time()
    stopped, tokens, start, start_clock = "max_steps", 0, time.perf_counter(), clock()
    bar = tqdm(
        total=stop_step,
        initial=min(state["step"], stop_step),
        desc="train",
        disable=not config.progress,
        mininterval=1.0,
    )
    with _threads(config.cpu_threads):
        model.train()
        while state["step"] < stop_step:
            step = state["step"]
            idx = batch_indices(step, M, config)
            b = {
                k: v.to(device)
                for k, v in trim_batch({k: v[idx] for k, v in tensors.items()}).items()
            }
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, config)
            coins = torch.Generator().manual_seed(config.seed * 7_919 + step)
            with autocast(device, precision):
                logits = model(
                    b["src"], b["src_mask"], b["tgt_in"], teacher_forcing_at(step, config), coins
                )
                loss = masked_cross_entropy(logits, b["tgt_out"], b["tgt_mask"])
            _check_loss(loss.item(), logits.shape[-1], step, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                if not torch.isfinite(norm):
                    raise FloatingPointError(
                        f"training stopped at step {step + 1}: the gradient norm is {norm.item()}"
                        f" (the loss was {loss.item():.4g}); lower lr={config.lr}"
                    )
            optimizer.step()
            state["step"] = step = step + 1
            tokens += int(b["tgt_mask"].sum())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr_at(step - 1, config):.1e}")
            record = {"step": step, "loss": loss.item()}
            if evaluate is not None and (step % config.eval_every == 0 or step == stop_step):
                stopped = _evaluate(model, evaluate, config, state, record) or stopped
            if record.keys() > {"step", "loss"} or step % config.eval_every == 0:
                state["history"].append(record)
            elapsed = clock() - start_clock
            if config.time_budget_s is not None and elapsed >= config.time_budget_s:
                stopped = "time_budget"
            finished = stopped != "max_steps" or step == config.max_steps
            if finished:
                state["stopped"] = stopped
            if path and (step % config.eval_every == 0 or step == stop_step or finished):
                save_checkpoint(
                    path,
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "loop": state,
                    },
                    fingerprint,
                )
            if stopped != "max_steps":
                break
    bar.close()
    if state["stopped"] is None:
        stopped = "paused"
    if evaluate is not None and state["best_state"] is not None and stopped != "paused":
        model.load_state_dict(state["best_state"])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    return TrainResult(
        state["step"],
        stopped,
        state["best"],
        seconds,
        cpu_seconds,
        tokens / max(seconds, 1e-9),
        list(state["history"]),
    )


def _finished(model, state, path, evaluate):
    """The result of a rerun of a finished run: nothing trained, the model as the run left it."""
    if evaluate is not None and state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    note = (
        f"the run in {path} already finished at step {state['step']} ({state['stopped']}); "
        "nothing was trained (delete the checkpoint to train again)"
    )
    print(note, file=sys.stderr)
    return TrainResult(
        state["step"], state["stopped"], state["best"], 0.0, 0.0, 0.0, list(state["history"]), note
    )


def _check_loss(value, V, step, config):
    """Stop on a NaN/inf loss or one above 100 log V (a uniform guess scores log V)."""
    limit = 100 * max(math.log(V), 1.0)
    if not math.isfinite(value) or value > limit:
        kind = "not finite" if not math.isfinite(value) else f"above {limit:.4g}: exploding"
        raise FloatingPointError(
            f"training stopped at step {step + 1}: the loss is {value:.4g} ({kind}); lower "
            f"lr={config.lr}" + (" or set clip_norm" if config.clip_norm is None else "")
        )


def _evaluate(model, evaluate, config, state, record):
    """Run evaluate, keep the best weights, count patience; return a stop reason or None."""
    model.eval()
    with torch.no_grad():
        metric = float(evaluate(model))
    model.train()
    record["metric"] = metric
    if math.isfinite(metric) and (state["best"] is None or metric > state["best"]):
        state["best"], state["bad_evals"] = metric, 0
        state["best_state"] = copy.deepcopy(model.state_dict())
    else:
        state["bad_evals"] += 1
    if config.target is not None and metric >= config.target:
        return "target"
    if config.patience is not None and state["bad_evals"] >= config.patience:
        return "early_stop"
    return None
