"""``python -m s2s_ref.handout OUT``: a student repository that works and holds no answers.

Built once into a temporary folder, then walked as a learner would: the README's commands run
there (the package imported from the hand-out itself, not from the course), grading an untouched
exercise gives 0 with "not implemented yet", and no solution notebook, solution region, course
test or git history is in it.
"""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from s2s_ref.atomic import write_atomic
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from s2s_ref.handout import ROOT, HandoutError, book_url, handout_files, write_handout


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "student"
    proc = subprocess.run(
        [sys.executable, "-m", "s2s_ref.handout", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    return out


def _learner(handout, *args, timeout=600):
    """Run a command in the hand-out as the learner would, with its own copy of the package."""
    env = {**os.environ, "PYTHONPATH": str(handout)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=handout,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_it_holds_what_a_learner_needs(handout):
    files = _files(handout)
    for key in EXERCISE_MODULES:
        assert f"exercises/{get_exercise(key).notebook}" in files
    for needed in (
        "README.md",
        "requirements.txt",
        "pyproject.toml",
        "s2s_ref/grade.py",
        "s2s_ref/checks.py",
        ".github/workflows/grade.yml",
        "s2s_ref/assets/dates.npz",
        "s2s_ref/experiments/results/dates_numpy.json",
    ):
        assert needed in files, needed
    readme = (handout / "README.md").read_text()
    for step in (
        "## Set up",
        "## Work on an exercise",
        "## Grade your work",
        "## Submit",
        "python -m s2s_ref.grade exercises/ex01_rnn.ipynb",
        "git push",
    ):
        assert step in readme, step
    assert book_url((ROOT / "_config.yml").read_text()) in readme
    assert "pytest" not in readme.replace("You never need `pytest`", "")


def test_no_solution_no_tests_no_history(handout):
    files = _files(handout)
    assert not [f for f in files if f.split("/")[0] in ("solutions", "tests", ".git")]
    assert not (handout / ".git").exists()
    for name in ("s2s_ref/make_exercises.py", "s2s_ref/handout.py"):
        assert name not in files
    for path in handout.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"BEGIN SOLUTION" not in data and b"END SOLUTION" not in data, path
    # no cell of a solution notebook's solution regions travels, whatever its markers
    regions = []
    for key in EXERCISE_MODULES:
        nb = nbformat.read(str(ROOT / "solutions" / get_exercise(key).notebook), as_version=4)
        for cell in nb.cells:
            for region in cell.source.split("### BEGIN SOLUTION")[1:]:
                body = region.split("### END SOLUTION")[0].strip()
                if len(body.splitlines()) >= 3:  # one-liners such as "return h" prove nothing
                    regions.append(body)
    assert regions
    for key in EXERCISE_MODULES:
        text = (handout / "exercises" / get_exercise(key).notebook).read_text()
        sources = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
        assert not [r for r in regions if r in sources], key


def test_the_learner_grades_an_untouched_exercise_and_gets_zero(handout, tmp_path):
    where = _learner(handout, "-c", "import s2s_ref; print(s2s_ref.__file__)")
    assert where.stdout.strip().startswith(str(handout)), where.stdout  # the hand-out's own package
    report = tmp_path / "ex01.json"
    proc = _learner(
        handout, "-m", "s2s_ref.grade", "exercises/ex01_rnn.ipynb", "--json", str(report)
    )
    assert proc.returncode == 0, proc.stderr
    assert "not implemented yet" in proc.stdout
    book = json.loads(report.read_text())
    assert book["total"] == 0 and book["max_total"] == get_exercise("ex01").max_score
    autograder = _learner(handout, "-m", "s2s_ref.autograder", "--exercise", "ex01")
    assert autograder.returncode == 0, autograder.stdout + autograder.stderr  # grading ran
    result = json.loads((handout / "result.json").read_text())  # Classroom 50's result
    (handout / "result.json").unlink()  # the other tests read the hand-out as it was written
    assert result["score"] == 0 and result["max-score"] == get_exercise("ex01").max_score


def test_the_learner_passes_with_their_own_functions(handout, tmp_path):
    """The hand-out grades real work: the solution's ex01, written into the learner's notebook."""
    solution = (ROOT / "solutions" / "ex01_rnn.ipynb").read_text()
    write_atomic(handout / "exercises" / "ex01_rnn.ipynb", solution)
    try:
        proc = _learner(handout, "-m", "s2s_ref.grade", "exercises/ex01_rnn.ipynb")
    finally:
        write_atomic(
            handout / "exercises" / "ex01_rnn.ipynb",
            (ROOT / "exercises" / "ex01_rnn.ipynb").read_text(),
        )
    assert proc.returncode == 0, proc.stderr
    assert f"Total: {get_exercise('ex01').max_score:g}/" in proc.stdout.replace(".0/", "/"), (
        proc.stdout
    )


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "old.txt").write_text("an earlier hand-out")
    with pytest.raises(HandoutError, match="not an empty folder"):
        write_handout(tmp_path)
    assert _files(tmp_path) == ["old.txt"]


def test_refuses_to_write_inside_the_course(tmp_path):
    with pytest.raises(HandoutError, match="inside the course repository"):
        write_handout(ROOT / "_build" / "handout-test")
    assert not (ROOT / "_build" / "handout-test").exists()


def test_command_line_says_what_is_wrong(tmp_path):
    (tmp_path / "x").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "s2s_ref.handout", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("handout: ") and "not an empty folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_refuses_an_exercise_that_still_holds_a_solution(tmp_path):
    course = tmp_path / "course"
    for relative, data in handout_files(ROOT).items():
        (course / relative).parent.mkdir(parents=True, exist_ok=True)
        (course / relative).write_bytes(data)
    (course / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    (course / "exercises" / "ex01_rnn.ipynb").write_text(
        (ROOT / "solutions" / "ex01_rnn.ipynb").read_text()
    )
    with pytest.raises(HandoutError, match="holds a solution region"):
        write_handout(tmp_path / "out", root=course)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/seq2seq-from-scratch/course",
            "https://seq2seq-from-scratch.github.io/course/",
        ),
        ("https://github.com/Some-Owner/My.Repo/", "https://some-owner.github.io/My.Repo/"),
    ],
)
def test_book_url_follows_from_the_repository(url, expected):
    assert book_url(f"repository:\n  url: {url}\n  branch: main\n") == expected


def test_book_url_refuses_a_repository_elsewhere():
    with pytest.raises(HandoutError, match="expected repository"):
        book_url("repository:\n  url: https://gitlab.com/a/b\n")
