"""The sandbox a grading worker runs in, built from existing tools.

Three modes, the first that works on this machine (``S2S_GRADER_SANDBOX`` = ``bwrap``,
``unshare`` or ``none`` forces one):

- ``bwrap`` (Debian's ``bubblewrap``): new PID, network, IPC, UTS and user namespaces; a read-only
  view of the system folders, the interpreter and its packages only (nothing else of the
  machine: no course repository, no other submission); a private copy of the grader's worker
  modules (never the reference); the submission's private copy read-only; one size-capped tmpfs
  scratch folder, the only writable place; uid 65534; killed with its parent.
- ``unshare`` (util-linux): new PID, network, IPC, UTS and mount namespaces; the course's
  ``solutions/``, ``exercises/``, ``tests/``, the package's own folder and the submission's
  original folder covered by empty tmpfs mounts; every other mount read-only, a size-capped tmpfs
  scratch the only writable place; uid 65534 when the grader runs as root (root's uid without any
  capability but reading where uid 65534 cannot reach the interpreter); killed with its parent.
- ``none``: a plain process in its own session, with a warning printed once on stderr. It sees the
  files the grader sees; what stops it is the process boundary and the rlimits.

In every mode the worker caps its own address space, CPU time, file size, open files and (as an
unprivileged user) processes before it loads learner code, works in its scratch folder, and
imports the grader's worker modules from a private copy that leaves out the reference modules of
the exercise being graded. The checker kills the whole sandbox when a notebook is done or a test
overruns. The book's appendix "For instructors" says what each mode protects against.
"""

import atexit
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # s2s_ref/
REPOSITORY = PACKAGE.parent
FILE_LIMIT_BYTES = 2**30  # one file written by learner code
SCRATCH_BYTES = 2**30  # the scratch tmpfs
SHM_BYTES = 2**28  # the private /dev/shm (unshare mode)
OPEN_FILES = 256
PROCESSES = 4096  # threads count too (BLAS, PyTorch); a fork bomb stops here
NOBODY = 65534
MODES = ("bwrap", "unshare", "none")
# the grading modules a worker imports (and those a notebook's setup cell imports for its check
# cells, and the learner-side training helpers of ex06 and ex07, which hold no held-out data);
# the exercises' tests, which hold the reference and the mistakes, are left out
WORKER_MODULES = (
    "__init__.py",
    "worker.py",
    "protocol.py",
    "loader.py",
    "sandbox.py",
    "models.py",
    "feedback.py",
    "learner.py",
    "registry.py",
    "reference.py",
    "torch_ops.py",
    "ex06_training.py",
    "ex07_training.py",
)
_lock = threading.Lock()
_chosen: dict = {}
_views: dict = {}


class SandboxError(RuntimeError):
    """The sandbox asked for cannot be built on this machine."""


# ---- the checker's side: which mode, and the command that starts a worker in it ----


def mode() -> str:
    """The sandbox mode used on this machine (probed once; the fallback warns once on stderr)."""
    with _lock:
        forced = os.environ.get("S2S_GRADER_SANDBOX", "").strip().lower()
        if forced and forced not in MODES:
            raise SandboxError(f"S2S_GRADER_SANDBOX={forced!r}: expected one of {MODES}")
        key = forced or "auto"
        if key not in _chosen:
            if forced:
                if forced != "none" and not _works(forced):
                    raise SandboxError(f"the {forced} sandbox does not work on this machine")
                _chosen[key] = forced
            else:
                _chosen[key] = next((m for m in MODES[:2] if _works(m)), "none")
                if _chosen[key] == "none":
                    print(
                        "warning: neither bubblewrap nor unshare can make namespaces here: "
                        "notebooks are graded in plain processes with resource limits only",
                        file=sys.stderr,
                    )
        return _chosen[key]


# the probe of unshare mode also makes its private "/" read-only as ``cover`` does (mount_setattr,
# Linux 5.12); util-linux's unshare makes the new mount namespace private, so the host is untouched
_READ_ONLY_PROBE = (
    f"import ctypes, sys; sys.path.insert(0, {str(PACKAGE.parent)!r}); "
    "from s2s_ref.grading.sandbox import _set_read_only; "
    "_set_read_only(ctypes.CDLL(None, use_errno=True), '/', True, recursive=True)"
)


def _works(name: str) -> bool:
    if shutil.which(name) is None:
        return False
    probe = [sys.executable, "-c", _READ_ONLY_PROBE if name == "unshare" else "pass"]
    try:
        done = subprocess.run(
            _wrap(name, probe, scratch=None, submission=None, view=None, hide=()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def package_view(hidden: tuple[str, ...]) -> Path:
    """A private copy of the package for workers: without ``hidden`` modules nor any grading
    module but the worker's own (``WORKER_MODULES``)."""
    key = hidden
    with _lock:
        if key in _views and _views[key].exists():
            return _views[key]
        root = Path(tempfile.mkdtemp(prefix="s2s-view-"))
        leave_out = {PACKAGE.joinpath(*m.split(".")[1:]).with_suffix(".py") for m in hidden}
        for source in PACKAGE.rglob("*.py"):
            relative = source.relative_to(PACKAGE)
            if source in leave_out or "__pycache__" in relative.parts:
                continue
            if relative.parts[0] == "grading":
                if len(relative.parts) > 2 or relative.name not in WORKER_MODULES:
                    continue
            target = root / "s2s_ref" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        for folder in [root, *root.rglob("*")]:
            folder.chmod(0o755 if folder.is_dir() else 0o644)
        _views[key] = root
        return root


def remove_views() -> None:
    """Delete the package copies made by ``package_view`` (the grader is finishing)."""
    with _lock:
        for root in _views.values():
            shutil.rmtree(root, ignore_errors=True)
        _views.clear()


atexit.register(remove_views)


def command(worker_args, *, scratch, submission, view, hide, scratch_bytes=SCRATCH_BYTES):
    """(argv, paths as the worker sees them) to start a worker in this machine's sandbox.

    worker_args: a function (notebook, scratch) -> the worker's arguments after ``-m
    s2s_ref.grading.worker``; scratch, submission: host folders (the submission's private copy
    is read-only for the worker); view: the package copy; hide: host folders to cover.
    """
    name = mode()
    inner = {"bwrap": ("/scratch", "/submission", "/grader")}.get(name, (scratch, submission, view))
    argv = [sys.executable, "-m", "s2s_ref.grading.worker", *worker_args(inner[1], inner[0])]
    if name == "unshare":
        argv += ["--hide", *map(str, hide), "--scratch-bytes", str(scratch_bytes)]
    if name in ("unshare", "none") and os.geteuid() == 0 and _nobody_can_run(view):
        argv += ["--uid", str(NOBODY)]
    wrapped = _wrap(name, argv, scratch, submission, view, hide, scratch_bytes)
    return wrapped, {"pythonpath": inner[2], "home": inner[0]}


def _wrap(name, argv, scratch, submission, view, hide, scratch_bytes=SCRATCH_BYTES):
    if name == "none":
        return argv
    if name == "unshare":
        cmd = ["unshare", "--fork", "--kill-child", "--pid", "--mount-proc", "--net", "--ipc"]
        cmd += ["--uts", "--mount"]
        if os.geteuid() != 0:
            cmd += ["--user", "--map-root-user"]
        return [*cmd, "--", *argv]
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    # no --new-session: the sandbox stays in the checker's process group for it, and the
    # worker has no controlling terminal anyway (it is started in a session of its own)
    cmd += ["--die-with-parent", "--proc", "/proc", "--dev", "/dev"]
    cmd += ["--tmpfs", "/tmp"]
    for top in ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/", top)
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    for folder in _interpreter_folders():
        cmd += ["--ro-bind", folder, folder]
    if view is not None:
        cmd += ["--ro-bind", str(view), "/grader"]
    if submission is not None:
        cmd += ["--ro-bind", str(submission), "/submission"]
    cmd += ["--size", str(scratch_bytes), "--tmpfs", "/scratch", "--chdir", "/scratch"]
    return [*cmd, "--", *argv]


def _nobody_can_run(view) -> bool:
    """Whether uid 65534 can reach the interpreter, its packages and the package copy ``view``.

    A root-owned private folder on the way (pyenv under /root, a venv in a ``mktemp -d`` folder)
    makes the unprivileged worker unable to start, so every notebook would score 0: the worker then
    keeps root's uid, without capabilities but reading (``become``; namespaces, read-only mounts
    and rlimits still apply), and the grader says so once on stderr.
    """
    folders = [*_interpreter_folders(), *([str(view)] if view is not None else [])]
    blocked = [f for f in folders if not _reachable_by_others(f)]
    if blocked and not _warned_uid:
        _warned_uid.append(True)
        print(
            f"warning: the worker runs as root, not as uid {NOBODY}: {blocked[0]} cannot be "
            "reached by other users (make its folders world-readable to drop privileges)",
            file=sys.stderr,
        )
    return not blocked


_warned_uid: list = []


def _reachable_by_others(folder: str) -> bool:
    """Every folder from / down to ``folder`` lets other users through (x), and ``folder`` lets
    them read (r)."""
    path = Path(os.path.realpath(folder))
    try:
        if not path.stat().st_mode & 0o004:
            return False
        return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))
    except OSError:
        return False


def _interpreter_folders() -> list[str]:
    """The interpreter's folders outside /usr (a venv, pyenv), outermost first, no repeats."""
    import site

    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    candidates.add(str(Path(os.path.realpath(sys.executable)).parents[1]))
    candidates.update(site.getsitepackages())
    found = []
    for folder in sorted(os.path.realpath(c) for c in candidates):
        if not os.path.isdir(folder) or folder.startswith(("/usr/", "/etc/")):
            continue
        if any(folder == f or folder.startswith(f + os.sep) for f in found):
            continue
        found.append(folder)
    return found


def hidden_folders(submission_source: Path) -> list[Path]:
    """Host folders covered in ``unshare`` mode: the course's answers and tests, the package
    itself, and the folder the submission came from (its classmates' work)."""
    folders = [REPOSITORY / n for n in ("solutions", "exercises", "tests")] + [PACKAGE]
    folders.append(submission_source.resolve().parent)
    keep = [Path(sys.prefix).resolve(), Path(tempfile.gettempdir()).resolve()]
    return [
        f for f in folders if f.is_dir() and not any(k == f or k.is_relative_to(f) for k in keep)
    ]


# ---- the worker's side: applied before any learner code runs ----


def keep_channel(fd_in: int, fd_out: int) -> tuple[int, int]:
    """Move the channel's file descriptors above 2 and send stdin, stdout, stderr to /dev/null."""
    fd_in, fd_out = os.dup(fd_in) if fd_in < 3 else fd_in, os.dup(fd_out) if fd_out < 3 else fd_out
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    return fd_in, fd_out


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the process that started it dies."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the runner's kill still applies
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def cover(folders, scratch: str, scratch_bytes: int) -> None:
    """In a private mount namespace (``unshare`` mode): an empty read-only tmpfs over each of
    ``folders``, a tmpfs of ``scratch_bytes`` as the scratch folder and a fresh one as
    ``/dev/shm``, then every other mount made read-only, so that the scratch folder is the only
    writable place even for a worker that keeps root's uid."""
    if not folders and not scratch_bytes:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    ms_rdonly, ms_nosuid, ms_nodev, ms_private, ms_rec = 1, 2, 4, 1 << 18, 1 << 14
    libc.mount(b"none", b"/", None, ms_rec | ms_private, None)  # nothing leaks to the host
    mounts, writable = [(f, ms_rdonly, b"size=4k,mode=0555") for f in folders], []
    if scratch_bytes:
        mounts.append((scratch, 0, f"size={scratch_bytes},mode=0777".encode()))
        writable.append(scratch)
    if os.path.isdir("/dev/shm"):
        mounts.append(("/dev/shm", 0, f"size={SHM_BYTES},mode=1777".encode()))
        writable.append("/dev/shm")
    for folder, flags, options in mounts:
        if (
            libc.mount(
                b"tmpfs", os.fsencode(folder), b"tmpfs", flags | ms_nosuid | ms_nodev, options
            )
            != 0
        ):
            raise OSError(ctypes.get_errno(), f"could not cover {folder}")
    _set_read_only(libc, "/", True, recursive=True)
    for folder in writable:
        _set_read_only(libc, folder, False, recursive=False)


def _set_read_only(libc, path: str, read_only: bool, *, recursive: bool) -> None:
    """``mount_setattr(2)`` (Linux 5.12): set or clear MOUNT_ATTR_RDONLY on the mount at ``path``
    (and, if ``recursive``, every mount below it)."""
    attr = (ctypes.c_uint64 * 4)(*((1, 0) if read_only else (0, 1)), 0, 0)  # set, clear, ...
    flags = 0x8000 if recursive else 0  # AT_RECURSIVE
    if libc.syscall(442, -100, os.fsencode(path), flags, attr, ctypes.sizeof(attr)) != 0:
        raise OSError(ctypes.get_errno(), f"could not make {path} read-only")


def become(uid: int) -> None:
    """Drop to ``uid`` (and the same gid, no supplementary groups) when asked, i.e. as root; a
    worker that stays root (inside a user namespace, or where uid 65534 cannot run the
    interpreter) loses every capability but reading: it can no longer unmount the covers, remount
    a folder writable, or signal, trace or write past the permissions of other users."""
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if os.geteuid() == 0:
        _keep_only_reading()


def _keep_only_reading() -> None:
    """Keep CAP_DAC_READ_SEARCH alone, in this process and in anything it executes."""
    libc = ctypes.CDLL(None, use_errno=True)
    read_search = 2
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid binary gives them back
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if cap != read_search and libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "could not drop the capability bounding set")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    keep = 1 << read_search
    data = (ctypes.c_uint32 * 6)(keep, keep, 0, 0, 0, 0)  # effective, permitted, inheritable x2
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "could not drop capabilities")


def limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap address space, CPU time, file size, open files and (unless root) processes."""
    limits = [
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_FSIZE, FILE_LIMIT_BYTES),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
        (resource.RLIMIT_CORE, 0),
    ]
    if os.geteuid() != 0:
        limits.append((resource.RLIMIT_NPROC, PROCESSES))
    for which, value in limits:
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with OSError instead


def enter_scratch(scratch: str) -> None:
    """Work in ``scratch``, make it HOME and the temporary folder, keep plots off-screen."""
    os.chdir(scratch)
    os.environ.update(
        HOME=scratch, TMPDIR=scratch, MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="",
        MPLCONFIGDIR=scratch,
    )  # fmt: skip
    tempfile.tempdir = scratch


def forget_editable_installs() -> None:
    """Drop import hooks of editable installs: they would find the repository's own modules
    (the reference among them) behind the private copy's back."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
    sys.path_importer_cache.clear()
