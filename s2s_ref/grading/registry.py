"""Exercises and their graded tests.

Each ``s2s_ref/grading/exNN.py`` builds one ``Exercise`` and registers tests with the
``@EXERCISE.test(points=..., function=...)`` decorator. A test receives a ``Learner`` (the
notebook's namespace, with borrowing and missing functions turned into feedback) and returns
normally to pass or raises ``Feedback``.
"""

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# grading modules, in course order; add yours here
EXERCISE_MODULES = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06")


@dataclass(frozen=True)
class GradedTest:
    name: str
    points: float
    function: str  # the learner function this test is about (check cells select by it)
    run: Callable


@dataclass
class Exercise:
    """One notebook's worth of graded functions.

    key: "ex01"; notebook: file name in exercises/ and solutions/; functions: the names the
    learner writes; hidden_modules: reference modules learner code may not import while graded.
    """

    key: str
    title: str
    notebook: str
    functions: tuple[str, ...]
    hidden_modules: tuple[str, ...]
    tests: list[GradedTest] = field(default_factory=list)

    def test(self, *, points: float, function: str, name: str | None = None):
        """Decorator registering a graded test worth ``points`` about learner ``function``."""
        if function not in self.functions:
            raise ValueError(f"{self.key}: {function!r} is not one of {self.functions}")

        def register(run):
            test_name = name or f"{function}: {run.__doc__.strip().splitlines()[0]}"
            if any(t.name == test_name for t in self.tests):
                raise ValueError(f"{self.key}: two tests are named {test_name!r}")
            self.tests.append(GradedTest(test_name, points, function, run))
            return run

        return register

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)


def get_exercise(key: str) -> Exercise:
    """The Exercise for "ex01" (imports its grading module on first use)."""
    if key not in EXERCISE_MODULES:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(EXERCISE_MODULES)}")
    return importlib.import_module(f"s2s_ref.grading.{key}").EXERCISE


def exercise_key_for(path) -> str | None:
    """The exercise a notebook file is for, from its name ("ex01_rnn.ipynb" -> "ex01")."""
    match = re.match(r"(ex\d\d)", str(path).replace("\\", "/").rsplit("/", 1)[-1])
    return match.group(1) if match and match.group(1) in EXERCISE_MODULES else None
