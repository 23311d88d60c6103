"""Batch grading: a folder of submissions (one folder or notebook per learner) gives one row per
submission, a class summary, and a JSON and CSV gradebook; each submission is graded from its
own copy and cannot touch another's files."""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from s2s_ref import grade
from s2s_ref.grading.registry import get_exercise

from .notebook_mutants import ROOT, mutant

SOLUTION = ROOT / "solutions" / "ex01_rnn.ipynb"
EXERCISE = ROOT / "exercises" / "ex01_rnn.ipynb"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """Seven learners, handing in every way we know of."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    for folder in ("alice", "carol/exercises", "dave", "frank"):
        (subs / folder).mkdir(parents=True)
    shutil.copy(SOLUTION, subs / "alice")  # a folder with the course's notebook
    shutil.copy(EXERCISE, subs / "bob.ipynb")  # a notebook renamed: found by its functions
    shutil.copy(SOLUTION, subs / "carol" / "exercises")  # a clone of the course repository
    # dave handed in an empty folder
    shutil.copy(SOLUTION, subs / "eve_1234_ex01_rnn.ipynb")  # renamed by a learning platform
    shutil.copy(SOLUTION, subs / "frank")
    shutil.copy(EXERCISE, subs / "frank" / "ex01_rnn-Copy1.ipynb")  # two notebooks for ex01
    (subs / "gina.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a notebook at all
    bug = next(m for m in get_exercise("ex01").mistakes if m.name == "dWh transposed")
    shutil.copy(mutant("ex01_rnn.ipynb", bug.replace, root), subs / "hana_ex01.ipynb")
    out = root / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "s2s_ref.grade", str(subs), "--jobs", "2",
         "--json", str(out / "g.json"), "--csv", str(out / "g.csv")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    return proc, json.loads((out / "g.json").read_text()), (out / "g.csv").read_text()


EXPECTED = {"alice": 12, "bob": 0, "carol": 12, "dave": 0, "eve_1234_ex01_rnn": 12, "frank": 12, "gina": 0, "hana_ex01": 4}  # fmt: skip


def test_one_row_per_submission_with_its_score(classroom):
    proc, book, _ = classroom
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    got = {s["submission"]: s["total"] for s in book["submissions"]}
    assert got == EXPECTED
    for s in book["submissions"]:
        assert set(s) == {"submission", "path", "total", "max_total", "problems", "exercises"}
        assert [e["exercise"] for e in s["exercises"]] == ["ex01"] and s["max_total"] == 12
        for t in s["exercises"][0]["tests"]:
            assert set(t) == {"name", "points", "max_points", "passed", "feedback"}
    for name in EXPECTED:
        assert name in proc.stdout


def test_problems_of_a_submission_are_explained(classroom):
    _, book, _ = classroom
    by_name = {s["submission"]: s for s in book["submissions"]}
    assert by_name["dave"]["problems"] == ["no exercise notebook found in this submission"]
    assert by_name["dave"]["exercises"][0]["notebook"] is None
    assert "no notebook for ex01" in by_name["dave"]["exercises"][0]["tests"][0]["feedback"]
    assert "graded ex01_rnn.ipynb, not ex01_rnn-Copy1.ipynb" in by_name["frank"]["problems"][0]
    assert "--exercise" in by_name["gina"]["problems"][0]
    assert by_name["carol"]["exercises"][0]["notebook"].endswith("carol/exercises/ex01_rnn.ipynb")
    hana = by_name["hana_ex01"]["exercises"][0]["tests"]
    assert any("dWh is transposed" in t["feedback"] for t in hana)


def test_summary_gives_the_class_distribution(classroom):
    proc, book, _ = classroom
    s = book["summary"]
    assert s["submissions"] == 8 and s["max_total"] == 12
    assert s["min"] == 0 and s["max"] == 12 and s["mean"] == pytest.approx(52 / 8, abs=1e-3)
    ex = s["exercises"]["ex01"]
    assert ex["submitted"] == 6 and ex["full_marks"] == 4
    assert ex["distribution"] == {"0": 3, "4": 1, "12": 4}
    assert (
        ex["tests_passed"]["rnn_step_backward: every gradient of one step equals the reference"]
        == 4
    )
    assert "8 submissions" in proc.stdout and "{0: 3, 4: 1, 12: 4}" in proc.stdout


def test_csv_has_one_row_per_submission(classroom):
    _, _, text = classroom
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["submission"] for r in rows] == list(EXPECTED)
    assert {r["submission"]: float(r["ex01"]) for r in rows} == EXPECTED
    assert all(r["max_total"] == "12" and r["total"] == r["ex01"] for r in rows)


def test_batch_flag_grades_each_named_folder_as_a_submission(tmp_path, capsys, monkeypatch):
    for name in ("ann", "ben"):
        (tmp_path / name).mkdir()
    shutil.copy(SOLUTION, tmp_path / "ann")
    shutil.copy(EXERCISE, tmp_path / "ben")
    out = tmp_path / "g.json"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # as in a terminal: a progress bar
    code = grade.main([str(tmp_path / "ann"), str(tmp_path / "ben"), "--batch", "--json", str(out)])
    assert code == 0
    book = json.loads(out.read_text())
    assert [(s["submission"], s["total"]) for s in book["submissions"]] == [("ann", 12), ("ben", 0)]
    assert "notebook" in capsys.readouterr().err  # tqdm's bar counts notebooks


def test_quiet_turns_the_progress_bar_off(tmp_path, capsys, monkeypatch):
    (tmp_path / "ann").mkdir()
    shutil.copy(SOLUTION, tmp_path / "ann")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert grade.main([str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_exercise_option_names_the_exercise_of_renamed_notebooks(tmp_path, capsys):
    shutil.copy(SOLUTION, tmp_path / "homework.ipynb")
    assert grade.main([str(tmp_path / "homework.ipynb"), "--exercise", "ex01"]) == 0
    assert "Total: 12/12" in capsys.readouterr().out


def test_a_mixed_folder_grades_everyone_and_says_how_it_was_read(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    shutil.copy(SOLUTION, tmp_path / "alice")
    shutil.copy(ROOT / "solutions" / "ex04_decoding.ipynb", tmp_path / "ex04_decoding_bob.ipynb")
    out = tmp_path / "g.json"
    assert grade.main([str(tmp_path), "--json", str(out), "--quiet"]) == 0
    book = json.loads(out.read_text())
    got = {s["submission"]: s["total"] for s in book["submissions"]}
    assert got == {"alice": 12, "ex04_decoding_bob": 12}
    said = capsys.readouterr().out
    assert "as 2 submissions" in said and "alice" in said and "ex04_decoding_bob.ipynb" in said


def test_a_submission_cannot_touch_a_classmates_notebook(tmp_path):
    subs = tmp_path / "subs"
    (subs / "bob").mkdir(parents=True)
    shutil.copy(SOLUTION, subs / "bob")
    bob = subs / "bob" / "ex01_rnn.ipynb"
    before = bob.read_bytes()
    hostile = f"""
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    for path in [{str(bob)!r}, {str(SOLUTION)!r}]:
        try:
            open(path, "w").write("{{}}")
        except OSError:
            pass
    raise ValueError("no")
"""
    (subs / "mallory").mkdir()
    path = mutant("ex01_rnn.ipynb", {}, subs / "mallory", extra_cells=[hostile])
    assert path.exists()
    out = tmp_path / "g.json"
    assert grade.main([str(subs), "--json", str(out), "--quiet", "--batch"]) == 0
    assert bob.read_bytes() == before and SOLUTION.read_bytes()[:1] == b"{"
    totals = {s["submission"]: s["total"] for s in json.loads(out.read_text())["submissions"]}
    assert totals["bob"] == 12 and totals["mallory"] < 12
