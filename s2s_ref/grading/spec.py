"""Declarative graded tests: functions, inputs, outputs, tolerances, points and typical mistakes.

An exercise module describes its tests; this module runs them. The whole API::

    SPEC = Spec(EXERCISE, references=("s2s_ref.numpy_nn.rnn",),
                returns={"rnn_step_forward": ("h_next", "cache"), ...})

    SPEC.mistake("the bias is left out", "rnn_step_forward",
                 {"h_prev @ Wh + b)": "h_prev @ Wh)"},
                 "the bias b is missing.")

    @SPEC.test(points=2, function="rnn_step_forward", inputs=step_inputs, cases=CASES,
               outputs={"h_next": "(N, H)"})
    def step_forward(F, p):
        '''h_next equals tanh(x @ Wx + h_prev @ Wh + b)'''
        return F.rnn_step_forward(p["x"], p["h_prev"], p["Wx"], p["Wh"], p["b"])[:1]

- ``Spec(exercise, references, returns)``: ``references`` are the reference modules, in the order
  they import each other; ``returns``: {function: the names of the tuple it returns}, so that a
  learner's result of another form gets feedback saying what it should be.
- ``SPEC.mistake(name, function, {old: new}, message)``: ONE source per typical mistake. The patch
  is applied to the reference module's source to simulate the mistake (the reference, compiled
  with the patch into a private module, runs the test's ``run`` on the test's own inputs) and, by
  the mutation suite, to the solution notebook, whose graded functions have the reference's
  source (a test checks it). ``message`` is the label the feedback shows when, and only when, a
  wrong output equals the simulation's and the simulation differs from the reference there.
  ``function``: the function (or tuple of functions) holding the mistake, for the catalogue.
- ``SPEC.test(points, function, inputs, outputs, cases=(Case(),), tolerance={}, integers=())``
  decorates
  ``run(F, p) -> tuple of outputs``: ``F`` is the learner, the reference or the reference with a
  mistake put in (all have the functions as attributes); ``p`` the dict ``inputs(rng, **sizes)``
  draws for one case; ``outputs``: {name shown to the learner: its shape in letters}, in the order
  ``run`` returns them. The test's name is "function: first line of run's docstring". Every case
  is run; feedback names the case (``Case(label, sizes)``) and every wrong output.
  ``integers``: the outputs that must be integer arrays (token ids); ``also(outputs, p)``: the
  test's own check once the values are right (raises Feedback).
- ``Spec(..., adapt={function: lambda module: callable})`` where the reference's signature is
  not the exercise's; ``SPEC.mistake(..., simulate=lambda F: {function: callable})`` where the
  reference cannot take the patch (its code is not the solution's): the patch then goes only into
  the solution, and ``simulate`` gives, from the reference functions ``F``, what the mistaken
  functions compute.

A learner's function other than the test's (the forward whose cache a backward needs) that fails
is named as such. Tests that are not "these inputs, these outputs" stay ordinary functions
registered with ``EXERCISE.test``; they can still name a catalogue mistake through
``SPEC.message(name)`` and simulate it with ``SPEC.with_mistake(mistake)``.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from s2s_ref.grading.feedback import Feedback, Findings, case, unpack
from s2s_ref.grading.reference import load_patched, load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng


@dataclass(frozen=True)
class Case:
    """One fixed setting of a test's sizes; ``label`` prefixes its feedback ("" for the random
    case)."""

    label: str = ""
    sizes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SpecTest:
    function: str
    inputs: Callable
    outputs: dict
    run: Callable
    cases: tuple
    tolerance: dict
    integers: tuple
    also: Callable | None


class Spec:
    """The declarative tests and the catalogue of typical mistakes of one exercise."""

    def __init__(self, exercise: Exercise, references: tuple[str, ...], returns: dict, adapt=None):
        self.exercise, self.returns, self.adapt = exercise, returns, adapt or {}
        exercise.spec = self
        self.modules = {name: load_private(name) for name in references}
        self.reference = self._view({})
        self._patched: dict[str, SimpleNamespace] = {}

    def _view(self, replaced: dict) -> SimpleNamespace:
        """The exercise's functions, taken from the reference modules (or their replacements);
        ``adapt[f](module)`` gives ``f`` where the reference's signature is not the exercise's."""
        functions = {}
        for name, module in self.modules.items():
            module = replaced.get(name, module)
            for f in self.exercise.functions:  # defined there, not imported from another
                if getattr(getattr(module, f, None), "__module__", None) == module.__name__:
                    functions[f] = self.adapt[f](module) if f in self.adapt else getattr(module, f)
        return SimpleNamespace(**functions)

    def module_of(self, replace: dict) -> str:
        """The reference module whose source holds every text a patch replaces."""
        holders = {
            name
            for name, module in self.modules.items()
            if all(_source(module).count(old) == 1 for old in replace)
        }
        if len(holders) != 1:
            raise ValueError(
                f"{self.exercise.key}: each text that {replace} replaces must occur once in "
                f"one reference module, not {sorted(holders) or 'none'}"
            )
        return holders.pop()

    def mistake(self, name, function, replace: dict[str, str], message, simulate=None) -> Mistake:
        """Add a typical mistake to the catalogue (see the module's docstring)."""
        if simulate is None:
            self.module_of(replace)  # fails at import when the patch no longer applies
        mistake = Mistake(name, function, replace, message, simulate)
        if any(m.feedback == message or m.name == name for m in self.exercise.mistakes):
            raise ValueError(f"{self.exercise.key}: two mistakes named {name!r} or {message!r}")
        self.exercise.mistakes.append(mistake)
        return mistake

    def message(self, name: str) -> str:
        """The feedback label of the catalogue mistake called ``name``."""
        return next(m.feedback for m in self.exercise.mistakes if m.name == name)

    def with_mistake(self, mistake: Mistake) -> SimpleNamespace:
        """The reference functions with ``mistake`` put in (compiled once)."""
        if mistake.name not in self._patched:
            if mistake.simulate is not None:
                functions = vars(self.reference) | mistake.simulate(self.reference)
                self._patched[mistake.name] = SimpleNamespace(**functions)
            else:
                module = self.module_of(mistake.replace)
                patched = load_patched(module, mistake.replace)
                self._patched[mistake.name] = self._view({module: patched})
        return self._patched[mistake.name]

    def test(
        self,
        *,
        points,
        function,
        inputs,
        outputs,
        cases=(Case(),),
        tolerance=None,
        integers=(),
        also=None,
    ):
        """Decorator: register ``run`` as a graded test (see the module's docstring)."""

        def register(run):
            spec_test = SpecTest(
                function, inputs, outputs, run, tuple(cases), tolerance or {}, tuple(integers), also
            )
            self.exercise.test(points=points, function=function, name=_name(function, run))(
                functools.partial(self._grade, spec_test)
            )
            return run

        return register

    def _grade(self, test: SpecTest, learner) -> None:
        rng = test_rng()
        for one in test.cases:
            p = test.inputs(rng, **one.sizes)
            with case(one.label):
                self._check_case(test, learner, p)

    def _check_case(self, test: SpecTest, learner, p: dict) -> None:
        got = test.run(_LearnerView(learner, self.returns, test.function), p)
        want = test.run(self.reference, p)
        tolerance = {"rtol": 1e-6, "atol": 1e-8, **test.tolerance}
        if all(_same(g, w, tolerance) for g, w in zip(got, want, strict=True)):
            mistakes = []
        else:  # the mistakes whose simulation gives every output the learner's function gave
            mistakes = []
            for m in self.exercise.mistakes:
                try:
                    simulated = _quietly(test.run, self.with_mistake(m), p)
                except Exception:  # a mistake that cannot run on these inputs cannot match
                    continue
                if all(_same(g, s, tolerance) for g, s in zip(got, simulated, strict=True)):
                    mistakes.append((m.feedback, simulated))
        found = Findings()
        for k, name in enumerate(test.outputs):
            dtype = np.asarray(got[k]).dtype if name in test.integers else None
            if dtype is not None and dtype.kind not in "iu":
                found.messages.append(
                    f"{name} has dtype {dtype}: token ids are integers (keep them int)."
                )
        for k, (name, shape) in enumerate(test.outputs.items()):
            found.check(
                name,
                got[k],
                want[k],
                shape_hint=shape,
                mistakes={
                    label: functools.partial(lambda s, k: s[k], s, k) for label, s in mistakes
                },
                **test.tolerance,
            )
        found.raise_any()
        if test.also is not None:
            test.also(got, p)


def _same(got, simulated, tolerance) -> bool:
    try:
        got, simulated = np.asarray(got, dtype=float), np.asarray(simulated, dtype=float)
    except (TypeError, ValueError):
        return False
    return got.shape == simulated.shape and np.allclose(got, simulated, equal_nan=True, **tolerance)


class _LearnerView:
    """The learner's functions as ``run`` calls them: results unpacked to the names in
    ``returns``, and a failure of a function other than the test's said to be needed here."""

    def __init__(self, learner, returns: dict, function: str):
        self._learner, self._returns, self._function = learner, returns, function

    def __getattr__(self, name):
        def call(*args, **kwargs):
            try:
                result = getattr(self._learner, name)(*args, **kwargs)
                names = self._returns.get(name)
                return result if names is None else unpack(result, name, names)
            except Feedback as exc:
                if name == self._function:
                    raise
                raise Feedback(
                    f"this test needs your `{name}` for the cache, and it failed: {exc}"
                ) from None

        return call


def _quietly(run, functions, p):
    """``run`` with a mistake put in: overflow and NaN are what some mistakes produce."""
    with np.errstate(all="ignore"):
        return run(functions, p)


def _name(function: str, run) -> str:
    return f"{function}: {run.__doc__.strip().splitlines()[0]}"


@functools.cache
def _source(module) -> str:
    with open(module.__file__, encoding="utf-8") as f:
        return f.read()
