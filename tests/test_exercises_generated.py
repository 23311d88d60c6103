"""exercises/ is generated from solutions/: regenerating changes nothing, and no answer leaks."""

from pathlib import Path

import pytest

from s2s_ref.make_exercises import MarkerError, render_exercise, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_exercise_is_up_to_date_with_its_solution(solution):
    exercise = ROOT / "exercises" / solution.name
    assert exercise.exists(), f"run `python -m s2s_ref.make_exercises`: {exercise.name} is missing"
    assert exercise.read_text() == render_exercise(solution), (
        f"exercises/{solution.name} differs from what solutions/{solution.name} generates: "
        "run `python -m s2s_ref.make_exercises` (never edit exercises/ by hand)"
    )


def test_every_exercise_has_a_solution_and_no_answer():
    for exercise in (ROOT / "exercises").glob("*.ipynb"):
        assert (ROOT / "solutions" / exercise.name).exists(), exercise.name
        text = exercise.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


def test_regions_keep_their_indentation_and_unbalanced_markers_fail():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n    return y\n"
    )
    assert strip_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    return y\n"
    )
    with pytest.raises(MarkerError, match="unbalanced"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")
