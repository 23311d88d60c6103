"""The mutation suite: every typical mistake in every exercise's catalogue, put into its solution,
loses points in the function that holds it, with feedback that names it. For the exercises written
as specs (``grading.spec``), the feedback names exactly that mistake (no other label of the
catalogue), and the catalogue is exactly the set of labels the mutations trigger."""

import functools

import pytest

from s2s_ref.grading.mutants import with_mistake
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from s2s_ref.grading.runner import grade_notebook

MINIMUM = 5  # typical mistakes each exercise's grader must name
TIMEOUT = 120  # seconds per test: ex06 trains a model, far slower on a busy machine
CATALOGUE = [(key, m) for key in EXERCISE_MODULES for m in get_exercise(key).mistakes]
SPECS = [key for key in EXERCISE_MODULES if get_exercise(key).spec is not None]


@functools.cache
def _graded(key, name, folder):
    """The gradebook of ``key``'s solution with the mistake called ``name`` put in."""
    mistake = next(m for m in get_exercise(key).mistakes if m.name == name)
    path = with_mistake(get_exercise(key).notebook, mistake.replace, folder / f"{key}-{hash(name)}")
    return grade_notebook(path, key, timeout=TIMEOUT)


def _labels(key, result) -> set[str]:
    """The catalogue labels that the feedback of ``result`` names."""
    feedback = " ".join(t.feedback for t in result.tests)
    return {m.feedback for m in get_exercise(key).mistakes if m.feedback in feedback}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mutants")


@pytest.mark.parametrize("key", EXERCISE_MODULES)
def test_each_exercise_names_enough_typical_mistakes(key):
    exercise = get_exercise(key)
    assert len(exercise.mistakes) >= MINIMUM, f"{key}: {len(exercise.mistakes)} mistakes"
    assert len({m.name for m in exercise.mistakes}) == len(exercise.mistakes), "duplicate names"
    for m in exercise.mistakes:
        assert set(m.functions) <= set(exercise.functions), m


@pytest.mark.parametrize(
    "key, mistake", CATALOGUE, ids=[f"{key}: {m.name}" for key, m in CATALOGUE]
)
def test_each_typical_mistake_loses_points_and_is_named(key, mistake, folder):
    result = _graded(key, mistake.name, folder)
    assert result.score < result.max_score, f"{mistake.name}: full marks"
    for function in mistake.functions:
        lost = [
            t.feedback for t in result.tests if not t.passed and t.name.split(":")[0] == function
        ]
        assert lost, f"{mistake.name}: {function} should lose points; {result.tests}"
        assert any(mistake.feedback in feedback for feedback in lost), lost
    if key in SPECS:
        assert _labels(key, result) == {mistake.feedback}, [t.feedback for t in result.tests]


@pytest.mark.parametrize("key", SPECS)
def test_the_catalogue_is_what_the_mutations_trigger(key, folder):
    mistakes = get_exercise(key).mistakes
    triggered = {m.name: _labels(key, _graded(key, m.name, folder)) for m in mistakes}
    wrong = {name: labels for name, labels in triggered.items() if len(labels) != 1}
    assert not wrong, f"mutations naming no label or several: {wrong}"
    assert set().union(*triggered.values()) == {m.feedback for m in mistakes}
