"""The ex04 grader: full marks for the solution, 0 for the exercise, and its other checks
(its catalogue of typical mistakes is checked by tests/test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex04_decoding.ipynb"


def test_solution_gets_full_marks():
    result = grade_notebook(ROOT / "solutions" / SOLUTION, "ex04")
    assert result.max_score == 12
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]
    assert result.problems == []


def test_generated_exercise_gets_zero_with_not_implemented_feedback():
    result = grade_notebook(ROOT / "exercises" / SOLUTION, "ex04")
    assert result.score == 0
    for t in result.tests:
        assert "not implemented yet" in t.feedback, t


def test_borrowing_the_reference_decoder_scores_zero(tmp_path):
    path = mutant(SOLUTION, {"from s2s_ref.checks import check": "from s2s_ref.checks import check\nfrom s2s_ref.decoding import beam_search as reference_beam"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex04")
    assert any("cannot be imported while ex04 is graded" in p for p in result.problems)
