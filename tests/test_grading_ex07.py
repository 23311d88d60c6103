"""The ex07 grader: full marks for the solution, 0 for the exercise (its catalogue of typical
mistakes is checked by tests/test_grading_mistakes.py)."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT

SOLUTION = "ex07_torch_attention.ipynb"
TIMEOUT = 120  # the training test takes a few CPU seconds, far more wall time on a busy machine


@pytest.mark.slow
def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex07", timeout=TIMEOUT)
    assert result.max_score == 15
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex07", timeout=TIMEOUT)
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t
