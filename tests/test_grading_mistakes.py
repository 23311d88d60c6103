"""The mutation suite: every typical mistake in every exercise's catalogue, put into its solution,
loses points in the function that holds it, with feedback that names it."""

import pytest

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

MINIMUM = 5  # typical mistakes each exercise's grader must name
TIMEOUT = 120  # seconds per test: ex06 trains a model, far slower on a busy machine
CATALOGUE = [(key, m) for key in EXERCISE_MODULES for m in get_exercise(key).mistakes]


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
def test_each_typical_mistake_loses_points_and_is_named(key, mistake, tmp_path):
    path = mutant(get_exercise(key).notebook, mistake.replace, tmp_path)
    result = grade_notebook(path, key, timeout=TIMEOUT)
    assert result.score < result.max_score, f"{mistake.name}: full marks"
    for function in mistake.functions:
        lost = [
            t.feedback for t in result.tests if not t.passed and t.name.split(":")[0] == function
        ]
        assert lost, f"{mistake.name}: {function} should lose points; {result.tests}"
        assert any(mistake.feedback in feedback for feedback in lost), lost
