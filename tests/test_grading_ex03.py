"""The ex03 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

SOLUTION = "ex03_encdec.ipynb"


def test_borrowing_the_reference_scores_zero(tmp_path):
    path = mutant(SOLUTION, {"from s2s_ref.checks import check": "from s2s_ref.checks import check\nfrom s2s_ref.numpy_nn.encoder import encoder_forward as ref_encoder"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex03")
    assert any("cannot be imported while ex03 is graded" in p for p in result.problems)
