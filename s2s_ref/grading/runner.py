"""Grade one notebook in a separate process that may hang, exit or crash without harm.

The worker reports each test as it finishes. If a test overruns its time or the process dies
(``sys.exit``, ``os._exit``, a segfault, the memory cap), that test scores 0 with a sentence saying
what happened, and a fresh worker carries on with the tests not yet reported.
"""

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from s2s_ref.grading.registry import get_exercise

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
LOAD_SECONDS = 60.0  # imports in the notebook (numpy, torch, matplotlib) can be slow on a busy CPU


@dataclass
class TestResult:
    name: str
    points: float
    max_points: float
    passed: bool
    feedback: str


@dataclass
class ExerciseResult:
    exercise: str
    notebook: str
    score: float
    max_score: float
    tests: list[TestResult]
    problems: list[str] = field(default_factory=list)  # notebook-level: unreadable, cells skipped

    def to_json(self) -> dict:
        return asdict(self)


def grade_notebook(path, exercise_key: str, timeout: float = 30.0) -> ExerciseResult:
    """Grade ``path`` against exercise ``exercise_key`` in isolated worker processes."""
    exercise = get_exercise(exercise_key)
    by_name = {t.name: t for t in exercise.tests}
    outcome: dict[str, tuple[bool, str]] = {}
    problems: list[str] = []
    while len(outcome) < len(by_name):
        events, ended = _run_worker(path, exercise_key, sorted(outcome), timeout)
        current = None
        for event in events:
            kind = event["event"]
            if kind == "unreadable":
                problems.append(event["message"])
                outcome.update({n: (False, event["message"]) for n in by_name if n not in outcome})
            elif kind == "loaded" and not problems:
                problems.extend(event["problems"])
            elif kind == "start":
                current = event["name"]
            elif kind == "result":
                outcome[event["name"]] = (event["passed"], event["feedback"])
                current = None
            elif kind == "error":
                message = "the grader failed on this notebook: " + event["message"]
                outcome.update({n: (False, message) for n in by_name if n not in outcome})
        if len(outcome) == len(by_name):
            break
        if current is None:  # died before or between tests: nothing more can be learned
            message = f"the notebook could not be loaded: {ended}"
            outcome.update({n: (False, message) for n in by_name if n not in outcome})
        else:
            outcome[current] = (False, ended)
    tests = [
        TestResult(t.name, t.points if outcome[t.name][0] else 0.0, t.points, *outcome[t.name])
        for t in exercise.tests
    ]
    return ExerciseResult(
        exercise=exercise_key,
        notebook=str(path),
        score=sum(t.points for t in tests),
        max_score=exercise.max_score,
        tests=tests,
        problems=problems,
    )


def _run_worker(path, exercise_key, skip, timeout):
    """Run one worker; return its events and, if it did not finish, a sentence saying why."""
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, PYTHONPATH=_PACKAGE_PARENT, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "s2s_ref.grading.worker", str(Path(path).resolve()), exercise_key]
    cmd += [str(write_fd), "--skip", json.dumps(skip), "--timeout", str(timeout)]
    proc = subprocess.Popen(
        cmd, pass_fds=(write_fd,), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    os.close(write_fd)
    events, buffer, ended = [], b"", None
    deadline = time.monotonic() + LOAD_SECONDS + timeout
    with os.fdopen(read_fd, "rb", buffering=0) as pipe, selectors.DefaultSelector() as sel:
        sel.register(pipe, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                ended = f"timed out after {timeout:g} s: is there an endless loop?"
                break
            chunk = pipe.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:  # only learner code tampering with the pipe does this
                    continue
                deadline = time.monotonic() + timeout + 5  # the worker's own alarm fires first
            if events and events[-1]["event"] in ("done", "unreadable", "error"):
                break
    _kill(proc)
    if ended is None and not (events and events[-1]["event"] in ("done", "unreadable", "error")):
        ended = _describe_exit(proc.returncode)
    return events, ended


def _kill(proc):
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()


def _describe_exit(code):
    if code is not None and code < 0:
        return f"the process was killed by signal {-code} (a crash, or the memory cap)"
    return (
        f"the notebook's code ended the grading process (exit status {code}: sys.exit or os._exit?)"
    )
