"""Build learner notebooks for grader tests: a solution with one typical bug put in by hand.

``mutant(solution, {old: new}, tmp_path)`` writes the mutated notebook into a fresh subfolder of
``tmp_path`` (see ``s2s_ref.grading.mutants.with_mistake``) and returns its path.
"""

from pathlib import Path

import nbformat

from s2s_ref.grading.mutants import ROOT, with_mistake

__all__ = ["ROOT", "cell_number", "mutant", "notebook_with_cells"]


def mutant(solution: str, replacements: dict[str, str], tmp_path: Path, extra_cells=()) -> Path:
    folder = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    return with_mistake(solution, replacements, folder, extra_cells)


def notebook_with_cells(name: str, sources, tmp_path: Path) -> Path:
    """A notebook called ``name`` whose code cells are ``sources``."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def cell_number(solution: str, text: str) -> int:
    """The grader's number (counted from 1 over all cells) of the solution's first cell holding
    ``text``, so that tests do not hard-code a position that changes when a cell is added."""
    nb = nbformat.read(str(ROOT / "solutions" / solution), as_version=4)
    return next(i for i, cell in enumerate(nb.cells, 1) if text in cell.source)
