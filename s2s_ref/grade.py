"""Grade exercise notebooks: ``python -m s2s_ref.grade [NOTEBOOK_OR_FOLDER ...] [--json FILE]
[--csv FILE] [--jobs N]``.

With no path, grades the learner's own ``exercises/``. Notebooks and a learner's folder (holding
``exNN_*.ipynb``) are graded as one submission: a table of every test, ``--json`` writes the
gradebook of COURSE.md §5 and ``--csv`` one row per test. A folder of submissions (one folder or
notebook per learner, e.g. ``submissions/``) is graded in batch: one line per submission and a
class summary, ``--json`` writes ``{"submissions": [...], "summary": {...}}`` and ``--csv`` one row
per submission (see ``s2s_ref.grading.gradebook``). Exits 0 whenever grading completed, whatever
the scores; 2 when it could not run (bad arguments, a path that does not exist); 130 when
interrupted.
"""

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from s2s_ref.grading import gradebook, runner
from s2s_ref.grading.registry import EXERCISE_MODULES
from s2s_ref.grading.submissions import (
    SubmissionError,
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
        submissions += (
            submissions_in(path, exercise) if is_folder_of_submissions(path) else [single(path)]
        )
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
    limits = dict(timeout=options.timeout, memory_gb=options.memory_gb, threads=threads)
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.timeout <= 0 or args.memory_gb <= 0:
        parser.error("--timeout and --memory-gb must be positive")
    try:
        batch, submissions = collect(
            [Path(p) for p in args.paths or ["exercises"]], args.batch, args.exercise
        )
    except SubmissionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
                gradebook.write_batch_csv(graded, args.csv)
        else:
            results = graded[0].results
            gradebook.print_single(results, graded[0].submission.problems)
            book = gradebook.single_json(results)
            if args.csv:
                gradebook.write_single_csv(results, args.csv)
        if args.json:
            Path(args.json).write_text(json.dumps(book, indent=2))
    except OSError as exc:
        print(f"error: could not write the gradebook: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
