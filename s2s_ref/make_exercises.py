"""Write ``exercises/`` from ``solutions/``: ``python -m s2s_ref.make_exercises [--check|--force]``.

Run it from the course repository's root (or pass ``--root``). For each ``solutions/exNN_*.ipynb``:

- the solution itself is brought up to date in place, outputs kept: its first code cell is the
  setup cell (on Colab only, it installs the course package at this version's tag, from the
  repository named in ``_config.yml``), and its cells carry nbgrader's metadata: a solution cell
  for each ``### BEGIN SOLUTION`` region, a locked check cell worth this grader's points for each
  ``check(function)``, so that nbgrader's ``generate_assignment`` and ``autograde`` work on
  ``solutions/`` unchanged;
- the exercise is the solution with each region between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION`` replaced, at the region's indentation, by ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``, outputs and execution counts cleared, and a fingerprint of its
  cells' sources in its metadata.

An existing exercise is replaced only when its sources still match its fingerprint (nobody edited
it since it was generated); an edited one (a learner's work, say) is left alone with a message,
unless ``--force``, which first keeps a copy beside it (``exNN_*.ipynb.<UTC time>.bak``).
``--check`` writes nothing and exits 1 if a solution or an exercise is not what this writes (the
repository's tests run the same comparison); with no ``solutions/`` it exits 2, saying so.
``--execute`` first runs every solution notebook in place (from its own folder), so that committed
outputs are current. Every file goes through ``s2s_ref.atomic``.
"""

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import nbformat

from s2s_ref import __version__
from s2s_ref.atomic import write_atomic

_REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)
_CHECK = re.compile(r"^check\((\w+)\)[ \t]*$", re.MULTILINE)
_DEFINES = re.compile(r"^(?:def|class) (\w+)", re.MULTILINE)
_REPOSITORY_URL = re.compile(r"^repository:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*(\S+)", re.M)
SETUP_FIRST_LINE = "# Setup: on Google Colab, install the course package at this notebook's version"
NBGRADER_SCHEMA = 3


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


def course_url(root: Path) -> str:
    """The course repository's URL, from ``repository.url`` in ``root/_config.yml``."""
    config = root / "_config.yml"
    found = _REPOSITORY_URL.search(config.read_text()) if config.is_file() else None
    if not found:
        raise FileNotFoundError(f"{config}: expected a `repository:` section with a `url:`")
    return found[1].strip("\"'").removesuffix("/")


def revision() -> str:
    """The git tag the setup cells install: ``v`` and the package's version (``v0.1.0``)."""
    return f"v{__version__}"


def setup_source(url: str, rev: str) -> str:
    """The setup cell: installs ``s2s_ref`` from ``url`` at ``rev``, on Colab only.

    Colab is recognised by its own package, ``google.colab``, importable there only (the grader
    notes ``sys.modules`` in a notebook as tampering, so the cell does not look there).
    """
    return (
        f"{SETUP_FIRST_LINE}\n"
        "# (a tag of the course repository); anywhere else it is installed already and this cell\n"
        "# does nothing.\n"
        "import sys\n"
        "\n"
        "try:\n"
        "    import google.colab\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    import subprocess\n"
        "\n"
        f'    package = "s2s_ref @ git+{url}@{rev}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)'
    )


def function_points(exercise_key: str) -> dict[str, float]:
    """This grader's points per learner function of one exercise ({"rnn_step_forward": 3.0})."""
    from s2s_ref.grading.registry import get_exercise

    points: dict[str, float] = {}
    for test in get_exercise(exercise_key).tests:
        points[test.function] = points.get(test.function, 0.0) + test.points
    return points


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = dict(grade=grade, grade_id=grade_id, locked=locked, schema_version=NBGRADER_SCHEMA)
    meta.update(solution=solution, task=False)
    if points is not None:
        meta["points"] = points
    return meta


def prepare_solution(nb, name: str, url: str) -> None:
    """Give the solution notebook ``nb`` (file ``name``) its setup cell and nbgrader metadata."""
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if not code:
        raise ValueError(f"{name}: expected code cells, found none")
    source = setup_source(url, revision())
    first = nb.cells[code[0]]
    if first.source.startswith(SETUP_FIRST_LINE):
        first.source = source
    else:
        nb.cells.insert(code[0], nbformat.v4.new_code_cell(source, id="setup"))
    points = function_points(name[:4])
    used = set()
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        checked = _CHECK.findall(cell.source)
        if cell.source.startswith(SETUP_FIRST_LINE):
            meta = _nbgrader("setup", locked=True)
        elif _REGION.search(cell.source):
            defined = _DEFINES.findall(cell.source)
            meta = _nbgrader(defined[0] if defined else f"solution-{i}", solution=True)
        elif checked:
            unknown = [f for f in checked if f not in points]
            if unknown:
                raise ValueError(
                    f"{name}, cell {i}: check({unknown[0]}) has no graded test; expected one of "
                    f"{', '.join(points)}"
                )
            total = sum(points[f] for f in checked)
            total = int(total) if float(total).is_integer() else total
            meta = _nbgrader(f"check_{'_'.join(checked)}", grade=True, locked=True, points=total)
        else:
            cell.metadata.pop("nbgrader", None)
            continue
        if meta["grade_id"] in used:
            raise ValueError(f"{name}, cell {i}: two cells would be graded as {meta['grade_id']}")
        used.add(meta["grade_id"])
        cell.metadata["nbgrader"] = meta


def sources_sha256(nb) -> str:
    """A fingerprint of the notebook's cells: their types and sources, nothing else."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def _write(nb) -> str:
    return nbformat.writes(nb) + "\n"


def render_solution(solution_path: Path) -> str:
    """The solution notebook as this writes it (setup cell, nbgrader metadata), as text."""
    solution_path = Path(solution_path)
    nb = nbformat.read(str(solution_path), as_version=4)
    prepare_solution(nb, solution_path.name, course_url(solution_path.resolve().parents[1]))
    return _write(nb)


def render_exercise(solution_path: Path) -> str:
    """The exercise notebook generated from one solution notebook, as the text to write."""
    solution_path = Path(solution_path)
    nb = nbformat.reads(render_solution(solution_path), as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{solution_path.name}, cell {i}")
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["s2s_ref"] = {"sources_sha256": sources_sha256(nb)}
    return _write(nb)


def is_edited(exercise_path: Path) -> bool:
    """Whether an exercise's sources differ from those it was generated with (or it cannot
    tell: no fingerprint, unreadable)."""
    try:
        nb = nbformat.read(str(exercise_path), as_version=4)
    except Exception:
        return True
    recorded = nb.metadata.get("s2s_ref", {}).get("sources_sha256")
    return recorded != sources_sha256(nb)


def execute_in_place(path: Path, timeout: int = 300) -> None:
    """Run a notebook top to bottom with a fresh kernel and save its outputs."""
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(
        nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    write_atomic(path, _write(nb))
    print(f"executed: {path}")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _backup(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return write_atomic(path.with_name(f"{path.name}.{stamp}.bak"), path.read_bytes())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.make_exercises")
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    parser.add_argument("--execute", action="store_true", help="re-run solutions/ in place first")
    parser.add_argument(
        "--force", action="store_true", help="also replace edited exercises (keeping a backup)"
    )
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the course repository (default: here)"
    )
    args = parser.parse_args(argv)
    root = args.root
    solutions = sorted((root / "solutions").glob("ex*.ipynb"))
    if not solutions:
        print(
            f"make_exercises: no solutions/ex*.ipynb in {root.resolve()}: run it from the course "
            "repository's root (or pass --root); a learner's copy has no solutions to generate "
            "from",
            file=sys.stderr,
        )
        return 2
    stale, kept = [], []
    try:
        for solution in solutions:
            if args.execute and not args.check:
                execute_in_place(solution)
            text = render_solution(solution)
            if solution.read_text() != text:
                stale.append(solution)
                if not args.check:
                    write_atomic(solution, text)
            target = root / "exercises" / solution.name
            text = render_exercise(solution)
            if target.exists() and target.read_text() == text:
                continue
            if args.check:
                stale.append(target)
                continue
            if target.exists() and is_edited(target):
                if not args.force:
                    kept.append(target)
                    continue
                print(f"kept a copy: {_backup(target)}")
            target.parent.mkdir(exist_ok=True)
            write_atomic(target, text)
            stale.append(target)
    except (MarkerError, ValueError, FileNotFoundError) as exc:
        print(f"make_exercises: {exc}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {_shown(path, root)}")
    for path in kept:
        print(
            f"left as it is: {_shown(path, root)} has been edited since it was generated (a "
            "learner's work?); `--force` replaces it and keeps a copy beside it",
            file=sys.stderr,
        )
    return 1 if (args.check and stale) or kept else 0


if __name__ == "__main__":
    sys.exit(main())
