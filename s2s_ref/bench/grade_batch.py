"""Batch grading of a class: ``python -m s2s_ref.bench.grade_batch [--submissions 50] [--jobs 2]
[--exercises ex01 ...]``.

Writes a folder of generated submissions, one notebook per exercise (a mix of the solution,
the unfilled exercise, and the solution with one typical mistake of the feedback catalogue, in
the proportions 2 : 1 : 2), grades it with ``python -m s2s_ref.grade FOLDER --jobs N`` as an
instructor would, and prints the wall time per setting of ``--jobs``, the time per notebook, the
speed-up over the first setting and the load average before and after (the machine may be shared).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from s2s_ref.grading.mutants import ROOT, with_mistake
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise


def make_class(folder: Path, n: int, keys) -> None:
    """``n`` submission folders, each with one notebook per exercise of ``keys``."""
    for i in range(n):
        student = folder / f"student{i:03d}"
        for key in keys:
            exercise = get_exercise(key)
            kind = i % 5
            if kind in (0, 1):
                with_mistake(exercise.notebook, {}, student)
            elif kind == 2:
                student.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / "exercises" / exercise.notebook, student)
            else:
                mistake = exercise.mistakes[i % len(exercise.mistakes)]
                with_mistake(exercise.notebook, mistake.replace, student)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.bench.grade_batch")
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--exercises", nargs="+", choices=EXERCISE_MODULES, default=["ex01"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        make_class(folder, args.submissions, args.exercises)
        notebooks = args.submissions * len(args.exercises)
        print(
            f"{args.submissions} submissions, {notebooks} notebooks ({', '.join(args.exercises)})"
        )
        print(
            f"{'jobs':>4}  {'wall s':>7}  {'s/notebook':>10}  {'speed-up':>8}  load before -> after"
        )
        first = None
        for jobs in args.jobs:
            load_before = os.getloadavg()[0]
            start = time.perf_counter()
            out = Path(tmp) / f"grades-{jobs}.json"
            cmd = [sys.executable, "-m", "s2s_ref.grade", str(folder), "--jobs", str(jobs)]
            subprocess.run(
                [*cmd, "--json", str(out), "--quiet"], check=True, stdout=subprocess.DEVNULL
            )
            wall = time.perf_counter() - start
            first = first or wall
            summary = json.loads(out.read_text())["summary"]
            print(
                f"{jobs:>4}  {wall:>7.1f}  {wall / notebooks:>10.2f}  {first / wall:>7.2f}x  "
                f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}   (class mean {summary['mean']:g}"
                f"/{summary['max_total']:g})"
            )


if __name__ == "__main__":
    main()
