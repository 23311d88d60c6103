"""Build learner notebooks for grader tests: a solution with one typical bug put in by hand.

``mutant(solution, {old: new}, tmp_path)`` copies a solution notebook, replaces source text in its
code cells (each ``old`` must occur, so a mutation cannot silently stop applying), and returns the
new notebook's path, named like the original so the grader recognises the exercise.
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def mutant(solution: str, replacements: dict[str, str], tmp_path: Path, extra_cells=()) -> Path:
    nb = nbformat.read(str(ROOT / "solutions" / solution), as_version=4)
    for old, new in replacements.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert hits, f"mutation target not found in {solution}: {old!r}"
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    out_dir = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    out_dir.mkdir()
    path = out_dir / solution
    nbformat.write(nb, str(path))
    return path


def notebook_with_cells(name: str, sources, tmp_path: Path) -> Path:
    """A notebook called ``name`` whose code cells are ``sources``."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path
