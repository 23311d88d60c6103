"""What to grade: the notebooks of one submission, or the submissions in a folder.

A *submission* is one learner's work: a folder holding ``exNN_*.ipynb`` notebooks (directly, in
an ``exercises/`` subfolder as in a clone of the course, or deeper), or a single notebook. A
*folder of submissions* holds one submission per entry (``submissions/alice/``,
``submissions/bob.ipynb``), as collected from GitHub Classroom or a learning platform.
A notebook's exercise comes from an ``exNN`` in its name (anywhere, so that platform-renamed files
such as ``alice_1234_ex01_rnn.ipynb`` work), or else from the functions it defines.
"""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

_LARGEST_GUESSED = 200 * 2**20  # bytes: a larger file is not read here (the worker may try)


class SubmissionError(Exception):
    """A path cannot be graded: the message is one sentence for the command line."""


@dataclass
class Submission:
    name: str  # the folder's or notebook's name in a folder of submissions
    path: Path
    notebooks: list[tuple[Path, str]] = field(default_factory=list)  # (notebook, exercise key)
    problems: list[str] = field(default_factory=list)


def exercise_in_name(path: Path) -> str | None:
    """The registered exercise named by an ``exNN`` token in a file name, if any."""
    for key in re.findall(r"(?<![a-z0-9])(ex\d\d)(?!\d)", path.name.lower()):
        if key in EXERCISE_MODULES:
            return key
    return None


def exercise_from_functions(path: Path) -> str | None:
    """The exercise whose functions the notebook defines most of (None when it defines none)."""
    try:
        if path.stat().st_size > _LARGEST_GUESSED:
            return None
        cells = nbformat.read(str(path), as_version=4).cells
    except Exception:  # unreadable: the grader reports it properly once an exercise is chosen
        return None
    defined = set()
    for cell in cells:
        try:
            tree = ast.parse(cell.source if cell.cell_type == "code" else "")
        except SyntaxError:
            continue
        defined |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    overlap = {key: len(defined & set(get_exercise(key).functions)) for key in EXERCISE_MODULES}
    best = max(overlap, key=overlap.get, default=None)
    return best if best is not None and overlap[best] > 0 else None


def exercise_of(path: Path, forced: str | None = None) -> str:
    """The exercise of a notebook: named in its file name, else ``forced``, else guessed."""
    key = exercise_in_name(path) or forced or exercise_from_functions(path)
    if key is None:
        raise SubmissionError(
            f"{path} is not an exercise notebook (no exNN in its name for a known exercise, and "
            "it defines none of their functions): name the exercise with --exercise"
        )
    return key


def _is_course_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb" and exercise_in_name(path) == path.name[:4].lower()


def is_submission_folder(folder: Path) -> bool:
    """A learner's own folder: course notebooks directly inside, or in its ``exercises/``."""
    return any(map(_is_course_notebook, folder.glob("*.ipynb"))) or any(
        map(_is_course_notebook, (folder / "exercises").glob("*.ipynb"))
    )


def notebooks_in(folder: Path, forced: str | None = None) -> tuple[list[tuple[Path, str]], list]:
    """One notebook per exercise found in a submission folder, and notes on those left out."""
    for candidates in (
        [p for p in folder.glob("*.ipynb") if _is_course_notebook(p)],
        [p for p in (folder / "exercises").glob("*.ipynb") if _is_course_notebook(p)],
        [p for p in folder.rglob("*.ipynb") if not _hidden(p.relative_to(folder))],
    ):
        if candidates:
            break
    by_key: dict[str, list[Path]] = {}
    problems = []
    for nb in sorted(candidates):
        try:
            by_key.setdefault(exercise_of(nb, forced), []).append(nb)
        except SubmissionError:
            problems.append(f"{nb.relative_to(folder)} is not an exercise notebook: not graded")
    chosen = []
    for key, paths in sorted(by_key.items()):
        course_name = get_exercise(key).notebook
        paths.sort(key=lambda p: (p.name != course_name, len(p.parts), str(p)))
        chosen.append((paths[0], key))
        for other in paths[1:]:
            problems.append(
                f"several notebooks for {key}: graded {paths[0].relative_to(folder)}, not "
                f"{other.relative_to(folder)}"
            )
    return chosen, problems


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)


def one_submission(paths: list[Path], forced: str | None = None) -> Submission:
    """Everything named on the command line, graded as one learner's work."""
    submission = Submission(name=", ".join(str(p) for p in paths), path=paths[0])
    for path in paths:
        if path.is_dir():
            notebooks, problems = notebooks_in(path, forced)
            if not notebooks:
                raise SubmissionError(f"{path} holds no exercise notebook (exNN_*.ipynb)")
            submission.notebooks += notebooks
            submission.problems += problems
        elif path.exists():
            if path.suffix != ".ipynb":
                raise SubmissionError(f"{path} is not an exercise notebook (not a .ipynb file)")
            submission.notebooks.append((path, exercise_of(path, forced)))
        else:
            raise SubmissionError(f"{path} does not exist")
    return submission


def is_folder_of_submissions(path: Path) -> bool:
    """A folder of learners' work: no course notebook of its own, or subfolders that hold
    learners' notebooks beside loose notebooks (``alice/`` and ``ex04_decoding_bob.ipynb``)."""
    if not path.is_dir():
        return False
    if not is_submission_folder(path):
        return True
    return any(
        entry.is_dir()
        and entry.name != "exercises"
        and not entry.name.startswith(".")
        and is_submission_folder(entry)
        for entry in path.iterdir()
    )


def how_read(folder: Path, submissions: list[Submission]) -> str:
    """One sentence saying how a folder of submissions was read."""
    folders = [s.name for s in submissions if s.path.is_dir()]
    notebooks = [s.path.name for s in submissions if not s.path.is_dir()]
    parts = [
        f"{len(names)} {kind} ({', '.join(names[:5])}{', …' if len(names) > 5 else ''})"
        for kind, names in (("folder(s)", folders), ("notebook(s)", notebooks))
        if names
    ]
    return f"read {folder} as {len(submissions)} submissions, one per entry: {' and '.join(parts)}"


def submissions_in(folder: Path, forced: str | None = None) -> list[Submission]:
    """One submission per notebook or folder directly inside ``folder`` (hidden ones skipped)."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not (entry.is_dir() or entry.suffix == ".ipynb"):
            continue
        found.append(single(entry, forced))
    if not found:
        raise SubmissionError(f"{folder} holds no submission (no notebook and no folder)")
    return found


def single(entry: Path, forced: str | None = None) -> Submission:
    """``entry`` (a folder or a notebook) as one submission, whatever it holds."""
    submission = Submission(name=entry.stem if entry.is_file() else entry.name, path=entry)
    if entry.is_dir():
        submission.notebooks, submission.problems = notebooks_in(entry, forced)
        if not submission.notebooks:
            submission.problems.append("no exercise notebook found in this submission")
    else:
        try:
            submission.notebooks.append((entry, exercise_of(entry, forced)))
        except SubmissionError as exc:
            submission.problems.append(str(exc))
    return submission
