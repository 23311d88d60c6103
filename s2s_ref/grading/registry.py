"""Exercises, their graded tests and their catalogue of typical mistakes.

Each ``s2s_ref/grading/exNN.py`` builds one ``Exercise``. ex01-ex05 describe their tests and
mistakes declaratively with ``grading.spec`` (each mistake written once: a patch that both
simulates it and, in the mutation suite, puts it into the solution); ex06 and ex07 register tests
with the ``@EXERCISE.test(points=..., function=...)`` decorator and list their mistakes in
``EXERCISE.mistakes``. The repository's tests check every catalogue entry, and the book's appendix
"Feedback catalogue" prints them. A test receives a ``Learner`` (the notebook's namespace, with
borrowing and missing functions turned into feedback) and returns normally to pass or raises
``Feedback``. To add an exercise, write its module and add its key to ``EXERCISE_MODULES``.
"""

import contextlib
import contextvars
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# grading modules, in course order; add yours here
EXERCISE_MODULES = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08")


@dataclass(frozen=True)
class Mistake:
    """A typical bug: how to put it into the solution notebook, and how the grader names it.

    name: the mistake in a few words; function: the learner function that holds it, or a tuple of
    functions that must all lose points (a forward and the sequence forward that calls it);
    replace: {text of the solution's code cells: buggy text} (each text must occur); feedback:
    words that the feedback of at least one test of each function must contain (for a spec
    exercise: the label, the whole sentence the feedback names the mistake with).
    """

    name: str
    function: str | tuple[str, ...]
    replace: dict[str, str]
    feedback: str
    # for a spec exercise whose reference cannot take the patch: the reference functions ->
    # {function: what it computes with the mistake} (see ``spec``)
    simulate: Callable | None = None

    @property
    def functions(self) -> tuple[str, ...]:
        return (self.function,) if isinstance(self.function, str) else tuple(self.function)


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
    mistakes: list[Mistake] = field(default_factory=list)
    spec: object = None  # the exercise's ``spec.Spec``, for exercises written declaratively

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


_SEED: contextvars.ContextVar = contextvars.ContextVar("test_seed", default=None)


def seed_of(exercise: str, test: str, seed: int) -> int:
    """A stable 64-bit seed for one test (hashlib: the same on every run and machine)."""
    digest = hashlib.sha256(f"{exercise}\0{test}\0{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@contextlib.contextmanager
def seeded(exercise: str, test: str, seed: int):
    """While inside, ``test_rng()`` draws the inputs of ``test`` for this ``seed``."""
    token = _SEED.set(np.random.SeedSequence(seed_of(exercise, test, seed)))
    try:
        yield
    finally:
        _SEED.reset(token)


def test_rng() -> np.random.Generator:
    """A generator for a graded test's inputs: each call in one test gets the next stream of
    that test's seed (see ``seeded``); outside ``seeded``, the streams of seed 0."""
    sequence = _SEED.get()
    if sequence is None:
        sequence = np.random.SeedSequence(0)
        _SEED.set(sequence)
    return np.random.default_rng(sequence.spawn(1)[0])


class MissingDependency(RuntimeError):
    """An exercise's grading needs a package that is not installed (PyTorch for ex06, ex07)."""


def get_exercise(key: str) -> Exercise:
    """The Exercise for "ex01" (imports its grading module on first use).

    Raises MissingDependency, saying what to install, when the module needs torch and it is absent.
    """
    if key not in EXERCISE_MODULES:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(EXERCISE_MODULES)}")
    try:
        return importlib.import_module(f"s2s_ref.grading.{key}").EXERCISE
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise MissingDependency(
            f"{key} grades PyTorch code, and PyTorch is not installed: install its CPU build with "
            "`pip install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu` "
            "(or `pip install -r requirements-learner.txt` in the course repository)"
        ) from None
