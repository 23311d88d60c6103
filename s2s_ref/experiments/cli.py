"""What every experiment's command line shares: argument types that refuse impossible values with
a sentence (argparse prints it and exits with status 2, never a traceback), the output checked
before the long work starts, and results written atomically (``s2s_ref.atomic``)."""

import argparse
import json
import math

from s2s_ref.atomic import check_output, write_atomic


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


def budget_arguments(parser, *, budget, per, out, seeds=None):
    """Add the arguments of chapter 8's CPU-budget experiments to ``parser``: ``--budget`` (CPU
    seconds of training per ``per``, default ``budget``), ``--seed`` (default 0) or, when
    ``seeds`` is a default list, ``--seeds`` (comma-separated), and ``--out`` (default ``out``).
    Parse, then check the output with ``output_arg(parser, args.out)``."""
    parser.add_argument("--budget", type=positive_float, default=budget,
                        help=f"CPU seconds of training per {per}")  # fmt: skip
    if seeds is None:
        parser.add_argument("--seed", type=seed_arg, default=0)
    else:
        parser.add_argument("--seeds", type=seed_list, default=seeds,
                            help="comma-separated seeds, e.g. 0,1,2")  # fmt: skip
    parser.add_argument("--out", default=out)


def seed_list(text) -> list[int]:
    """Comma-separated distinct seeds >= 0, e.g. "0,1,2" -> [0, 1, 2]."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds >= 0, got {text!r}")
    return seeds
