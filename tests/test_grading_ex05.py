"""The ex05 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

SOLUTION = "ex05_attention.ipynb"
CHECK = (
    "    if not np.all(mask.any(axis=1)):\n"
    '        raise ValueError("masked_softmax: a row has no real key (its mask is all False)")\n'
)


def test_the_fully_padded_row_check_costs_only_its_own_test(tmp_path):
    """Without the ValueError, rows that do have real keys are still right: one test lost."""
    result = grade_notebook(mutant(SOLUTION, {CHECK: ""}, tmp_path), "ex05")
    assert result.score == result.max_score - 1
