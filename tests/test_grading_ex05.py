"""The ex05 grader: full marks for the solution, 0 for the exercise, and its other checks
(its catalogue of typical mistakes is checked by tests/test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex05_attention.ipynb"
CHECK = (
    "    if not np.all(mask.any(axis=1)):\n"
    '        raise ValueError("masked_softmax: a row has no real key (its mask is all False)")\n'
)


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex05")
    assert result.max_score == 16
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex05")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


def test_the_fully_padded_row_check_costs_only_its_own_test(tmp_path):
    """Without the ValueError, rows that do have real keys are still right: one test lost."""
    result = grade_notebook(mutant(SOLUTION, {CHECK: ""}, tmp_path), "ex05")
    assert result.score == result.max_score - 1
