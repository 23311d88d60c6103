"""Write a student repository: ``python -m s2s_ref.handout OUT``.

OUT (a new or empty folder) receives what a learner needs and nothing an instructor keeps:

- ``exercises/``: the generated exercise notebooks (refused if one still holds a solution region);
- the data files the exercises read (paths such as ``"../book/ch03/dates"`` in their code);
- ``s2s_ref/`` and ``pyproject.toml``: the package that checks and grades (its reference
  implementation included: see the book's appendix "Handing out the exercises" for what that
  means), without the maintainers' tools that read ``solutions/``;
- ``requirements.txt``: the learner requirements (``requirements-learner.txt`` when the course has
  one, else the course's ``requirements.txt``);
- ``.github/workflows/``: the workflow that grades the exercises on every push;
- ``README.md``: the learner's guide (what to read, how to check, how to grade, how to submit),
  with the address of the published book, from ``_config.yml``'s repository;
- ``LICENSE`` and ``CITATION.cff`` when the course has them, and a ``.gitignore``.

No ``solutions/``, no ``tests/``, no ``book/`` sources, no git history: ``git init`` in OUT starts
the student repository (for example a GitHub template repository). Every file is written with
``s2s_ref.atomic.write_atomic``.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

from s2s_ref.atomic import check_output, write_atomic
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# Package modules that only maintainers run (they read solutions/ or write the hand-out).
MAINTAINER_MODULES = ("make_exercises.py", "handout.py", "bench/grade_nbgrader.py")
# A path to a course file in an exercise's code: "../book/ch03/dates" (one level up: the notebook
# runs in exercises/).
_DATA_PATH = re.compile(r"""["']\.\./((?:[\w.-]+/)*[\w.-]+)["']""")


class HandoutError(ValueError):
    """The hand-out cannot be written as asked (a non-empty OUT, a solution left in an exercise)."""


def book_url(config_text: str) -> str:
    """The published book's address, from _config.yml's repository url (GitHub Pages).

    "https://github.com/<owner>/<repo>" -> "https://<owner>.github.io/<repo>/"
    """
    match = re.search(
        r"^\s*url:\s*https://github\.com/([\w.-]+)/([\w.-]+?)/?\s*$", config_text, re.M
    )
    if not match:
        raise HandoutError("_config.yml: expected repository: url: https://github.com/OWNER/REPO")
    owner, repo = match.groups()
    return f"https://{owner.lower()}.github.io/{repo}/"


def _exercise_files(root: Path) -> dict[str, bytes]:
    """exercises/*.ipynb, refusing any that still holds a solution region."""
    files = {}
    for key in EXERCISE_MODULES:
        path = root / "exercises" / get_exercise(key).notebook
        if not path.exists():
            raise HandoutError(f"{path} is missing: run `python -m s2s_ref.make_exercises` first")
        text = path.read_text(encoding="utf-8")
        if any(marker in text for marker in SOLUTION_MARKERS):
            raise HandoutError(f"{path} holds a solution region: regenerate exercises/")
        files[f"exercises/{path.name}"] = text.encode("utf-8")
    return files


def _data_files(root: Path, exercises: dict[str, bytes]) -> dict[str, bytes]:
    """The course files the exercises' code names ("../book/ch03/dates" -> dates.npz, .json)."""
    files = {}
    for text in exercises.values():
        nb = nbformat.reads(text.decode("utf-8"), as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for stem in _DATA_PATH.findall(cell.source):
                where = root / stem
                found = [p for p in where.parent.glob(where.name + "*") if p.is_file()]
                if not found:
                    raise HandoutError(f"an exercise reads ../{stem}, which is not in the course")
                files.update({str(p.relative_to(root)): p.read_bytes() for p in found})
    return files


def _package_files(root: Path) -> dict[str, bytes]:
    files = {"pyproject.toml": (root / "pyproject.toml").read_bytes()}
    for path in sorted((root / "s2s_ref").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.relative_to(root / "s2s_ref").as_posix() in MAINTAINER_MODULES:
            continue
        files[str(path.relative_to(root))] = path.read_bytes()
    return files


def _requirements(root: Path) -> bytes:
    for name in ("requirements-learner.txt", "requirements.txt"):
        if (root / name).exists():
            return (root / name).read_bytes()
    raise HandoutError(f"no requirements-learner.txt or requirements.txt in {root}")


def _grading_workflows(root: Path) -> dict[str, bytes]:
    """The workflows that grade the exercises (they run s2s_ref's grader), by their own names."""
    found = {}
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        if "s2s_ref.classroom" in text or "s2s_ref.grade" in text:
            found[f".github/workflows/{path.name}"] = text.encode("utf-8")
    if not found:
        raise HandoutError("no workflow in .github/workflows/ grades the exercises")
    return found


def learner_readme(url: str) -> str:
    """The student repository's README: what to read, how to check, grade and submit."""
    rows = "\n".join(
        f"| {int(key[2:])} | `exercises/{get_exercise(key).notebook}` | {get_exercise(key).title} |"
        for key in EXERCISE_MODULES
    )
    return f"""# Sequence to Sequence from Scratch: your exercises

This repository holds your exercises for the course *Sequence to Sequence from Scratch*. The book
is online at <{url}>: read a chapter there, then write its exercise here.

| chapter | exercise | you write |
|---|---|---|
{rows}

## Set up (once)

Use Python 3.11 in a fresh virtual environment:

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt
```

This installs the course package `s2s_ref` (it checks and grades your work), PyTorch's CPU build
and Jupyter. With an NVIDIA GPU, install the CUDA build of the same PyTorch version first.

## Work on an exercise

1. Read the chapter in the book: each chapter's first page says which sections its exercise
   draws on. The book's code of every function you write is kept on the chapter's last page,
   collapsed, to open only after you have passed the exercise (your instructor's edition of the
   book may leave it out).
2. Open the exercise, e.g. `exercises/ex01_rnn.ipynb`, in Jupyter (JupyterLab, Notebook or VS Code).
3. Fill in every cell marked `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line)
   and run the check cell below it. It runs the grader's tests on your function and says what is
   wrong: a wrong shape (expected vs. got), which output or gradient is off and by how much, and
   known mistakes by name.
4. Run the exercise's last part (nothing to write there): it uses your functions, and for the
   NumPy exercises it first checks your backward passes against central differences.

## Grade your work

```bash
python -m s2s_ref.grade exercises/ex01_rnn.ipynb     # one exercise, every test with its feedback
python -m s2s_ref.grade                               # all of exercises/
```

Only your functions are graded: the grader runs your notebook's imports, `def`s, classes and
constants, never your training or plotting cells. While an exercise is graded, the course's own
implementation of its functions cannot be imported. You never need `pytest`.

## Submit

Commit your notebooks and push:

```bash
git add exercises && git commit -m "ex01" && git push
```

Every push is graded by the workflow in `.github/workflows/`: open the *Actions* tab of your
repository on GitHub to see one step per exercise with its points and the grader's feedback.
The points are the same as `python -m s2s_ref.grade` gives you on your machine.
"""


def handout_files(root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the hand-out, {relative path: content}."""
    exercises = _exercise_files(root)
    files = {
        **exercises,
        **_data_files(root, exercises),
        **_package_files(root),
        **_grading_workflows(root),
        "requirements.txt": _requirements(root),
        "README.md": learner_readme(book_url((root / "_config.yml").read_text())).encode(),
        ".gitignore": b".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n",
    }
    for name in ("LICENSE", "CITATION.cff"):
        if (root / name).exists():
            files[name] = (root / name).read_bytes()
    leaked = [p for p in files if p.split("/")[0] in ("solutions", "tests", ".git")]
    if leaked:
        raise HandoutError(f"the hand-out would include {leaked}")
    return files


def write_handout(out, root: Path = ROOT) -> list[Path]:
    """Write the hand-out into ``out`` (created if missing, refused if not empty)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HandoutError(f"{out} is not an empty folder: give a new or empty one")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise HandoutError(f"{out} is inside the course repository: write the hand-out elsewhere")
    files = handout_files(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for relative, data in sorted(files.items()):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(write_atomic(check_output(target), data))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m s2s_ref.handout",
        description="Write a student repository (exercises, learner README and requirements, "
        "the grade-on-push workflow) into a new or empty folder.",
    )
    parser.add_argument("out", help="a new or empty folder")
    args = parser.parse_args(argv)
    try:
        written = write_handout(args.out)
    except (HandoutError, OSError) as err:
        print(f"handout: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files into {args.out}: `git init` there starts the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
