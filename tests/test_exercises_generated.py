"""exercises/ is generated from solutions/: regenerating changes nothing, and no answer leaks;
solutions carry their setup cell and nbgrader's metadata; an edited exercise is never lost."""

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from s2s_ref.grading.loader import keep
from s2s_ref.grading.registry import get_exercise
from s2s_ref.make_exercises import (
    MarkerError,
    course_url,
    function_points,
    main,
    render_exercise,
    render_solution,
    revision,
    setup_source,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_exercise_is_up_to_date_with_its_solution(solution):
    exercise = ROOT / "exercises" / solution.name
    assert exercise.exists(), f"run `python -m s2s_ref.make_exercises`: {exercise.name} is missing"
    assert exercise.read_text() == render_exercise(solution), (
        f"exercises/{solution.name} differs from what solutions/{solution.name} generates: "
        "run `python -m s2s_ref.make_exercises` (never edit exercises/ by hand)"
    )


def test_every_exercise_has_a_solution_and_no_answer():
    for exercise in (ROOT / "exercises").glob("*.ipynb"):
        assert (ROOT / "solutions" / exercise.name).exists(), exercise.name
        text = exercise.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


def test_regions_keep_their_indentation_and_unbalanced_markers_fail():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n    return y\n"
    )
    assert strip_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    return y\n"
    )
    with pytest.raises(MarkerError, match="unbalanced"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_every_solution_is_as_make_exercises_writes_it():
    for solution in SOLUTIONS:
        assert solution.read_text() == render_solution(solution), (
            f"solutions/{solution.name} lacks its setup cell or nbgrader metadata: "
            "run `python -m s2s_ref.make_exercises`"
        )


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_setup_cell_first_then_nbgrader_cells_worth_the_graders_points(solution):
    nb = nbformat.read(str(solution), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == setup_source(course_url(ROOT), revision())
    assert f"git+{course_url(ROOT)}@v" in code[0].source
    points = function_points(solution.name[:4])
    seen = {}
    for cell in code[1:]:
        meta = cell.metadata.get("nbgrader")
        if "### BEGIN SOLUTION" in cell.source:
            assert meta["solution"] and not meta["grade"] and not meta["locked"]
        elif cell.source.startswith("check("):
            function = cell.source[len("check(") : cell.source.index(")")]
            assert meta["grade"] and meta["locked"] and not meta["solution"]
            seen[function] = meta["points"]
        else:
            assert meta is None
    assert seen == points, "every graded function has one check cell worth its tests' points"
    assert sum(seen.values()) == get_exercise(solution.name[:4]).max_score


def test_the_grader_never_runs_the_setup_cell():
    tree = ast.parse(setup_source("https://example.org/course", "v9.9.9"))
    assert [type(node).__name__ for node in tree.body if keep(node)] == ["Import"]


def _course_copy(tmp_path):
    for name in ("solutions", "exercises"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "_config.yml", tmp_path)
    return tmp_path


def test_an_edited_exercise_is_kept_unless_forced_and_then_backed_up(tmp_path, capsys):
    root = _course_copy(tmp_path)
    assert main(["--root", str(root)]) == 0 and capsys.readouterr().out == ""
    exercise = root / "exercises" / "ex01_rnn.ipynb"
    finished = exercise.read_text().replace("raise NotImplementedError()", "return None", 1)
    exercise.write_text(finished)
    assert main(["--root", str(root)]) == 1
    assert "left as it is: exercises/ex01_rnn.ipynb has been edited" in capsys.readouterr().err
    assert exercise.read_text() == finished
    assert main(["--root", str(root), "--force"]) == 0
    backups = list(exercise.parent.glob("ex01_rnn.ipynb.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == finished
    assert exercise.read_text() == render_exercise(root / "solutions" / "ex01_rnn.ipynb")


def test_an_untouched_exercise_is_regenerated_when_its_solution_changes(tmp_path, capsys):
    root = _course_copy(tmp_path)
    solution = root / "solutions" / "ex04_decoding.ipynb"
    solution.write_text(solution.read_text().replace("Exercise 4:", "Exercise 4 (new):", 1))
    assert main(["--root", str(root)]) == 0
    assert "wrote: exercises/ex04_decoding.ipynb" in capsys.readouterr().out
    assert "Exercise 4 (new):" in (root / "exercises" / "ex04_decoding.ipynb").read_text()
    assert main(["--root", str(root), "--check"]) == 0


def test_check_fails_loudly_without_solutions(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "no solutions/ex*.ipynb" in err and "course repository's root" in err
