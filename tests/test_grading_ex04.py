"""The ex04 grader: full marks for the solution, 0 for the exercise, and each typical bug loses
points with feedback that names it."""

import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

SOLUTION = "ex04_decoding.ipynb"


def _by_function(result):
    lost = {}
    for t in result.tests:
        if not t.passed:
            lost.setdefault(t.name.split(":")[0], []).append(t.feedback)
    return lost


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


MUTATIONS = {
    "greedy keeps growing after EOS": (
        {"out[alive, t] = tokens[alive]": "out[:, t] = tokens"},
        "greedy_decode",
        "keep growing after EOS",
    ),
    "beam hypotheses not finished at EOS": (
        {"if token == eos_id:": "if False:"},
        "beam_search",
        "not finished at EOS",
    ),
    "no length normalisation": (
        {"lp = length_penalty(t + 1, alpha)": "lp = 1.0",
         "lp = length_penalty(max_len, alpha)": "lp = 1.0"},
        "beam_search",
        "no length normalisation",
    ),
    "beam keeps one candidate per parent": (
        {"scores = np.array([lp for _, lp in beam])[:, None] + log_probs":
         "scores = np.array([lp for _, lp in beam])[:, None] + log_probs\n"
         "        scores = np.where(scores == scores.max(axis=1, keepdims=True), scores, -np.inf)"},
        "beam_search",
        "keeps only one candidate per parent",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bug", MUTATIONS, ids=list(MUTATIONS))
def test_each_typical_bug_loses_points_and_is_named(bug, tmp_path):
    replacements, function, phrase = MUTATIONS[bug]
    result = grade_notebook(mutant(SOLUTION, replacements, tmp_path), "ex04")
    assert result.score < result.max_score
    lost = _by_function(result)
    assert function in lost, f"{bug}: {function} should lose points; lost: {lost}"
    assert any(phrase in feedback for feedback in lost[function]), lost[function]


def test_borrowing_the_reference_decoder_scores_zero(tmp_path):
    path = mutant(SOLUTION, {"from s2s_ref.checks import check": "from s2s_ref.checks import check\nfrom s2s_ref.decoding import beam_search as reference_beam"}, tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex04")
    assert any("cannot be imported while ex04 is graded" in p for p in result.problems)
