"""Write ``exercises/`` from ``solutions/``: ``python -m s2s_ref.make_exercises [--check]``.

Each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes, at the region's
indentation, ``# YOUR CODE HERE`` and ``raise NotImplementedError()``; outputs and execution
counts are cleared. ``--check`` writes nothing and exits 1 if any exercise differs from what its
solution generates (the repository's tests run the same comparison). ``--execute`` first runs
every solution notebook in place (from its own folder), so that committed outputs are current.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
_REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)


class MarkerError(ValueError):
    """A solution region is opened and not closed, or closed without being opened."""


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace every solution region of a cell's source by the placeholder."""
    stripped = _REGION.sub(
        lambda m: f"{m['indent']}# YOUR CODE HERE\n{m['indent']}raise NotImplementedError()\n",
        source,
    )
    if "### BEGIN SOLUTION" in stripped or "### END SOLUTION" in stripped:
        raise MarkerError(f"{where}: unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers")
    return stripped.rstrip("\n") if not source.endswith("\n") else stripped


def render_exercise(solution_path: Path) -> str:
    """The exercise notebook generated from one solution notebook, as the text to write."""
    nb = nbformat.read(str(solution_path), as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{solution_path.name}, cell {i}")
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb) + "\n"


def execute_in_place(path: Path, timeout: int = 300) -> None:
    """Run a notebook top to bottom with a fresh kernel and save its outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(
        nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    nbformat.write(nb, str(path))
    print(f"executed: {path.relative_to(ROOT)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.make_exercises")
    parser.add_argument("--check", action="store_true", help="only report exercises that drifted")
    parser.add_argument("--execute", action="store_true", help="re-run solutions/ in place first")
    args = parser.parse_args(argv)
    drifted = []
    for solution in sorted((ROOT / "solutions").glob("ex*.ipynb")):
        if args.execute and not args.check:
            execute_in_place(solution)
        target = ROOT / "exercises" / solution.name
        text = render_exercise(solution)
        if target.exists() and target.read_text() == text:
            continue
        drifted.append(target.relative_to(ROOT))
        if not args.check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text)
    for path in drifted:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if args.check and drifted else 0


if __name__ == "__main__":
    sys.exit(main())
