"""Grade one notebook in a separate process that may hang, exit or crash without harm.

The worker reports each test as it finishes. If a test overruns its time or the process dies
(``sys.exit``, ``os._exit``, a segfault, the memory cap), that test scores 0 with a sentence saying
what happened, and a fresh worker carries on with the tests not yet reported. The worker runs in its
own process group, which is killed when it finishes or overruns, so nothing it started outlives it;
its scratch folder is deleted.

Time: a test has ``timeout`` seconds (default 30) by the worker's own alarm; if learner code
swallows the alarm, the runner kills the worker ``GRACE`` seconds later and starts a fresh one. A
notebook whose every function loops forever therefore costs about tests x timeout, plus a restart
(a few seconds) per test whose loop also swallows the alarm.
"""

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from s2s_ref.grading.registry import get_exercise

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
LOAD_SECONDS = 60.0  # imports in the notebook (numpy, torch, matplotlib) can be slow on a busy CPU
GRACE = 5.0  # seconds past a test's timeout before the runner kills a worker that ignored its alarm
DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_GB = 8.0
_LIVE: set = set()  # running workers, so that an interrupted grader can kill them all
_LIVE_LOCK = threading.Lock()
STOP = threading.Event()  # set by kill_all: no new worker starts until it is cleared


class Stopped(Exception):
    """Grading was stopped by ``kill_all`` (the grader was interrupted)."""


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
    notebook: str | None  # None: the submission has no notebook for this exercise
    score: float
    max_score: float
    tests: list[TestResult]
    problems: list[str] = field(default_factory=list)  # notebook-level: unreadable, cells skipped

    def to_json(self) -> dict:
        return asdict(self)


def grade_notebook(
    path,
    exercise_key: str,
    timeout: float = DEFAULT_TIMEOUT,
    memory_gb: float = DEFAULT_MEMORY_GB,
    threads: int = 1,
) -> ExerciseResult:
    """Grade ``path`` against exercise ``exercise_key`` in isolated worker processes.

    timeout: seconds per test; memory_gb: the worker's address-space cap; threads: BLAS and
    PyTorch threads the worker may use (the CLI gives each parallel job its share of the cores).
    """
    limits = dict(timeout=timeout, memory_gb=memory_gb, threads=threads)
    exercise = get_exercise(exercise_key)
    by_name = {t.name: t for t in exercise.tests}
    outcome: dict[str, tuple[bool, str]] = {}
    problems: list[str] = []
    loaded = False
    while len(outcome) < len(by_name):
        events, ended = _run_worker(path, exercise_key, sorted(outcome), **limits)
        ended = ended or "the grading process stopped before finishing"
        current = None
        for event in events:
            try:
                kind = event["event"]
                if kind == "unreadable":
                    problems.append(event["message"])
                    outcome.update(
                        {n: (False, event["message"]) for n in by_name if n not in outcome}
                    )
                elif kind == "loaded" and not loaded:
                    problems.extend(event["problems"])
                    loaded = True
                elif kind == "start" and event["name"] in by_name:
                    current = event["name"]
                elif kind == "result" and event["name"] in by_name:
                    outcome[event["name"]] = (bool(event["passed"]), str(event["feedback"]))
                    current = None
                elif kind == "error":
                    message = "the grader failed on this notebook: " + event["message"]
                    outcome.update({n: (False, message) for n in by_name if n not in outcome})
            except (KeyError, TypeError):  # a malformed event: only tampering produces one
                continue
        if len(outcome) == len(by_name):
            break
        if current is None:  # died before or between tests: nothing more can be learned
            message = f"the notebook could not be loaded: {ended}"
            outcome.update({n: (False, message) for n in by_name if n not in outcome})
        else:
            outcome[current] = (False, ended)
    tests = [
        TestResult(t.name, float(t.points) * outcome[t.name][0], float(t.points), *outcome[t.name])
        for t in exercise.tests
    ]
    return ExerciseResult(
        exercise=exercise_key,
        notebook=str(path),
        score=sum(t.points for t in tests),
        max_score=float(exercise.max_score),
        tests=tests,
        problems=problems,
    )


def _run_worker(path, exercise_key, skip, timeout, memory_gb, threads):
    """Run one worker; return its events and, if it did not finish, a sentence saying why."""
    read_fd, write_fd = os.pipe()
    scratch = tempfile.mkdtemp(prefix="s2s-grade-")
    env = dict(os.environ, PYTHONPATH=_PACKAGE_PARENT, PYTHONDONTWRITEBYTECODE="1")
    env.update({k: str(threads) for k in _THREAD_VARIABLES})
    cmd = [sys.executable, "-m", "s2s_ref.grading.worker", str(Path(path).resolve()), exercise_key]
    cmd += [str(write_fd), scratch, "--skip", json.dumps(skip), "--timeout", str(timeout)]
    cmd += ["--load-timeout", str(LOAD_SECONDS), "--memory-gb", str(memory_gb)]
    with _LIVE_LOCK:  # with kill_all's lock, so no worker starts unseen while it stops them
        if STOP.is_set():
            for fd in (read_fd, write_fd):
                os.close(fd)
            shutil.rmtree(scratch, ignore_errors=True)
            raise Stopped("grading was stopped")
        proc = subprocess.Popen(
            cmd, pass_fds=(write_fd,), env=env, cwd=scratch, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _LIVE.add(proc)
    os.close(write_fd)
    try:
        events, ended = _read_events(read_fd, timeout)
    finally:
        _kill(proc)
        shutil.rmtree(scratch, ignore_errors=True)
    if ended is None and not (events and events[-1]["event"] in _FINAL):
        ended = _describe_exit(proc.returncode)
    return events, ended


_FINAL = ("done", "unreadable", "error")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _read_events(read_fd, timeout):
    """JSON events from the worker until it finishes, dies, or falls silent for too long."""
    events, buffer, ended = [], b"", None
    deadline = time.monotonic() + LOAD_SECONDS + GRACE + timeout
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
                deadline = time.monotonic() + timeout + GRACE  # the worker's own alarm fires first
            if events and events[-1].get("event") in _FINAL:
                break
    return events, ended


def kill_all() -> None:
    """Kill every running worker and start no new one until ``STOP`` is cleared (interrupted)."""
    with _LIVE_LOCK:
        STOP.set()
        procs = list(_LIVE)
    for proc in procs:
        _kill(proc)


def _kill(proc):
    """SIGKILL the worker's whole process group (it is the group's leader), then reap it."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    with _LIVE_LOCK:
        _LIVE.discard(proc)


def _describe_exit(code):
    if code is not None and code < 0:
        return f"the process was killed by signal {-code} (a crash, or the memory cap)"
    return (
        f"the notebook's code ended the grading process (exit status {code}: sys.exit or os._exit?)"
    )
