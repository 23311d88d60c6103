"""Limits on a grading process, so that learner code can cost its own tests but not the run.

Applied by ``worker`` before any learner code runs: the process dies with its parent, its address
space and file sizes are capped, it works in a scratch folder that is also its HOME, it cannot
start processes or signal other ones, sees no GPU, and its stdout and stderr go to /dev/null.
What this does not stop is listed in the book's appendix "For instructors".
"""

import ctypes
import os
import resource
import signal
import sys

FILE_LIMIT_BYTES = 2**30  # one file written by learner code (the scratch folder is deleted after)

# Audit events that start a process (os.system, subprocess, multiprocessing, os.fork, os.exec*)
_PROCESS_EVENTS = frozenset(
    {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
     "subprocess.Popen", "os.startfile"}
)  # fmt: skip
# C functions reachable through ctypes that would do the same behind the audit hooks' back
_PROCESS_SYMBOLS = frozenset(
    {"fork", "vfork", "clone", "clone3", "system", "popen", "daemon", "setsid", "kill", "killpg",
     "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "posix_spawn",
     "posix_spawnp"}
)  # fmt: skip


class SandboxViolation(PermissionError):
    """Learner code tried something a grading process may not do."""


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the process that started it dies (Ctrl-C, kill)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the runner's process-group kill still applies
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def limit_resources(memory_bytes: int) -> None:
    """Cap the address space (numpy raises MemoryError) and file sizes; no core dumps."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, FILE_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with OSError instead


def enter_scratch(scratch: str) -> None:
    """Work in ``scratch``, make it HOME, keep plots off-screen, send stdout/stderr to /dev/null."""
    os.chdir(scratch)
    os.environ.update(HOME=scratch, MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)


def forbid_processes() -> None:
    """From now on, starting a process or signalling another one raises SandboxViolation."""
    me = os.getpid()

    def hook(event, args):
        if event in _PROCESS_EVENTS:
            raise SandboxViolation(f"{event}: starting a process is not allowed while grading")
        if event in ("os.kill", "os.killpg") and args[0] not in (me, 0):
            raise SandboxViolation("signalling another process is not allowed while grading")
        if event == "ctypes.dlsym" and isinstance(args[1], str) and args[1] in _PROCESS_SYMBOLS:
            raise SandboxViolation(f"ctypes: {args[1]} is not allowed while grading")

    sys.addaudithook(hook)
