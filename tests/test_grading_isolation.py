"""Isolation: learner code that hogs memory, prints without end, loops, starts processes or
threads, or signals the grader costs at most its own tests, never the run, and leaves nothing
behind (the sandbox's processes die with it)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s2s_ref.grading import runner, sandbox
from s2s_ref.grading.runner import GRACE, grade_notebook

from .notebook_mutants import ROOT, cell_number, mutant

SOLUTION = "ex01_rnn.ipynb"
FIRST = "    ### BEGIN SOLUTION\n    h_next = np.tanh"  # the start of rnn_step_forward's body
EVERY = "    ### BEGIN SOLUTION\n"  # the start of every function's body


def _inject(body, tmp_path, where=FIRST):
    return mutant(
        SOLUTION, {where: where.replace("SOLUTION\n", f"SOLUTION\n{body}\n", 1)}, tmp_path
    )


def _step_forward(result):
    return next(t for t in result.tests if t.name.startswith("rnn_step_forward"))


def _workers_of(path: Path):
    """Process ids of grading workers still running on ``path``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"s2s_ref.grading.worker" in cmdline and str(path.resolve()).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_allocating_50_gb_loses_that_test_with_a_clear_message(tmp_path):
    path = _inject("    big = np.ones(50 * 2**30 // 8)", tmp_path)
    result = grade_notebook(path, "ex01", memory_gb=4)
    feedback = _step_forward(result).feedback
    assert "ran out of memory" in feedback and "50.0 GiB" in feedback, feedback
    assert f"cell {cell_number(SOLUTION, 'def rnn_step_forward')}" in feedback  # where it happened


def test_a_huge_print_costs_nothing(tmp_path):
    path = _inject(
        "    print('x' * 10**7)\n    import sys\n    sys.stderr.write('y' * 10**7)", tmp_path, EVERY
    )
    result = grade_notebook(path, "ex01")
    assert result.score == result.max_score, [t.feedback for t in result.tests]


def test_a_huge_exception_message_is_cut_short(tmp_path):
    path = _inject("    raise ValueError('z' * 10**7)", tmp_path)
    feedback = _step_forward(grade_notebook(path, "ex01")).feedback
    assert feedback.startswith("`rnn_step_forward` raised ValueError: zzz")
    assert len(feedback) < 2000


@pytest.mark.parametrize(
    "body",
    [
        "    import os\n    if os.fork() == 0:\n        os._exit(0)",
        "    import subprocess\n    subprocess.run(['true'])",
        "    import multiprocessing\n    multiprocessing.Process(target=print).start()",
        "    import os\n    os.system('true')",
        "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)",
    ],
    ids=["os.fork", "subprocess", "multiprocessing", "os.system", "kill the parent"],
)
def test_processes_stay_in_the_sandbox_and_signals_reach_nothing_outside(body, tmp_path):
    if sandbox.mode() == "none":
        pytest.skip("the plain fallback does not hold processes (the instructors' guide says so)")
    result = grade_notebook(_inject(body, tmp_path), "ex01")
    feedback = [t.feedback for t in result.tests]
    assert [t.passed for t in result.tests].count(True) >= 3, feedback
    assert all(t.feedback or t.passed for t in result.tests)


def test_threads_left_running_do_not_hold_up_grading(tmp_path):
    spawn = (
        "    import threading, time\n"
        "    for _ in range(20 if threading.active_count() == 1 else 0):  # once per worker\n"
        "        threading.Thread(target=lambda: [time.sleep(0.05) for _ in iter(int, 1)]).start()"
    )
    path = _inject(spawn, tmp_path)
    result = grade_notebook(path, "ex01", timeout=20)
    assert result.score == result.max_score, [t.feedback for t in result.tests]
    assert _workers_of(path) == []


def test_endless_loops_everywhere_cost_about_tests_times_timeout(tmp_path):
    path = _inject("    while True:\n        pass", tmp_path, EVERY)
    timeout = 2
    start = time.monotonic()
    result = grade_notebook(path, "ex01", timeout=timeout)
    elapsed = time.monotonic() - start
    assert result.score == 0
    assert all("timed out after 2 s" in t.feedback for t in result.tests), result.tests
    # one worker, five alarms: about 5 x 2 s plus start-up; the bound only catches a hang
    assert elapsed < len(result.tests) * (timeout + GRACE) + runner.LOAD_SECONDS
    assert _workers_of(path) == []


def test_a_loop_that_swallows_the_alarm_is_killed_and_grading_goes_on(tmp_path):
    body = (
        "    while True:\n"
        "        try:\n"
        "            while True:\n"
        "                pass\n"
        "        except BaseException:\n"
        "            pass"
    )
    path = _inject(body, tmp_path)
    result = grade_notebook(path, "ex01", timeout=1)
    # every test calls the looping forward: each one kills a worker, a fresh one grades the next
    assert all("timed out after 1 s" in t.feedback for t in result.tests), result.tests
    assert _workers_of(path) == []


def test_interrupting_the_grader_kills_its_workers(tmp_path):
    path = _inject("    while True:\n        pass", tmp_path, EVERY)
    proc = subprocess.Popen(
        [sys.executable, "-m", "s2s_ref.grade", str(path), "--timeout", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not _workers_of(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _workers_of(path), "the worker never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    time.sleep(0.5)
    assert _workers_of(path) == []


def test_worker_scratch_folders_are_removed(tmp_path, monkeypatch):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(runner.tempfile, "tempdir", str(temp))
    path = _inject("    open('left-behind.txt', 'w').write('x')", tmp_path)
    assert grade_notebook(path, "ex01").score == 12
    assert [p for p in temp.iterdir() if p.name.startswith("s2s-grade-")] == []


def test_the_worker_sees_no_gpu_and_works_in_its_scratch_folder(tmp_path):
    body = (
        "    import os\n"
        "    assert os.environ['CUDA_VISIBLE_DEVICES'] == '' and os.getcwd() == os.environ['HOME']"
    )
    result = grade_notebook(_inject(body, tmp_path), "ex01")
    assert _step_forward(result).passed, _step_forward(result).feedback
    assert runner._LIVE == set()


@pytest.mark.skipif(sandbox.shutil.which("unshare") is None, reason="no util-linux unshare")
def test_unshare_mode_needs_read_only_mounts(monkeypatch):
    """Where the kernel cannot make the private "/" read-only (mount_setattr, Linux 5.12),
    unshare mode is not offered: a sandbox whose worker could write the host is no sandbox."""
    if not sandbox._works("unshare"):
        pytest.skip("unshare cannot make namespaces here")
    monkeypatch.setattr(sandbox, "_READ_ONLY_PROBE", "import sys; sys.exit(38)  # ENOSYS")
    assert not sandbox._works("unshare")
