"""nbgrader works on solutions/ as it is, and scores ex01 as this grader does.

In a fresh virtual environment holding nbgrader and the course package (built as a wheel): ex01's
solution goes in nbgrader's ``source/``; ``generate_assignment`` releases it; three learners
submit the solution, the released stub and a mutant (``dWh`` transposed); ``autograde`` scores
them; this grader scores the same three notebooks. nbgrader awards a check cell's points when the
cell raises nothing, so its scores can only be coarser than the grader's per-test points: they
agree at full and at zero marks, and never exceed the grader's. Skipped, saying why, when nbgrader
cannot be installed.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_install_wheel import _build_wheel

ROOT = Path(__file__).resolve().parents[1]
NBGRADER = "nbgrader==0.9.6"
NOTEBOOK = "ex01_rnn.ipynb"
MUTANT = ("    dWh = h_prev.T @ da\n", "    dWh = da.T @ h_prev\n")


def _grader_score(notebook: Path, tmp_path: Path) -> float:
    book = tmp_path / f"{notebook.parent.name}.json"
    subprocess.run(
        [sys.executable, "-m", "s2s_ref.grade", str(notebook), "--json", str(book)],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=ROOT,
    )
    return json.loads(book.read_text())["total"]


@pytest.mark.slow
@pytest.mark.timeout(1500)  # installs into a fresh environment, then runs notebooks
def test_nbgrader_generates_and_autogrades_ex01_like_this_grader(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    installed = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--retries",
            "1",
            NBGRADER,
            str(wheel),
            "torch==2.13.0",
        ],  # check() loads every exercise's tests, ex06's need torch
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if installed.returncode != 0:
        pytest.skip(f"{NBGRADER} cannot be installed here:\n{installed.stderr[-800:]}")
    course = tmp_path / "course"
    (course / "source" / "ex01").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / NOTEBOOK, course / "source" / "ex01")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 's2s'\n"
        "c.ExecutePreprocessor.timeout = 600\n"
    )

    def nbgrader(*args):
        done = subprocess.run(
            [str(bin_dir / "nbgrader"), *args],
            cwd=course,
            env={**env, "MPLBACKEND": "Agg"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    nbgrader("db", "assignment", "add", "ex01")
    nbgrader("generate_assignment", "ex01", "--force")
    released = course / "release" / "ex01" / NOTEBOOK
    assert "raise NotImplementedError()" in released.read_text()
    solution = (ROOT / "solutions" / NOTEBOOK).read_text()
    assert MUTANT[0].strip() in solution
    submissions = {
        "solution": solution,
        "stub": released.read_text(),
        "mutant": solution.replace(json.dumps(MUTANT[0])[1:-1], json.dumps(MUTANT[1])[1:-1]),
    }
    assert submissions["mutant"] != solution
    for student, text in submissions.items():
        nbgrader("db", "student", "add", student)
        folder = course / "submitted" / student / "ex01"
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_text(text)
        (folder / "timestamp.txt").write_text("2026-12-02 00:00:00.000000 UTC")
    log = nbgrader("autograde", "ex01", "--force")
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade"
            " JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id"
            " JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id"
            " GROUP BY submitted_assignment.student_id"
        ).fetchall()
    ours = {
        student: _grader_score(course / "submitted" / student / "ex01" / NOTEBOOK, tmp_path)
        for student in submissions
    }
    theirs = {student: float(score) for student, score in rows}
    print(f"ex01, nbgrader vs this grader: {theirs} vs {ours}")
    assert theirs["solution"] == ours["solution"] == 12, log[-4000:]
    assert theirs["stub"] == ours["stub"] == 0
    assert theirs["mutant"] <= ours["mutant"] < 12
