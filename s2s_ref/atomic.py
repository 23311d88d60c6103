"""Atomic file writes: the one way the package writes a file.

A reader sees the old file or the new one, never half of one, whatever kills the writer: the data
go to a temporary file in the same folder, are flushed to disk (``fsync``), replace the target with
``os.replace`` (atomic on POSIX), and the folder itself is synced so that the rename survives a
power cut. A writer never overwrites one of its own inputs, and a target folder that does not
exist is an error raised before any work, not after it.

Book: appendix "Performance" and chapter 6, "Checkpoints that resume bit for bit".
"""

import contextlib
import fcntl
import os
import tempfile
import time
from pathlib import Path

# Temporary files are named ``.<target>.tmp-<random>``, so a sweep can find the ones a killed
# writer left behind without touching anything else.
_TMP_MARK = ".tmp-"


def check_output(path, *, inputs=()) -> Path:
    """Check that ``path`` can be written and is none of ``inputs``; return it as a Path.

    Raises ValueError (naming both paths) when the output is one of the inputs, and
    FileNotFoundError / NotADirectoryError when its folder does not exist.
    Call it before long work, so that a bad output path fails at once.
    """
    path = Path(path)
    for source in inputs:
        source = Path(source)
        if source.exists() and path.exists() and os.path.samefile(source, path):
            raise ValueError(f"refusing to overwrite the input {source} with the output {path}")
        if not path.exists() and source.resolve() == path.resolve():
            raise ValueError(f"refusing to overwrite the input {source} with the output {path}")
    if path.is_dir():
        raise IsADirectoryError(f"the output {path} is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise FileNotFoundError(f"the folder {folder} for the output {path} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}, the folder for the output {path}, is not a folder")
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", *, inputs=()):
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` atomically.

    mode: "wb" or "w" (text is UTF-8). On an exception the temporary file is removed and
    ``path`` is left as it was. ``inputs``: paths that must not be overwritten (see check_output).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = check_output(path, inputs=inputs)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}{_TMP_MARK}")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_atomic(path, data, *, inputs=()) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; return the Path."""
    if not isinstance(data, (bytes, bytearray, str)):
        raise TypeError(f"data must be bytes or str, got {type(data).__name__}")
    with atomic_open(path, "w" if isinstance(data, str) else "wb", inputs=inputs) as f:
        f.write(data)
    return Path(path)


def sweep_temp_files(folder, *, older_than_s: float = 0.0) -> list[Path]:
    """Remove temporary files that killed writers left in ``folder``; return what was removed.

    Only names this module makes (``.<name>.tmp-<random>``) are touched; ``older_than_s`` spares
    the files of a writer that may still be running.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for entry in folder.iterdir():
        if entry.name.startswith(".") and _TMP_MARK in entry.name and entry.is_file():
            if now - entry.stat().st_mtime >= older_than_s:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


class FolderBusyError(RuntimeError):
    """Another process holds the lock of a folder (see folder_lock)."""


@contextlib.contextmanager
def folder_lock(folder, name: str = "train.lock"):
    """Hold an exclusive lock on ``folder`` (``fcntl.flock`` on ``folder/name``) or fail at once.

    A second process asking for the same folder gets FolderBusyError, naming the folder, instead
    of waiting or sharing it. The lock dies with its process, so a killed holder never leaves the
    folder locked; the lock file itself stays (removing it would let two holders in).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot lock {folder}: it is not a folder")
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(
                f"the folder {folder} is in use by another process (it holds {folder / name}); "
                "wait for it to finish or use another folder"
            ) from None
        yield folder
    finally:
        os.close(fd)
