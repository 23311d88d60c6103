"""The same notebook and seed give the same gradebook: notebooks (solutions, stubs, catalogue
mutants; the PyTorch exercises' solutions and stubs, training included) graded several times
through the command line, with two jobs."""

import json
from pathlib import Path

import pytest

from s2s_ref import grade
from s2s_ref.grading.mutants import with_mistake
from s2s_ref.grading.registry import get_exercise

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08")
# catalogue mutants of these; of the PyTorch ones (which train) the solution and stub only
MUTANT_KEYS = ("ex01", "ex02", "ex04", "ex05")


def _class_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    for key in KEYS:
        exercise = get_exercise(key)
        for name, source in (("solution", "solutions"), ("stub", "exercises")):
            learner = folder / f"{key}_{name}"
            learner.mkdir(parents=True)
            (learner / exercise.notebook).write_bytes(
                (ROOT / source / exercise.notebook).read_bytes()
            )
        for i, mistake in enumerate(exercise.mistakes if key in MUTANT_KEYS else ()):
            with_mistake(exercise.notebook, mistake.replace, folder / f"{key}_mutant{i}")
    return folder


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 5 x 61 notebooks: 19 minutes on two cores at load 6
def test_repeated_grading_gives_identical_gradebooks(tmp_path):
    folder = _class_folder(tmp_path)
    books = []
    for run in range(5):
        out = tmp_path / f"run{run}.json"
        assert grade.main([str(folder), "--json", str(out), "--jobs", "2", "--quiet"]) == 0
        books.append(json.loads(out.read_text()))
    assert len(books[0]["submissions"]) >= 61
    assert books[0]["seed"] == 0
    assert all(b == books[0] for b in books[1:])


def test_another_seed_is_recorded(tmp_path):
    out = tmp_path / "one.json"
    nb = ROOT / "solutions" / "ex01_rnn.ipynb"
    assert grade.main([str(nb), "--json", str(out), "--seed", "7", "--quiet"]) == 0
    book = json.loads(out.read_text())
    assert book["seed"] == 7 and book["total"] == book["max_total"]
