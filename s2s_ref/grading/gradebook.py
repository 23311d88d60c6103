"""Results as a gradebook: printed tables, JSON and CSV, for one submission or a whole class.

One submission: ``{"total", "max_total", "exercises": [{"exercise", "notebook",
"score", "max_score", "tests": [{"name", "points", "max_points", "passed", "feedback"}],
"problems"}]}`` (the command line adds ``"seed"``); the CSV has one row per graded test.

Several submissions: ``{"submissions": [{"submission", "path", "total", "max_total", "problems",
"exercises": [...as above...]}], "summary": {...}}``, where every submission lists every exercise
graded in the batch (a missing notebook scores 0 with ``"notebook": null``), and the summary gives
the class's mean, median, min and max total, and per exercise the same with the number of
submissions that had the notebook, how many scored full marks, the distribution of scores
(``{"score": count}``) and how many passed each test. The CSV has one row per submission: its
name, the score of each exercise, the total and the maximum.
"""

import csv
import statistics
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass

from s2s_ref.atomic import atomic_open
from s2s_ref.grading.registry import get_exercise
from s2s_ref.grading.runner import ExerciseResult, TestResult
from s2s_ref.grading.submissions import Submission


@dataclass
class Graded:
    """A submission and the result of each exercise graded for it (in exercise order)."""

    submission: Submission
    results: list[ExerciseResult]

    @property
    def total(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def max_total(self) -> float:
        return sum(r.max_score for r in self.results)


def missing(key: str) -> ExerciseResult:
    """The result of an exercise whose notebook a submission does not have."""
    exercise = get_exercise(key)
    why = f"no notebook for {key} ({exercise.notebook}) in this submission"
    return ExerciseResult(
        exercise=key,
        notebook=None,
        score=0.0,
        max_score=float(exercise.max_score),
        tests=[TestResult(t.name, 0.0, float(t.points), False, why) for t in exercise.tests],
        problems=[why],
    )


def single_json(results: list[ExerciseResult]) -> dict:
    return {
        "total": sum(r.score for r in results),
        "max_total": sum(r.max_score for r in results),
        "exercises": [r.to_json() for r in results],
    }


def batch_json(graded: list[Graded]) -> dict:
    return {
        "submissions": [
            {
                "submission": g.submission.name,
                "path": str(g.submission.path),
                "total": g.total,
                "max_total": g.max_total,
                "problems": g.submission.problems,
                "exercises": [r.to_json() for r in g.results],
            }
            for g in graded
        ],
        "summary": summary(graded),
    }


def _stats(values: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(values), 3),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summary(graded: list[Graded]) -> dict:
    keys = [r.exercise for r in graded[0].results] if graded else []
    exercises = {}
    for i, key in enumerate(keys):
        results = [g.results[i] for g in graded]
        scores = [r.score for r in results]
        tests = Counter(t.name for r in results for t in r.tests if t.passed)
        exercises[key] = {
            "max_score": results[0].max_score,
            "submitted": sum(r.notebook is not None for r in results),
            "full_marks": sum(r.score == r.max_score for r in results),
            **_stats(scores),
            "distribution": {f"{s:g}": n for s, n in sorted(Counter(scores).items())},
            "tests_passed": {t.name: tests[t.name] for t in results[0].tests},
        }
    totals = [g.total for g in graded]
    return {
        "submissions": len(graded),
        "max_total": graded[0].max_total if graded else 0,
        **(_stats(totals) if totals else {}),
        "exercises": exercises,
    }


def write_single_csv(results: list[ExerciseResult], path, inputs=()) -> None:
    with atomic_open(path, "w", inputs=inputs) as f:
        writer = csv.writer(f)
        writer.writerow(
            ["exercise", "notebook", "test", "points", "max_points", "passed", "feedback"]
        )
        for r in results:
            for t in r.tests:
                writer.writerow(
                    [r.exercise, r.notebook, t.name, t.points, t.max_points, t.passed, t.feedback]
                )


def write_batch_csv(graded: list[Graded], path, inputs=()) -> None:
    keys = [r.exercise for r in graded[0].results] if graded else []
    with atomic_open(path, "w", inputs=inputs) as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *keys, "total", "max_total"])
        for g in graded:
            scores = [*(r.score for r in g.results), g.total, g.max_total]
            writer.writerow([g.submission.name, *(f"{x:g}" for x in scores)])


def print_single(results: list[ExerciseResult], problems=(), out=None) -> None:
    """Every test of every notebook, with its points and feedback."""
    out = out or sys.stdout
    for problem in problems:
        print(f"! {problem}", file=out)
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


def print_batch(graded: list[Graded], out=None) -> None:
    """One line per submission, then the class summary per exercise."""
    out = out or sys.stdout
    keys = [r.exercise for r in graded[0].results] if graded else []
    width = max([len(g.submission.name) for g in graded] + [10])
    print(f"{'submission':<{width}}  " + "  ".join(f"{k:>6}" for k in keys) + "   total", file=out)
    for g in graded:
        scores = "  ".join(f"{r.score:>6g}" for r in g.results)
        note = f"  ({len(g.submission.problems)} note(s))" if g.submission.problems else ""
        print(
            f"{g.submission.name:<{width}}  {scores}  {g.total:>6g}/{g.max_total:g}{note}", file=out
        )
    s = summary(graded)
    if not graded:
        return
    print(
        f"\n{s['submissions']} submissions; total out of {s['max_total']:g}: mean {s['mean']:g}, "
        f"median {s['median']:g}, min {s['min']:g}, max {s['max']:g}",
        file=out,
    )
    for key, e in s["exercises"].items():
        spread = ", ".join(f"{score}: {n}" for score, n in e["distribution"].items())
        print(
            f"  {key} (out of {e['max_score']:g}): submitted {e['submitted']}, full marks "
            f"{e['full_marks']}, mean {e['mean']:g}; scores {{{spread}}}",
            file=out,
        )
