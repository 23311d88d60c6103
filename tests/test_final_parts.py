"""The last part of each NumPy exercise proves the learner's backward passes right.

Each of ex01, ex02, ex03 and ex05 ends in a part with nothing to write: it trains (or runs) the
learner's own functions and first checks every gradient of their backward passes against central
differences of that very loss. That part must pass for the solution and fail, with a sentence that
says the backward pass is wrong, for every backward mistake of the exercise's catalogue
(``EXERCISE.mistakes`` in ``s2s_ref/grading/exNN.py``): a loss that merely falls would not.

The notebook's functions are defined by running its code cells before the final part, skipping
the check cells (they grade; here only the final part is under test); then the final part's code
cells run in order, in the same namespace.
"""

import contextlib
import io

import matplotlib
import nbformat
import pytest

from s2s_ref.grading.mutants import ROOT
from s2s_ref.grading.registry import get_exercise

NOTEBOOKS = {
    "ex01": "ex01_rnn",
    "ex02": "ex02_gated",
    "ex03": "ex03_encdec",
    "ex05": "ex05_attention",
}
GRADING_HEADING = "## Grade your notebook"


def _parts(exercise, replacements=None):
    """(code run before the final part, the final part's code cells) of the solution, mutated."""
    nb = nbformat.read(str(ROOT / "solutions" / f"{NOTEBOOKS[exercise]}.ipynb"), as_version=4)
    for old, new in (replacements or {}).items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert hits, f"{exercise}: the mistake's text no longer occurs in the solution: {old!r}"
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    headings = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    end = next(i for i in headings if nb.cells[i].source.startswith(GRADING_HEADING))
    start = max(i for i in headings if i < end)
    before = [
        c.source
        for c in nb.cells[:start]
        if c.cell_type == "code" and not c.source.lstrip().startswith("check(")
    ]
    final = [c.source for c in nb.cells[start:end] if c.cell_type == "code"]
    assert final, f"{exercise}: no code in the final part"
    return before, final


def _run_final_part(exercise, replacements=None):
    """Run the final part; return its printed output. Raises what the final part raises."""
    matplotlib.use("Agg")
    before, final = _parts(exercise, replacements)
    namespace = {"__name__": "__final_part__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for source in before:
            exec(compile(source, f"<{exercise} before the final part>", "exec"), namespace)
        for n, source in enumerate(final):
            exec(compile(source, f"<{exercise} final part, cell {n + 1}>", "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    return out.getvalue()


def _backward_mistakes():
    for exercise in NOTEBOOKS:
        for mistake in get_exercise(exercise).mistakes:
            if any("backward" in f for f in mistake.functions):
                yield pytest.param(exercise, mistake, id=f"{exercise}-{mistake.name}")


@pytest.mark.parametrize("exercise", list(NOTEBOOKS))
def test_final_part_passes_for_the_solution(exercise):
    printed = _run_final_part(exercise)
    assert "relative error" in printed  # the gradient check ran and said what it measured


@pytest.mark.parametrize(("exercise", "mistake"), list(_backward_mistakes()))
def test_final_part_fails_with_a_sentence_for_every_backward_mistake(exercise, mistake):
    with pytest.raises(AssertionError) as failure:
        _run_final_part(exercise, mistake.replace)
    message = str(failure.value)
    assert message.startswith("your "), message
    assert "backward" in message or "gradient" in message, message
    assert any(f in message for f in mistake.functions) or "backward pass" in message, message


def test_every_numpy_exercise_with_a_backward_has_its_final_part_tested():
    with_backward = {
        key
        for key in ("ex01", "ex02", "ex03", "ex04", "ex05")
        if any("backward" in f for f in get_exercise(key).functions)
    }
    assert with_backward == set(NOTEBOOKS)
