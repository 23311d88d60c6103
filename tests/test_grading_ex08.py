"""Exercise 8's grader: the solution holds the reference's code verbatim, every catalogued
mistake is named by its own label and by no other, and learner code that is right in another way
(a large negative number instead of -inf, a mask of another dtype) is judged as it should be."""

import inspect
import re

import nbformat
import numpy as np
import pytest

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.learner import Learner
from s2s_ref.grading.registry import get_exercise, seeded
from s2s_ref.numpy_nn import layer_norm, multihead

from .notebook_mutants import ROOT

EXERCISE = get_exercise("ex08")
MODULES = {"layer_norm_forward": layer_norm, "layer_norm_backward": layer_norm}
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def _solution_sources():
    """{graded function: its source in the solution notebook, the markers' lines removed}."""
    nb = nbformat.read(str(ROOT / "solutions" / EXERCISE.notebook), as_version=4)
    found = {}
    for cell in nb.cells:
        for name in EXERCISE.functions:
            if cell.cell_type == "code" and cell.source.startswith(f"def {name}("):
                found[name] = MARKERS.sub("", cell.source)
    return found


@pytest.mark.parametrize("name", EXERCISE.functions)
def test_the_solution_holds_the_reference_code_verbatim(name):
    reference = getattr(MODULES.get(name, multihead), name)
    assert _solution_sources()[name].rstrip("\n") == inspect.getsource(reference).rstrip("\n")


def _grade(namespace):
    """{test name: feedback or None} of every ex08 test on the functions of namespace."""
    learner = Learner(namespace)
    results = {}
    for test in EXERCISE.tests:
        try:
            with seeded("ex08", test.name, 0):
                test.run(learner)
        except Feedback as exc:
            results[test.name] = str(exc)
        else:
            results[test.name] = None
    return results


def _as_learner(name, source):
    """The function `name` compiled from `source` as a learner's notebook would define it (the
    grader gives 0 to the package's own functions), with the names its module sees."""
    namespace = dict(vars(MODULES.get(name, multihead)))
    exec(compile(source, "<learner>", "exec"), namespace)
    return namespace[name]


def _reference_namespace():
    """Every graded function, the reference's code written out as a learner's."""
    return {
        n: _as_learner(n, inspect.getsource(getattr(MODULES.get(n, multihead), n)))
        for n in EXERCISE.functions
    }


def test_the_reference_passes_every_test():
    assert _grade(_reference_namespace()) == {t.name: None for t in EXERCISE.tests}


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=[m.name for m in EXERCISE.mistakes])
def test_each_simulated_mistake_shows_its_own_label_and_no_other(mistake):
    from s2s_ref.grading import ex08

    namespace = _reference_namespace()
    namespace[mistake.function] = ex08._simulate(mistake.function, mistake.replace)
    results = _grade(namespace)
    lost = [f for t, f in results.items() if f is not None and t.startswith(mistake.function)]
    assert lost and all(mistake.feedback in f for f in lost), results
    others = [m.feedback for m in EXERCISE.mistakes if m.feedback != mistake.feedback]
    shown = [label for label in others for f in results.values() if f and label in f]
    assert shown == [], f"{mistake.name}: also shows {shown}"


def test_the_labels_are_distinct_and_none_contains_another():
    labels = [m.feedback for m in EXERCISE.mistakes]
    assert not [(a, b) for a in labels for b in labels if a != b and a in b]


def test_a_large_negative_fill_instead_of_minus_infinity_passes():
    source = inspect.getsource(multihead.multi_head_attention_forward)
    fill = source.replace("np.where(allowed, scores, -np.inf)", "np.where(allowed, scores, -1e30)")
    assert fill != source
    namespace = _reference_namespace()
    namespace["multi_head_attention_forward"] = _as_learner("multi_head_attention_forward", fill)
    results = _grade(namespace)
    assert all(f is None for f in results.values()), results


def test_a_float_causal_mask_is_told_to_be_boolean():
    results = _grade({**_reference_namespace(), "causal_mask": lambda T: np.tril(np.ones((T, T)))})
    (feedback,) = [f for t, f in results.items() if t.startswith("causal_mask")]
    assert "must be boolean" in feedback
