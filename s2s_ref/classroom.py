"""Grading on push: the feedback of a gradebook as Markdown, for a CI run's summary page.

``python -m s2s_ref.classroom summary GRADEBOOK.json`` prints, from the JSON that
``python -m s2s_ref.grade ... --json GRADEBOOK.json`` writes, a table of exercises and their
scores, then one table per exercise with every test, its points and its feedback. The workflow
``.github/workflows/grade.yml`` appends it to ``$GITHUB_STEP_SUMMARY``; the Classroom 50
autograder (``s2s_ref.autograder``) uses it as the release body. Only the gradebook's documented
fields are read (``total``, ``max_total``, ``exercises[].exercise / notebook / score / max_score /
tests[].name / points / max_points / passed / feedback``).
"""

import argparse
import json
import sys
from pathlib import Path


class GradebookError(ValueError):
    """The file is not a single-submission gradebook."""


def read_gradebook(path) -> dict:
    """The gradebook at ``path``, checked to have the fields this module reads."""
    path = Path(path)
    try:
        book = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GradebookError(f"{path}: no such gradebook (did grading run?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradebookError(f"{path}: not a JSON gradebook ({exc})") from None
    if not isinstance(book, dict) or not isinstance(book.get("exercises"), list):
        raise GradebookError(
            f"{path}: expected a gradebook of one submission, "
            '{"total", "max_total", "exercises": [...]}'
        )
    return book


def _points(x) -> str:
    return f"{x:g}"


def _cell(text) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def summary_markdown(book: dict, title: str = "Grades") -> str:
    """The gradebook ``book`` as Markdown: the scores, then every test with its feedback."""
    exercises = book["exercises"]
    lines = [f"## {title}: {_points(book['total'])}/{_points(book['max_total'])}", ""]
    if not exercises:
        lines.append("No exercise notebook was found to grade (expected `exercises/exNN_*.ipynb`).")
        return "\n".join(lines) + "\n"
    lines += ["| exercise | score | notebook |", "|---|---|---|"]
    for ex in exercises:
        score = f"{_points(ex['score'])}/{_points(ex['max_score'])}"
        lines.append(f"| {ex['exercise']} | {score} | {_cell(ex.get('notebook') or 'missing')} |")
    for ex in exercises:
        lines += ["", f"### {ex['exercise']}: {_points(ex['score'])}/{_points(ex['max_score'])}"]
        lines += ["", "| | test | points | feedback |", "|---|---|---|---|"]
        for t in ex["tests"]:
            mark = "✅" if t["passed"] else "❌"
            points = f"{_points(t['points'])}/{_points(t['max_points'])}"
            lines.append(f"| {mark} | {_cell(t['name'])} | {points} | {_cell(t['feedback'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.classroom")
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="print a gradebook's feedback as Markdown")
    summary.add_argument("gradebook", help="the JSON written by python -m s2s_ref.grade --json")
    args = parser.parse_args(argv)
    try:
        book = read_gradebook(args.gradebook)
        text = summary_markdown(book)
    except (GradebookError, KeyError, TypeError) as exc:
        print(f"s2s_ref.classroom: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
