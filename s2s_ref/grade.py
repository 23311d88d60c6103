"""Grade exercise notebooks: ``python -m s2s_ref.grade [NOTEBOOK_OR_FOLDER ...] [--json FILE]
[--csv FILE] [--jobs N] [--seed S]``.

With no path, grades the learner's own ``exercises/``. Notebooks and a learner's folder (holding
``exNN_*.ipynb``) are graded as one submission: a table of every test, ``--json`` writes the
gradebook (total, max_total, seed, and per exercise its tests' points and feedback) and ``--csv``
one row per test. The same notebooks and seed give the same gradebook on every run. A folder of
submissions (one folder or notebook per learner, e.g. ``submissions/``) is graded in batch: one
line per submission and a class summary, ``--json`` writes ``{"submissions": [...], "summary":
{...}}`` and ``--csv`` one row per submission (see ``s2s_ref.grading.gradebook``). Exits 0
whenever grading completed, whatever the scores; 2 when it could not run (bad arguments, a path
that does not exist, a gradebook that would overwrite a notebook); 130 when
interrupted.
"""

import argparse
import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from s2s_ref.atomic import check_output, write_atomic
from s2s_ref.grading import gradebook, runner
from s2s_ref.grading.registry import EXERCISE_MODULES, MissingDependency, get_exercise
from s2s_ref.grading.submissions import (
    SubmissionError,
    exercise_in_name,
    how_read,
    is_folder_of_submissions,
    one_submission,
    single,
    submissions_in,
)


def collect(paths: list[Path], batch: bool, exercise: str | None):
    """(batch?, submissions) for the paths named on the command line."""
    if not (batch or any(map(is_folder_of_submissions, paths))):
        submission = one_submission(paths, exercise)
        return False, [submission]
    submissions = []
    for path in paths:
        if not path.exists():
            raise SubmissionError(f"{path} does not exist")
        if is_folder_of_submissions(path):
            found = submissions_in(path, exercise)
            print(how_read(path, found))
            submissions += found
        else:
            submissions.append(single(path))
    return True, submissions


def grade_all(submissions, exercise, options, quiet) -> list[gradebook.Graded]:
    """Grade every notebook of every submission, ``options.jobs`` at a time, with a progress bar."""
    tasks = [
        (i, nb, key)
        for i, s in enumerate(submissions)
        for nb, key in s.notebooks
        if exercise is None or key == exercise
    ]
    threads = max(1, (os.cpu_count() or 1) // options.jobs)
    limits = dict(
        timeout=options.timeout, memory_gb=options.memory_gb, threads=threads, seed=options.seed
    )
    results: dict[int, list] = {i: [] for i in range(len(submissions))}  # (task, result)
    bar = tqdm(
        total=len(tasks), unit="notebook", file=sys.stderr, disable=quiet or not sys.stderr.isatty()
    )
    with bar, ThreadPoolExecutor(options.jobs) as pool:
        futures = {
            pool.submit(runner.grade_notebook, nb, key, **limits): (n, i)
            for n, (i, nb, key) in enumerate(tasks)
        }
        try:
            for future in as_completed(futures):
                n, i = futures[future]
                results[i].append((n, future.result()))
                bar.update()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            runner.kill_all()
            raise
    return [
        gradebook.Graded(s, [r for _, r in sorted(results[i], key=lambda nr: nr[0])])
        for i, s in enumerate(submissions)
    ]


def complete(graded: list[gradebook.Graded], exercise: str | None) -> None:
    """Give every submission every exercise of the batch, in course order (missing ones score 0)."""
    found = {r.exercise for g in graded for r in g.results}
    keys = [k for k in EXERCISE_MODULES if k in found or k == exercise]
    for g in graded:
        have = {r.exercise: r for r in g.results}
        g.results = [have.get(k) or gradebook.missing(k) for k in keys]


def _check_outputs(args, submissions) -> None:
    """Refuse, before grading, gradebooks that would overwrite a graded notebook or each other,
    or whose folder does not exist; and a forced exercise that a notebook's name contradicts."""
    notebooks = [nb for s in submissions for nb, _ in s.notebooks]
    outputs = [p for p in (args.json, args.csv) if p]
    if args.json and args.csv and Path(args.json).resolve() == Path(args.csv).resolve():
        raise ValueError(f"--json and --csv name the same file {args.json}")
    for output in outputs:
        check_output(output, inputs=notebooks)
    if args.exercise:
        for nb, key in ((nb, key) for s in submissions for nb, key in s.notebooks):
            if key != args.exercise and exercise_in_name(nb) == key:
                raise ValueError(
                    f"{nb} is a notebook of {key} (its name says so), not {args.exercise}: "
                    f"drop --exercise, or grade a notebook of {args.exercise}"
                )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m s2s_ref.grade", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: exercises/)")
    parser.add_argument("--json", metavar="FILE", help="write the gradebook as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write the gradebook as CSV")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    parser.add_argument(
        "--timeout", type=float, default=runner.DEFAULT_TIMEOUT,
        help=f"seconds per test (default {runner.DEFAULT_TIMEOUT:g})",
    )  # fmt: skip
    parser.add_argument(
        "--memory-gb", type=float, default=runner.DEFAULT_MEMORY_GB,
        help=f"memory cap of each grading process (default {runner.DEFAULT_MEMORY_GB:g})",
    )  # fmt: skip
    parser.add_argument(
        "--exercise", choices=EXERCISE_MODULES,
        help="grade only this exercise; notebooks whose names do not say are taken to be it",
    )  # fmt: skip
    parser.add_argument(
        "--batch", action="store_true",
        help="each path is one submission (default: only the entries of a folder of submissions)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seed of the tests' inputs (default 0): the same seed gives the same verdicts",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= 86400):
        parser.error(
            f"--timeout must be a number of seconds between 0 and 86400, got {args.timeout}"
        )
    if not (math.isfinite(args.memory_gb) and 0.25 <= args.memory_gb <= 4096):
        parser.error(f"--memory-gb must be between 0.25 and 4096 GiB, got {args.memory_gb}")
    paths = [Path(p) for p in args.paths or ["exercises"]]
    try:
        batch, submissions = collect(paths, args.batch, args.exercise)
        _check_outputs(args, submissions)
        for key in sorted({key for s in submissions for _, key in s.notebooks if key}):
            get_exercise(key)  # before any grading: a missing PyTorch says what to install
    except (SubmissionError, ValueError, OSError, MissingDependency) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inputs = [nb for s in submissions for nb, _ in s.notebooks]
    runner.STOP.clear()
    try:
        graded = grade_all(submissions, args.exercise, args, args.quiet)
    except KeyboardInterrupt:
        print("interrupted: every grading process was stopped", file=sys.stderr)
        return 130
    try:
        if batch:
            complete(graded, args.exercise)
            gradebook.print_batch(graded)
            book = gradebook.batch_json(graded)
            if args.csv:
                gradebook.write_batch_csv(graded, args.csv, inputs=inputs)
        else:
            results = graded[0].results
            gradebook.print_single(results, graded[0].submission.problems)
            book = gradebook.single_json(results)
            if args.csv:
                gradebook.write_single_csv(results, args.csv, inputs=inputs)
        if args.json:
            book = {**book, "seed": args.seed}
            write_atomic(args.json, json.dumps(book, indent=2), inputs=inputs)
    except OSError as exc:
        print(f"error: could not write the gradebook: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
