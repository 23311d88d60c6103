"""Grade one notebook: the checker here, the learner's code in a sandboxed worker.

The checker (this process) holds the exercise's tests, the reference, the inputs and the expected
values; it copies the notebook into a private scratch folder, starts one worker for it (see
``sandbox``) and runs each test, sending the worker the calls a test makes (``remote``, and
``torch_remote`` for the PyTorch exercises). A test has ``timeout`` seconds; a worker that
overruns, exits, crashes or breaks the channel costs that test (0 points and a sentence saying
what happened) and is replaced by a fresh one for the next test. Every test's inputs come from a
seed derived from (exercise, test, seed), so the same notebook and seed give the same verdicts.
The whole sandbox is killed when the notebook is done; its scratch folder is deleted.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from s2s_ref.grading import protocol, sandbox
from s2s_ref.grading.feedback import Feedback, notes
from s2s_ref.grading.registry import get_exercise, seeded
from s2s_ref.grading.remote import RemoteLearner, TestTimedOut, WorkerDied

LOAD_SECONDS = 60.0  # imports in the notebook (numpy, torch, matplotlib) can be slow on a busy CPU
GRACE = 5.0  # seconds past a test's timeout before the checker kills a worker that ignored it
DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_GB = 8.0
_LIVE: set = set()  # running workers, so that an interrupted grader can kill them all
_LIVE_LOCK = threading.Lock()
STOP = threading.Event()  # set by kill_all: no new worker starts until it is cleared
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
    seed: int = 0,
) -> ExerciseResult:
    """Grade ``path`` against exercise ``exercise_key``.

    timeout: seconds per test; memory_gb: the worker's address-space cap; threads: BLAS and
    PyTorch threads the worker may use; seed: the inputs' seed (the same seed, the same verdict).
    """
    exercise = get_exercise(exercise_key)
    scratch = Path(tempfile.mkdtemp(prefix="s2s-grade-"))
    try:
        session = _Session(Path(path), exercise, scratch, timeout, memory_gb, threads)
        tests = [session.run(test, seed) for test in exercise.tests]
    finally:
        if "session" in locals():
            session.close()
        shutil.rmtree(scratch, ignore_errors=True)
    reproduce = f" Re-run: python -m s2s_ref.grade {path} --seed {seed}"
    for t in tests:
        if not t.passed and t.feedback:
            t.feedback += reproduce
    return ExerciseResult(
        exercise=exercise_key,
        notebook=str(path),
        score=sum(t.points for t in tests),
        max_score=float(exercise.max_score),
        tests=tests,
        problems=session.problems,
    )


class _Session:
    """One notebook's worker: started on demand, replaced after it dies."""

    def __init__(self, notebook: Path, exercise, scratch: Path, timeout, memory_gb, threads):
        self.exercise, self.timeout = exercise, timeout
        self.memory_gb, self.threads = memory_gb, threads
        self.source = notebook
        self.submission = scratch / "submission"
        self.submission.mkdir()
        self.copy = self.submission / "notebook.ipynb"
        self.fatal: str | None = None  # the notebook cannot be graded at all
        if notebook.is_file():
            shutil.copyfile(notebook, self.copy)
        else:
            self.fatal = f"{notebook}: no such file"
        self.copy.touch()
        self.home = scratch / "home"
        self.home.mkdir()
        for folder in (scratch, self.submission, self.home):
            folder.chmod(0o777 if folder == self.home else 0o755)
        self.copy.chmod(0o644)
        self.worker: _Worker | None = None
        self.loaded: dict | None = None
        self.problems: list[str] = [self.fatal] if self.fatal else []
        self.charged: set[str] = set()  # functions already charged for writing into arguments

    def run(self, test, seed) -> TestResult:
        points = float(test.points)
        passed, feedback = self._outcome(test, seed)
        broken = (self.loaded or {}).get("broken", {}).get(test.function)
        if passed is not True and broken and broken not in feedback:
            feedback = f"{broken}. {feedback}"
        if passed is True:
            return TestResult(test.name, points, points, True, "")
        if isinstance(passed, list):  # values right, but it wrote into arguments or cast down
            charge = min(1.0, points) if test.function not in self.charged else 0.0
            self.charged.add(test.function)
            return TestResult(test.name, points - charge, points, False, feedback)
        return TestResult(test.name, 0.0, points, False, feedback)

    def _outcome(self, test, seed):
        if self.fatal:
            return False, self.fatal
        try:
            if self.worker is None:
                self._start()
                if self.fatal:
                    return False, self.fatal
            deadline = time.monotonic() + self.timeout
            learner = RemoteLearner(self.worker, self.loaded, deadline)
            try:
                with seeded(self.exercise.key, test.name, seed), notes() as noted:
                    test.run(learner)
            finally:
                if self.worker is not None and not self.worker.dead:
                    self.worker.request({"op": "forget"}, [], time.monotonic() + GRACE)
        except Feedback as exc:
            return False, str(exc)
        except TestTimedOut:
            return False, f"timed out after {self.timeout:g} s: is there an endless loop?"
        except WorkerDied as exc:
            self._stop()
            return False, str(exc)
        except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
            return False, f"the values returned could not be checked ({type(exc).__name__}: {exc})"
        own = sorted({arg for function, arg in learner.changed if function == test.function})
        said = list(dict.fromkeys(noted))
        if own:
            said.append(
                f"the values are right, but `{test.function}` writes into its argument"
                f"{'s' if len(own) > 1 else ''} {', '.join(f'`{a}`' for a in own)}: work on a "
                "copy (callers keep using what they passed in). This costs at most 1 point per "
                "function."
            )
        if said:
            return said, " ".join(said)
        return True, ""

    def _start(self):
        if STOP.is_set():
            raise Stopped("grading was stopped")
        view = sandbox.package_view(self.exercise.hidden_modules)
        cpu = int(len(self.exercise.tests) * (self.timeout + GRACE) + LOAD_SECONDS + 30)
        self.worker = _Worker(self, view, cpu, self.timeout)
        try:
            header, _ = self.worker.receive(time.monotonic() + LOAD_SECONDS + GRACE)
        except WorkerDied as exc:
            self._stop()
            self.fatal = f"the notebook could not be loaded: {exc}"
            return
        if header.get("kind") == "unreadable":
            self.fatal = str(header.get("message", "the notebook could not be read"))
            self.problems.append(self.fatal)
            self._stop()
            return
        if self.loaded is None:
            self.problems.extend(str(p) for p in header.get("problems", []))
        self.loaded = header

    def _stop(self):
        if self.worker is not None:
            self.worker.kill()
            self.worker.close()
        self.worker = None

    def close(self):
        self._stop()


class _Worker:
    """A started sandbox and the two pipes to the worker inside it."""

    def __init__(self, session: _Session, view: Path, cpu_seconds: int, timeout: float):
        self.dead, self.closed = False, False
        self.reason = None
        self.timeout = timeout
        from_checker, to_worker = os.pipe()
        from_worker, to_checker = os.pipe()

        def worker_args(notebook_folder, scratch):
            args = [f"{notebook_folder}/notebook.ipynb", session.exercise.key]
            args += [str(from_checker), str(to_checker), "--scratch", scratch]
            args += ["--load-timeout", str(LOAD_SECONDS), "--memory-gb", str(session.memory_gb)]
            args += ["--cpu-seconds", str(cpu_seconds), "--label", str(session.source.resolve())]
            return [*args, "--hidden", *session.exercise.hidden_modules]

        argv, inner = sandbox.command(
            worker_args, scratch=str(session.home), submission=str(session.submission),
            view=str(view), hide=sandbox.hidden_folders(session.source),
        )  # fmt: skip
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": inner["pythonpath"],
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "HOME": inner["home"],
            **{k: str(session.threads) for k in _THREAD_VARIABLES},
        }
        with _LIVE_LOCK:  # with kill_all's lock, so no worker starts unseen while it stops them
            if STOP.is_set():
                for fd in (to_worker, from_checker, from_worker, to_checker):
                    os.close(fd)
                raise Stopped("grading was stopped")
            self.proc = subprocess.Popen(
                argv, pass_fds=(from_checker, to_checker), env=env, cwd=session.home,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            _LIVE.add(self)
        os.close(from_checker)
        os.close(to_checker)
        self.to_worker, self.from_worker = to_worker, from_worker

    def request(self, header, blobs, deadline):
        """Send one request and wait for its answer until ``deadline`` (plus a grace)."""
        if self.dead:
            raise WorkerDied(self.reason or "the grading worker had stopped")
        try:
            protocol.send(self.to_worker, header, blobs)
        except protocol.ChannelError:
            self._died(None)
        return self.receive(deadline + GRACE)

    def receive(self, deadline):
        try:
            return protocol.receive(self.from_worker, deadline)
        except protocol.ChannelError as exc:
            self._died(exc)

    def _died(self, exc):
        late = exc is not None and "in time" in str(exc)
        if not late:  # it may be exiting on its own: its status says how
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        if late:
            self.reason = (
                f"timed out after {self.timeout:g} s: is there an endless loop (one that even "
                "swallows the alarm)?"
            )
        elif exc is not None and "closed" not in str(exc):
            self.reason = f"the notebook's code broke the grader's channel ({exc})"
        else:
            self.reason = _describe_exit(self.proc.returncode)
        raise WorkerDied(self.reason)

    def kill(self):
        """SIGKILL the sandbox's process group, reap it, and wait until no process of the group
        is left running (its pid namespace dies with it). Safe from any thread."""
        with _LIVE_LOCK:
            first, self.dead = not self.dead, True
        if first and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        _wait_for_group(self.proc.pid)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def close(self):
        """Close the checker's ends of the pipes (only the thread that reads them calls this)."""
        if not self.closed:
            self.closed = True
            for fd in (self.to_worker, self.from_worker):
                os.close(fd)


def _wait_for_group(group: int, seconds: float = 5.0) -> None:
    """Wait until no live process (zombies aside) is in process group ``group`` (Linux)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = False
        for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
            if not entry.name.isdigit():
                continue
            try:
                fields = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == group:
                alive = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), 9)
        if not alive:
            return
        time.sleep(0.01)


def kill_all() -> None:
    """Kill every running worker and start no new one until ``STOP`` is cleared (interrupted)."""
    with _LIVE_LOCK:
        STOP.set()
        workers = list(_LIVE)
    for worker in workers:
        worker.kill()


def _describe_exit(code):
    if code is not None and code < 0:
        signal_number = -code
    elif code is not None and code > 128:  # a sandbox reports its child's signal as 128 + n
        signal_number = code - 128
    else:
        return (
            f"the notebook's code ended the grading process (exit status {code}: sys.exit or "
            "os._exit?)"
        )
    if signal_number == 24:
        return "the grading process used up its CPU time (SIGXCPU): is there an endless loop?"
    return f"the process was killed by signal {signal_number} (a crash, or the memory cap)"
