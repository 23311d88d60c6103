"""The ex03 grader's own cases (full marks and zero for every exercise: test_grading_solutions.py;
typical mistakes: test_grading_mistakes.py)."""

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import mutant

SOLUTION = "ex03_encdec.ipynb"


def test_borrowing_the_reference_scores_zero(tmp_path):
    path = mutant(SOLUTION, {"from s2s_ref.checks import check": "from s2s_ref.checks import check\nfrom s2s_ref.numpy_nn.encoder import encoder_forward as ref_encoder"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex03")
    assert any("cannot be imported while ex03 is graded" in p for p in result.problems)


def _lost(result, function):
    return [t for t in result.tests if t.name.startswith(function) and not t.passed]


def test_a_squeeze_that_loses_the_batch_axis_fails_on_one_sequence(tmp_path):
    old = "context = enc[np.arange(src.shape[0]), last]"
    path = mutant(SOLUTION, {old: f"{old}.squeeze()"}, tmp_path)
    (forward,) = _lost(grade_notebook(path, "ex03"), "encoder_forward")
    assert forward.feedback.startswith("with N = 1 and one token: context has shape (5,)"), (
        forward.feedback
    )


def test_ids_returned_as_floats_are_named(tmp_path):
    old = "dec_in = np.zeros((len(targets), L), dtype=np.int64)"
    result = grade_notebook(
        mutant(SOLUTION, {old: "dec_in = np.zeros((len(targets), L))"}, tmp_path), "ex03"
    )
    (shift,) = _lost(result, "shift_for_decoder")
    assert "dec_in has dtype float64: token ids are integers" in shift.feedback, shift.feedback
