"""This grader against nbgrader's autograde, on the same class: ``python -m
s2s_ref.bench.grade_nbgrader [--submissions 50] [--exercises ex01 ex03] [--jobs 1 2]``.

Writes ``--submissions`` learners' folders, each with one notebook per exercise (solutions,
unfilled exercises and catalogue mutants, as ``grade_batch`` makes them), grades them with
``python -m s2s_ref.grade FOLDER --jobs N`` for each N, then with ``nbgrader autograde`` (the
notebooks given nbgrader metadata: the solution regions as solution cells, the check cells as
graded cells),
and prints notebooks per minute for both and the ratio. nbgrader is installed by this script
into its own virtual environment under a temporary folder (its kernel also sees this
environment's packages); when that fails the comparison is skipped with a message saying why.
nbgrader runs every cell of a notebook in a Jupyter kernel, one notebook at a time, with no
sandbox; this grader runs only definitions, in a sandboxed worker, ``--jobs`` at a time.
"""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import nbformat

from s2s_ref.bench.grade_batch import make_class
from s2s_ref.grading.mutants import ROOT
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

ASSIGNMENT = "ps1"


def nbgrader_metadata(key: str) -> list:
    """Per cell of the exercise's solution: its nbgrader metadata (or None)."""
    solution = nbformat.read(str(ROOT / "solutions" / get_exercise(key).notebook), as_version=4)
    found = []
    for i, cell in enumerate(solution.cells):
        meta = None
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            meta = dict(solution=True, grade=False, locked=False, grade_id=f"{key}-solution-{i}")
        elif cell.cell_type == "code" and "check(" in cell.source:
            meta = dict(solution=False, grade=True, locked=True, points=1, grade_id=f"{key}-{i}")
        if meta is not None:
            meta["schema_version"] = 3
        found.append(meta)
    return found


def with_metadata(path: Path, target: Path, metadata: list) -> None:
    """Copy notebook ``path`` to ``target`` with ``metadata`` on its cells (matched by index)."""
    nb = nbformat.read(str(path), as_version=4)
    for cell, meta in zip(nb.cells, metadata, strict=False):
        if meta is not None:
            cell.metadata["nbgrader"] = dict(meta)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))


def install_nbgrader(folder: Path) -> Path | None:
    """A virtual environment with nbgrader in ``folder``; None (after a message) if it fails."""
    venv = folder / "nbgrader-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "nbgrader", "ipykernel"]
        subprocess.run(pip, check=True, capture_output=True, timeout=1200)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        print(f"nbgrader could not be installed ({exc}); skipped.", detail.decode()[-500:])
        return None
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", where], check=True, capture_output=True, text=True
    ).stdout.strip()
    # the kernel imports numpy, matplotlib and the course package from this environment
    Path(site, "course-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


def time_this_grader(folder: Path, jobs: int, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "s2s_ref.grade", str(folder), "--jobs", str(jobs), "--quiet",
         "--json", str(out)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def time_nbgrader(venv: Path, folder: Path, course: Path, keys) -> float | None:
    """Seconds for ``nbgrader autograde`` of every submission in ``folder``; None if it fails."""
    source = course / "source" / ASSIGNMENT
    metadata = {key: nbgrader_metadata(key) for key in keys}
    for key in keys:
        notebook = get_exercise(key).notebook
        with_metadata(ROOT / "solutions" / notebook, source / notebook, metadata[key])
    students = sorted(p.name for p in folder.iterdir())
    for student in students:
        for key in keys:
            notebook = get_exercise(key).notebook
            target = course / "submitted" / student / ASSIGNMENT / notebook
            with_metadata(folder / student / notebook, target, metadata[key])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # alembic, jupyter
    nbgrader = [str(venv / "bin" / "nbgrader")]
    run = dict(cwd=course, env=env, check=True, capture_output=True, text=True)
    try:
        (course / "nbgrader_config.py").write_text(
            "c = get_config()\nc.CourseDirectory.course_id = 'seq2seq'\n"
            "c.ExecutePreprocessor.timeout = 600\n"
        )
        subprocess.run([*nbgrader, "db", "assignment", "add", ASSIGNMENT], **run)
        for student in students:
            subprocess.run([*nbgrader, "db", "student", "add", student], **run)
        subprocess.run([*nbgrader, "generate_assignment", ASSIGNMENT, "--force"], **run)
        start = time.perf_counter()
        subprocess.run([*nbgrader, "autograde", ASSIGNMENT, "--force"], **run)
        return time.perf_counter() - start
    except subprocess.CalledProcessError as exc:
        print(f"nbgrader failed ({' '.join(exc.cmd[1:3])}): {exc.stderr[-800:]}")
        return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s2s_ref.bench.grade_nbgrader")
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument(
        "--exercises", nargs="+", choices=EXERCISE_MODULES, default=["ex01", "ex03"]
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        make_class(folder, args.submissions, args.exercises)
        notebooks = args.submissions * len(args.exercises)
        print(
            f"{args.submissions} submissions, {notebooks} notebooks ({', '.join(args.exercises)})"
        )
        print(f"{'grader':<28} {'wall s':>8} {'notebooks/min':>14}")
        ours = {}
        for jobs in args.jobs:
            ours[jobs] = time_this_grader(folder, jobs, tmp / "grades.json")
            rate = notebooks / ours[jobs] * 60
            print(f"{f's2s_ref.grade --jobs {jobs}':<28} {ours[jobs]:>8.1f} {rate:>14.1f}")
        venv = install_nbgrader(tmp)
        if venv is None:
            return
        theirs = time_nbgrader(venv, folder, tmp / "course", args.exercises)
        if theirs is None:
            return
        print(f"{'nbgrader autograde':<28} {theirs:>8.1f} {notebooks / theirs * 60:>14.1f}")
        for jobs, seconds in ours.items():
            print(f"ratio, this grader --jobs {jobs} / nbgrader (notebooks per minute): "
                  f"{theirs / seconds:.2f}")  # fmt: skip
        shutil.rmtree(tmp / "course", ignore_errors=True)


if __name__ == "__main__":
    main()
