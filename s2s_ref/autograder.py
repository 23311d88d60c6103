"""The Classroom 50 autograder: ``python -m s2s_ref.autograder``, run in a learner's checkout.

Classroom 50's runner (foundation50/classroom50) runs an assignment's ``autograder.py`` in the
learner's repository and reads back ``./result.json`` (schema ``classroom50/result/v1``), optionally
``./release-body.md`` and ``status=``/``summary=`` lines in ``$GITHUB_OUTPUT``; exit status 0 means
grading ran (whatever the score), anything else an infrastructure error. The file teachers install,
``.github/classroom50/autograder.py``, installs this package and calls this module.

Which exercises: the one named in ``$ASSIGNMENT`` (an assignment slug containing ``ex01`` ...
``ex08``), or ``--exercise``; otherwise every notebook in ``exercises/``. Grading is this course's
grader, by its public command (``python -m s2s_ref.grade ... --json``); each of its tests becomes
one test of the result, worth its points.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from s2s_ref.atomic import write_atomic
from s2s_ref.classroom import GradebookError, read_gradebook, summary_markdown

RESULT_SCHEMA = "classroom50/result/v1"
_EXERCISE = re.compile(r"ex\d\d")


def exercise_of(slug: str) -> str | None:
    """The exercise an assignment slug names (``"seq2seq-ex03"`` -> ``"ex03"``), if any."""
    found = _EXERCISE.search(slug.lower())
    return found[0] if found else None


def _int(x) -> int | float:
    """Points as the integers the result schema asks for (kept as they are if fractional)."""
    return int(x) if float(x).is_integer() else x


def result_document(book: dict, env=None) -> dict:
    """The Classroom 50 ``result.json`` for the gradebook ``book`` and the runner's ``env``."""
    env = os.environ if env is None else env
    tests = [
        {
            "test-name": f"{ex['exercise']} {t['name']}",
            "passed": bool(t["passed"]),
            "score": _int(t["points"]),
            "max-score": _int(t["max_points"]),
        }
        for ex in book["exercises"]
        for t in ex["tests"]
    ]
    commit = env.get("COMMIT_URL", "")
    return {
        "schema": RESULT_SCHEMA,
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", ""),
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": commit,
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL") or commit,
        "datetime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": _int(sum(t["score"] for t in tests)),
        "max-score": _int(sum(t["max-score"] for t in tests)),
        "tests": tests,
    }


def notebooks_to_grade(exercise: str | None, folder: Path) -> list[str]:
    """The grader's arguments: the exercise's notebook(s), or the whole folder."""
    if exercise is None:
        return [str(folder)]
    return [str(p) for p in sorted(folder.glob(f"{exercise}_*.ipynb"))] or [str(folder)]


def grade(paths: list[str], exercise: str | None) -> dict:
    """Run the grader on ``paths`` and return its gradebook."""
    with tempfile.TemporaryDirectory(prefix="s2s-autograder-") as tmp:
        gradebook = Path(tmp) / "gradebook.json"
        command = [sys.executable, "-m", "s2s_ref.grade", *paths, "--json", str(gradebook)]
        if exercise:
            command += ["--exercise", exercise]
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            raise GradebookError(f"the grader exited with status {done.returncode}")
        return read_gradebook(gradebook)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.autograder")
    parser.add_argument("--exercise", help="grade this exercise only (default: from $ASSIGNMENT)")
    parser.add_argument("--folder", type=Path, default=Path("exercises"), help="default exercises/")
    args = parser.parse_args(argv)
    exercise = args.exercise or exercise_of(os.environ.get("ASSIGNMENT", ""))
    try:
        book = grade(notebooks_to_grade(exercise, args.folder), exercise)
    except GradebookError as exc:
        print(f"::error::s2s_ref.autograder: {exc}", file=sys.stderr)
        return 1
    result = result_document(book)
    write_atomic("result.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_atomic("release-body.md", summary_markdown(book, title="Autograde"))
    score = f"{result['score']}/{result['max-score']}"
    status = "success" if result["score"] == result["max-score"] else "failure"
    output = os.environ.get("GITHUB_OUTPUT")
    if output:  # keep what earlier steps wrote there; add two lines
        before = Path(output).read_text(encoding="utf-8") if Path(output).is_file() else ""
        write_atomic(output, f"{before}status={status}\nsummary=autograde: {score}\n")
    print(f"autograder: {score} ({len(result['tests'])} tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
