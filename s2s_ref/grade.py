"""Grade exercise notebooks: ``python -m s2s_ref.grade [NOTEBOOK_OR_FOLDER ...] [--json FILE]
[--csv FILE] [--jobs N]``.

With no path, grades the learner's own ``exercises/``. A folder is one submission: every
``exNN_*.ipynb`` in it is graded. Prints a table (exercise, test, points, feedback); ``--json``
writes the gradebook (COURSE.md §5), ``--csv`` one row per graded test. Exits 0 whenever grading
completed, whatever the score; 2 when it could not run (bad arguments, a path that does not exist).
"""

import argparse
import csv
import json
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from s2s_ref.grading.registry import exercise_key_for
from s2s_ref.grading.runner import grade_notebook


def find_notebooks(paths: list[str]) -> list[tuple[Path, str]]:
    """(notebook, exercise key) for every gradable notebook named or inside a named folder."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(path.glob("ex[0-9][0-9]*.ipynb"))
            if not candidates:
                raise SystemExit(f"error: {path} holds no exercise notebook (exNN_*.ipynb)")
        elif path.exists():
            candidates = [path]
        else:
            raise SystemExit(f"error: {path} does not exist")
        for nb in candidates:
            key = exercise_key_for(nb)
            if key is None:
                raise SystemExit(
                    f"error: {nb} is not an exercise notebook (its name must start with exNN_ "
                    "for a known exercise)"
                )
            found.append((nb, key))
    return found


def print_table(results, out=sys.stdout):
    for result in results:
        print(
            f"\n{result.exercise}  {result.notebook}  {result.score:g}/{result.max_score:g}",
            file=out,
        )
        for problem in result.problems:
            print(f"  ! {problem}", file=out)
        for t in result.tests:
            mark = "PASS" if t.passed else "FAIL"
            print(f"  {mark} {t.points:g}/{t.max_points:g}  {t.name}", file=out)
            for line in textwrap.wrap(t.feedback, 96):
                print(f"        {line}", file=out)
    total = sum(r.score for r in results)
    max_total = sum(r.max_score for r in results)
    print(f"\nTotal: {total:g}/{max_total:g}", file=out)


def gradebook(results) -> dict:
    return {
        "total": sum(r.score for r in results),
        "max_total": sum(r.max_score for r in results),
        "exercises": [r.to_json() for r in results],
    }


def write_csv(results, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["exercise", "notebook", "test", "points", "max_points", "passed", "feedback"]
        )
        for r in results:
            for t in r.tests:
                writer.writerow(
                    [r.exercise, r.notebook, t.name, t.points, t.max_points, t.passed, t.feedback]
                )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m s2s_ref.grade", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: exercises/)")
    parser.add_argument("--json", metavar="FILE", help="write the gradebook as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write one row per graded test")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test (default 30)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        notebooks = find_notebooks(args.paths or ["exercises"])
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda nk: grade_notebook(nk[0], nk[1], args.timeout), notebooks))
    print_table(results)
    try:
        if args.json:
            Path(args.json).write_text(json.dumps(gradebook(results), indent=2))
        if args.csv:
            write_csv(results, args.csv)
    except OSError as exc:
        print(f"error: could not write the gradebook: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
