"""The device check: on a CUDA machine, every CUDA test and the CUDA benchmarks, in one command.

    python -m s2s_ref.bench.device [--require-cuda] [--no-install] [--skip-tests] [--steps 20]

Steps, in order, each printed as it runs:

1. **Dependencies** (from a clone of the repository). The machine is expected to have a CUDA
   build of torch already (it is the one package this script never installs). Every other
   pinned package of ``requirements.txt`` (and the learner file it includes)
   that is missing is installed from wheels only (``pip install --only-binary=:all: ...``), so
   nothing is compiled; ``--no-install`` lists the missing ones and stops instead.
2. **CUDA?** Without a CUDA device the script says so and exits 0 (exit 2 with --require-cuda).
3. **Tests.** ``pytest -m cuda`` (every test marked ``cuda``), one process, 300 s at most.
4. **Benchmarks.** Training throughput (target tokens per second) of GRU + Bahdanau attention
   and of the Transformer (``s2s_ref.bench.transformer``, same parameter count): CPU fp32 (all
   cores), CUDA fp32 and CUDA bf16 autocast, with the speed-up of each over the CPU.

The whole run fits in 8 minutes on one GPU. Book: appendix "Performance" and chapter 8.
"""

import argparse
import importlib
import importlib.metadata
import re
import subprocess
import sys
import time
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
NEVER_INSTALLED = {"torch"}  # the CUDA build comes from the machine, never from this script
TEST_TIMEOUT_S = 300


def _marker_holds(marker: str) -> bool:
    """Whether an environment marker (``python_version < "3.11"``) holds for this interpreter."""
    try:
        from packaging.markers import Marker
    except ImportError:  # before the dependencies are installed: pip always carries a copy
        Marker = importlib.import_module("pip._vendor.packaging.markers").Marker
    return Marker(marker).evaluate()


def pinned_requirements(path=REQUIREMENTS):
    """-> [(name, version)] of the ``name==version`` lines of a requirements file, torch left out.

    ``-r other.txt`` is followed; a pin whose environment marker does not hold here is skipped;
    comments, blank lines and other options (``-e .``, ``--extra-index-url``) are skipped; a line
    that is none of these and not ``name==version`` raises ValueError naming the file and line.
    """
    path = Path(path)
    pins = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins += pinned_requirements(path.parent / line[3:].strip())
            continue
        if not line or line.startswith("-"):
            continue
        spec, _, marker = line.partition(";")
        if marker.strip() and not _marker_holds(marker.strip()):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)", spec.strip())
        if not match:
            raise ValueError(f"{path}, line {number}: expected name==version, got {line!r}")
        name = match.group(1).split("[")[0]
        if name.lower() not in NEVER_INSTALLED:
            pins.append((name, match.group(2)))
    return pins


def missing(pins):
    """The pins whose distribution is not installed at all, as "name==version" strings."""
    out = []
    for name, version in pins:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name}=={version}")
    return out


def install(specs):
    """pip install the given specs from wheels only; -> pip's exit status."""
    command = [sys.executable, "-m", "pip", "install", "--only-binary=:all:", *specs]
    print("installing from wheels:", " ".join(command[3:]), flush=True)
    return subprocess.call(command)


def run_cuda_tests():
    """pytest -m cuda in one process -> (exit status, the summary line)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "cuda",
        "-q",
        "-n",
        "0",
        "-p",
        "no:cacheprovider",
        f"--timeout={TEST_TIMEOUT_S}",
        "tests",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TEST_TIMEOUT_S, cwd=REQUIREMENTS.parent
        )
    except subprocess.TimeoutExpired:
        return 124, f"pytest -m cuda did not finish in {TEST_TIMEOUT_S} s"
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-300:]


def benchmarks(steps):
    """-> rows (model, setting, tokens/s, speed-up over CPU fp32) for the two model families."""
    from s2s_ref.bench.transformer import throughput

    settings = (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "bf16"))
    measured = {s: throughput(steps=steps, rounds=2, device=s[0], precision=s[1]) for s in settings}
    rows = []
    for kind in measured[settings[0]]:
        cpu = measured[settings[0]][kind]["tokens_per_s"]
        for device, precision in settings:
            speed = measured[device, precision][kind]["tokens_per_s"]
            rows.append((kind, f"{device} {precision}", speed, speed / cpu))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--require-cuda", action="store_true", help="exit 2 (not 0) when no CUDA device is visible"
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="list missing dependencies instead of installing them",
    )
    parser.add_argument("--skip-tests", action="store_true", help="benchmarks only")
    parser.add_argument("--steps", type=int, default=20, help="training steps per measurement")
    args = parser.parse_args(argv)
    if not 1 <= args.steps <= 500:
        parser.error(f"--steps must lie in 1..500, got {args.steps}")
    return args


def main(argv=None):
    """-> the exit status: 0 done (or no CUDA without --require-cuda), 1 a step failed,
    2 no CUDA with --require-cuda, 3 dependencies missing."""
    args = parse_args(argv)
    start = time.perf_counter()
    if REQUIREMENTS.exists():
        absent = missing(pinned_requirements())
    else:  # an installed package without the repository: pip already resolved its dependencies
        print(f"device check: no {REQUIREMENTS.name} beside the package; dependency step skipped")
        absent = []
    if absent and args.no_install:
        print("missing dependencies (not installed, --no-install):", " ".join(absent))
        return 3
    if absent and install(absent) != 0:
        print("device check: installing the dependencies from wheels failed (see pip above)")
        return 3
    import torch

    if not torch.cuda.is_available():
        print(
            f"device check: no CUDA device visible to torch {torch.__version__} on this "
            "machine; nothing to run here (the CUDA tests skip themselves on CPU)."
        )
        return 2 if args.require_cuda else 0
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    status = 0
    if not args.skip_tests:
        code, line = run_cuda_tests()
        print(f"pytest -m cuda: {line} (exit {code})", flush=True)
        status = 0 if code in (0, 5) else 1  # 5: no test collected
    print(f"{'model':<14} {'setting':<11} {'tokens/s':>10} {'vs CPU':>7}")
    for kind, setting, speed, ratio in benchmarks(args.steps):
        print(f"{kind:<14} {setting:<11} {speed:>10.0f} {ratio:>6.2f}x")
    print(f"device check done in {time.perf_counter() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
