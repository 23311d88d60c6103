"""One exercise as a GitHub Classroom test: ``python -m s2s_ref.classroom ex01 [NOTEBOOK]``.

GitHub Classroom's command grader (``education/autograding-command-grader``) runs a command in
the learner's repository and awards the step's ``max-score`` when it exits with status 0, nothing
otherwise; a step that writes to stderr is reported as failed. So this wrapper sends everything,
stderr included (Python warnings, library messages), to stdout, grades the exercise's notebook
(``exercises/exNN_*.ipynb`` by default) in the isolated grader, prints the table of tests and
feedback, adds it to the workflow run's summary page when there is one, and exits 0 only at full
marks, 1 otherwise (also when the notebook is missing or the grader cannot run).
"""

import argparse
import os
import sys
import traceback
from pathlib import Path

# Seconds per test: twice the grader's default, since ex06 trains a model, and a runner is a fresh
# machine on which a hang costs only the learner's own step (the step itself stops at 10 minutes).
CLASSROOM_TIMEOUT = 60.0


def main(argv=None) -> int:
    os.dup2(1, 2)  # stderr, ours and every child's, goes to stdout (see the module's docstring)
    sys.stderr = sys.stdout
    from s2s_ref.grading import gradebook
    from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
    from s2s_ref.grading.runner import grade_notebook

    parser = argparse.ArgumentParser(prog="python -m s2s_ref.classroom")
    parser.add_argument("exercise", choices=EXERCISE_MODULES)
    parser.add_argument("notebook", nargs="?", help="default: exercises/<the exercise's notebook>")
    parser.add_argument(
        "--timeout", type=float, default=CLASSROOM_TIMEOUT, help="seconds per test (default 60)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage message went to stdout already
        return int(exc.code or 0) and 1
    exercise = get_exercise(args.exercise)
    path = Path(args.notebook or Path("exercises") / exercise.notebook)
    if not path.is_file():
        print(f"{path}: no such notebook. Keep the exercise at this path and commit it.")
        return 1
    try:
        result = grade_notebook(path, args.exercise, timeout=args.timeout)
    except Exception:
        print("the grader could not run:\n" + traceback.format_exc())
        return 1
    gradebook.print_single([result])
    _add_to_summary(result)
    full = result.score == result.max_score
    print(f"\n{args.exercise}: {'full marks' if full else 'not yet full marks'}")
    return 0 if full else 1


def _add_to_summary(result) -> None:
    """A Markdown table on the workflow run's page (GitHub sets GITHUB_STEP_SUMMARY)."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    lines = [
        f"### {result.exercise}: {result.score:g}/{result.max_score:g}",
        "",
        "| test | points | feedback |",
        "|---|---|---|",
    ]
    for t in result.tests:
        feedback = t.feedback.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {t.name} | {t.points:g}/{t.max_points:g} | {feedback} |")
    try:
        with open(summary, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    except OSError:
        pass  # the summary is a courtesy; the step's result does not depend on it


if __name__ == "__main__":
    sys.exit(main())
