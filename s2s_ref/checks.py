"""Instant feedback inside an exercise notebook: ``check(rnn_step_forward)``.

Runs the same graded tests the grader runs for that function, on the same inputs (seed 0), in the
notebook's own process for speed (a check cell is the learner's own code checking itself: the
grader's process boundary and sandbox are for grading), prints one line per test, and raises
``CheckFailed`` (an AssertionError carrying the feedback) when one fails, so the cell turns red
and "Run all" stops at the first unfinished step.
"""

import inspect

from s2s_ref.grading.feedback import Feedback, notes
from s2s_ref.grading.learner import Learner
from s2s_ref.grading.registry import EXERCISE_MODULES, MissingDependency, get_exercise, seeded


class CheckFailed(AssertionError):
    """A check cell found a mistake; the message says which."""


def _available() -> list[str]:
    """The exercises whose grading can be loaded here: all but the PyTorch ones without torch."""
    keys = []
    for key in EXERCISE_MODULES:
        try:
            get_exercise(key)
        except MissingDependency:
            continue
        keys.append(key)
    return keys


def check(function, namespace: dict | None = None) -> None:
    """Run every graded test about ``function`` (a learner function or its name).

    The tests see the caller's global namespace, so a backward's test uses your own forward.
    """
    name = function if isinstance(function, str) else function.__name__
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    tests = [
        (key, t) for key in _available() for t in get_exercise(key).tests if t.function == name
    ]
    if not tests:
        raise ValueError(f"no graded test is about {name!r}: is that the function's name?")
    learner = Learner(namespace)
    failures = []
    for key, test in tests:
        try:
            with seeded(key, test.name, 0), notes() as noted:
                test.run(learner)
            if noted:
                raise Feedback(" ".join(noted))
        except Feedback as exc:
            failures.append(f"{test.name}: {exc}")
            print(f"✗ {test.name} (0/{test.points:g})\n    {exc}")
        else:
            print(f"✓ {test.name} ({test.points:g}/{test.points:g})")
    if failures:
        raise CheckFailed("\n".join(failures))
