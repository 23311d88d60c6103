"""What every experiment's command line shares: argument types that refuse impossible values with
a sentence (argparse prints it and exits with status 2, never a traceback), the output checked
before the long work starts, and results written atomically (``s2s_ref.atomic``) to one place.

Results live in ``s2s_ref/experiments/results/<name>.json``, one file per run, named after the
experiment's module (``results_path``); every experiment's ``--out`` defaults to its file
(``out_arg``), and the book reads them with ``load_results(name)``, from any working directory or
an installed wheel.
"""

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from s2s_ref.atomic import check_output, write_atomic
from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab

RESULTS = Path(__file__).parent / "results"


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind.__name__} number, got {text!r}") from None


def positive_int(text) -> int:
    """An integer >= 1 (steps, seeds' count, epochs, repeats)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def seed_arg(text) -> int:
    """A seed: an integer >= 0 (NumPy's generators refuse negative seeds)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed, an integer >= 0, got {text}")
    return value


def positive_float(text) -> float:
    """A finite number > 0 (a time budget in seconds, a target)."""
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def output_arg(parser, path, *, inputs=()):
    """Check an output path before any work (its folder exists, it is none of ``inputs``);
    a bad one ends the command through ``parser.error`` (a sentence, exit status 2)."""
    try:
        return check_output(path, inputs=inputs)
    except (OSError, ValueError) as err:
        parser.error(str(err))


def write_json(path, obj, **kw):
    """Write ``obj`` as indented JSON, atomically; kw: more json.dumps options."""
    write_atomic(path, json.dumps(obj, indent=1, **kw) + "\n")


def results_path(name) -> Path:
    """Where the results called ``name`` are written: ``s2s_ref/experiments/results/<name>.json``.

    name: the experiment's module name (``"long_gap"``), or that name and a suffix for a variant
    run (``"forgetting_torch_250"``); letters, digits and underscores only.
    """
    if not (isinstance(name, str) and name.replace("_", "").isalnum() and name.isascii()):
        raise ValueError(
            f"results_path: a results name is letters, digits and underscores, got {name!r}"
        )
    return RESULTS / f"{name}.json"


def load_results(name):
    """The results called ``name``, as written by its experiment (JSON -> dicts and lists).

    Read through importlib.resources, so that it works from a clone, a wheel or Colab.
    """
    results_path(name)  # the same check of the name
    resource = files("s2s_ref.experiments").joinpath("results", f"{name}.json")
    if not resource.is_file():
        shipped = sorted(p.name[: -len(".json")] for p in RESULTS.glob("*.json"))
        raise FileNotFoundError(
            f"no results called {name!r}: run the experiment that writes "
            f"s2s_ref/experiments/results/{name}.json first (the page that shows them names its "
            f"command); the results shipped are {', '.join(shipped)}"
        )
    return json.loads(resource.read_text(encoding="utf-8"))


def out_arg(parser, name):
    """Add ``--out``, the results file, defaulting to ``results_path(name)``."""
    parser.add_argument(
        "--out",
        default=str(results_path(name)),
        help=f"the results file (JSON); default s2s_ref/experiments/results/{name}.json",
    )


def check_config(config):
    """Refuse an experiment's configuration (a dataclass) with an impossible field, in a sentence.

    Integer fields must be >= 1 (sizes, steps, counts), except ``seed`` (>= 0); float fields
    finite and > 0 (learning rates). Called from each configuration's ``__post_init__``.
    """
    for field in dataclasses.fields(config):
        value, name = getattr(config, field.name), f"{type(config).__name__}.{field.name}"
        if field.type in (int, "int"):
            low = 0 if field.name == "seed" else 1
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
                raise ValueError(f"{name} should be an integer >= {low}, got {value!r}")
        elif field.type in (float, "float"):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} should be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class ReversalConfig:
    """The NumPy reversal experiments' data, sizes and training; validated on creation.

    Sources of min_len to max_len symbols out of n_symbols; n_test held-out pairs (of each length
    in ``reversal_lengths``, drawn across lengths in ``teacher_forcing``).
    """

    min_len: int = 5
    max_len: int = 15
    n_symbols: int = 10
    emb: int = 16
    hidden: int = 64
    batch: int = 64
    steps: int = 1500
    lr: float = 5e-3
    seed: int = 0
    n_test: int = 1000

    def __post_init__(self):
        check_config(self)

    def vocab(self) -> Vocab:
        """The symbols a, b, c, ... (n_symbols of them), source and target alike."""
        return Vocab([chr(ord("a") + i) for i in range(self.n_symbols)])

    def next_batch(self, rng, vocab):
        """A training batch: ``batch`` random reversals of min_len to max_len symbols."""
        pairs = make_reverse(self.batch, rng, self.min_len, self.max_len, self.n_symbols)
        return make_batch(pairs, vocab, vocab)


def budget_config(budget_s, seed, progress=False, **fields):
    """The training settings of a run stopped by budget_s CPU seconds on one CPU thread (torch
    experiments), so that every model of a comparison gets the same budget.

    fields: the other ``torch_nn.training.TrainConfig`` fields (lr, batch_size, max_steps, ...)
    -> TrainConfig
    """
    from s2s_ref.torch_nn.training import TrainConfig  # torch only for the torch experiments

    return TrainConfig(
        time_budget_s=budget_s,
        budget_clock="cpu",
        seed=seed,
        device="cpu",
        cpu_threads=1,
        progress=progress,
        **fields,
    )


def reversal_header(min_len, max_len, symbols, budget_s):
    """The first entries of a reversal experiment's results: the task, the training lengths,
    the number of symbols and the CPU seconds of training per model."""
    return {
        "task": "reversal",
        "train_lengths": [min_len, max_len],
        "symbols": symbols,
        "budget_cpu_s": budget_s,
    }


def budget_arguments(parser, *, budget, per, name, seeds=None):
    """Add the arguments of chapter 8's CPU-budget experiments to ``parser``: ``--budget`` (CPU
    seconds of training per ``per``, default ``budget``), ``--seed`` (default 0) or, when
    ``seeds`` is a default list, ``--seeds`` (comma-separated), and ``--out`` (default
    ``results_path(name)``, through ``out_arg``).
    Parse, then check the output with ``output_arg(parser, args.out)``."""
    parser.add_argument("--budget", type=positive_float, default=budget,
                        help=f"CPU seconds of training per {per}")  # fmt: skip
    if seeds is None:
        parser.add_argument("--seed", type=seed_arg, default=0)
    else:
        parser.add_argument("--seeds", type=seed_list, default=seeds,
                            help="comma-separated seeds, e.g. 0,1,2")  # fmt: skip
    out_arg(parser, name)


def seed_list(text) -> list[int]:
    """Comma-separated distinct seeds >= 0, e.g. "0,1,2" -> [0, 1, 2]."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds >= 0, got {text!r}")
    return seeds
