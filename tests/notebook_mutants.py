"""Build learner notebooks for grader tests: a solution with one typical bug put in by hand.

``mutant(solution, {old: new}, tmp_path)`` writes the mutated notebook into a fresh subfolder of
``tmp_path`` (see ``s2s_ref.grading.mutants.with_mistake``) and returns its path.
"""

from pathlib import Path

import nbformat

from s2s_ref.grading.mutants import ROOT, with_mistake

__all__ = ["ROOT", "mutant", "notebook_with_cells"]


def mutant(solution: str, replacements: dict[str, str], tmp_path: Path, extra_cells=()) -> Path:
    folder = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    return with_mistake(solution, replacements, folder, extra_cells)


def notebook_with_cells(name: str, sources, tmp_path: Path) -> Path:
    """A notebook called ``name`` whose code cells are ``sources``."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path
