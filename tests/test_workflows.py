"""The GitHub workflows cannot run here: check what can be checked. They parse; every registered
exercise has its autograding step with its points; every command they run exists; and the
Classroom wrapper keeps the command grader's conventions (exit 0 only at full marks, no stderr)."""

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
SHELL_BUILTINS = {"echo", "test", "cd"}


def _load(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _commands(workflow):
    """Every shell command of the workflow: `run:` lines and the command grader's `command:`."""
    for step in _steps(workflow):
        text = step.get("run", "") or step.get("with", {}).get("command", "")
        for line in text.splitlines():
            # command substitutions and redirections become separate commands; quotes go
            line = re.sub(r"\$\(|\)|>>", ";", line.replace("2>&1", "").replace('"', " "))
            for command in re.split(r"&&|\|\||;", line):
                if command.strip() and not command.strip().startswith("$"):
                    yield command.strip()


@pytest.mark.parametrize("name", ["classroom.yml", "book.yml"])
def test_workflow_parses_and_has_triggers_and_jobs(name):
    workflow = _load(name)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers and workflow["jobs"]
    for step in _steps(workflow):
        assert "uses" in step or "run" in step, step


@pytest.mark.parametrize("name", ["classroom.yml", "book.yml"])
def test_every_command_exists(name):
    bin_dir = Path(sys.executable).parent
    for command in _commands(_load(name)):
        words = shlex.split(command)
        program = words[0]
        if program in ("python", "python3") and words[1] == "-m":
            assert importlib.util.find_spec(words[2]), f"{name}: no module {words[2]}"
        elif program == "pip":
            assert words[1] == "install"
            if "-r" in words:
                assert (ROOT / words[words.index("-r") + 1]).is_file(), command
        else:
            found = (
                program in SHELL_BUILTINS or shutil.which(program) or (bin_dir / program).exists()
            )
            assert found, f"{name}: {program} is not installed"


def test_every_exercise_has_a_classroom_step_with_its_points():
    workflow = _load("classroom.yml")
    steps = {s.get("id"): s for s in workflow["jobs"]["autograding"]["steps"] if "id" in s}
    for key in EXERCISE_MODULES:
        assert key in steps, f"classroom.yml has no step for {key}"
        step = steps[key]
        assert step["uses"] == "education/autograding-command-grader@v1"
        assert step["with"]["command"] == f"python -m s2s_ref.classroom {key} 2>&1"
        assert step["with"]["max-score"] == get_exercise(key).max_score, key
        assert step["with"]["test-name"].startswith(key)
    graded = [k for k in steps if k in EXERCISE_MODULES]
    assert graded == list(EXERCISE_MODULES), "one step per registered exercise, in course order"
    reporter = next(s for s in _steps(workflow) if "grading-reporter" in s.get("uses", ""))
    assert reporter["with"]["runners"] == ",".join(EXERCISE_MODULES)
    for key in EXERCISE_MODULES:
        assert reporter["env"][f"{key.upper()}_RESULTS"] == f"${{{{ steps.{key}.outputs.result }}}}"


def test_the_book_workflow_builds_with_warnings_as_errors_and_publishes():
    workflow = _load("book.yml")
    assert "jupyter-book build . -W --keep-going" in list(_commands(workflow))
    assert "python -m s2s_ref.classroom ex01" in list(_commands(_load("classroom.yml")))
    uses = [s.get("uses", "") for s in _steps(workflow)]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert workflow["permissions"]["pages"] == "write"


def _classroom(*args):
    return subprocess.run(
        [sys.executable, "-m", "s2s_ref.classroom", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip


def test_classroom_wrapper_exits_0_only_at_full_marks_and_never_writes_stderr(tmp_path):
    full = _classroom("ex01", ROOT / "solutions" / "ex01_rnn.ipynb")
    assert full.returncode == 0 and full.stderr == "" and "Total: 12/12" in full.stdout
    summary = tmp_path / "summary.md"
    empty = subprocess.run(
        [sys.executable, "-m", "s2s_ref.classroom", "ex01"], capture_output=True, text=True,
        cwd=ROOT, timeout=300, env={**__import__("os").environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert empty.returncode == 1 and empty.stderr == "" and "not implemented yet" in empty.stdout
    assert "| rnn_step_forward" in summary.read_text()
    missing = _classroom("ex01", tmp_path / "nothing.ipynb")
    assert missing.returncode == 1 and missing.stderr == "" and "no such notebook" in missing.stdout
    bad = _classroom("ex99")
    assert bad.returncode == 1 and bad.stderr == "" and "invalid choice" in bad.stdout
