"""Every grader against its own exercise: the solution notebook gets full marks, the generated
exercise gets 0 with "not implemented yet" on every test. (Each exercise's typical mistakes are
checked by tests/test_grading_mistakes.py; exercise-specific cases live in test_grading_exNN.py.)"""

import pytest

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT

# the points of each exercise: a change here is a change to every learner's grade, so it is explicit
MAX_SCORES = {
    "ex01": 12,
    "ex02": 22,
    "ex03": 19,
    "ex04": 12,
    "ex05": 16,
    "ex06": 16,
    "ex07": 15,
    "ex08": 13,
}
TIMEOUT = 120  # ex06 and ex07 train a model: a few CPU seconds, far more wall time when busy


def test_every_registered_exercise_has_its_points_listed():
    assert set(MAX_SCORES) == set(EXERCISE_MODULES)


@pytest.mark.parametrize("key", EXERCISE_MODULES)
def test_solution_gets_full_marks(key):
    exercise = get_exercise(key)
    result = grade_notebook(ROOT / "solutions" / exercise.notebook, key, timeout=TIMEOUT)
    assert result.max_score == MAX_SCORES[key]
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


@pytest.mark.parametrize("key", EXERCISE_MODULES)
def test_generated_exercise_gets_zero_with_not_implemented_feedback(key):
    exercise = get_exercise(key)
    result = grade_notebook(ROOT / "exercises" / exercise.notebook, key, timeout=TIMEOUT)
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t
