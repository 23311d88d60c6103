"""Notebooks with a typical mistake put in by hand: the grader's own test material.

``with_mistake(solution, replacements, folder)`` copies a solution notebook, replaces source text in
its code cells (each text must occur, so that a mutation cannot silently stop applying), and writes
it under ``folder`` with the solution's file name, so that the grader recognises the exercise. The
mutation suite in ``tests/`` and the batch-grading benchmark build their notebooks with it.
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]  # the course repository (solutions/ and exercises/)


class MutationError(ValueError):
    """A replacement's text does not occur in the solution (the solution changed)."""


def with_mistake(solution: str, replacements: dict[str, str], folder: Path, extra_cells=()) -> Path:
    """Write ``solutions/<solution>`` with ``replacements`` applied to ``folder/<solution>``."""
    nb = nbformat.read(str(ROOT / "solutions" / solution), as_version=4)
    for old, new in replacements.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        if not hits:
            raise MutationError(f"mutation target not found in {solution}: {old!r}")
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / solution
    nbformat.write(nb, str(path))
    return path
