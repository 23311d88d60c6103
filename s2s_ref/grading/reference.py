"""The reference implementation, available to graders but hidden from the code being graded.

While exercise N is graded, the modules that implement its functions must not be importable from
the learner's notebook. Graders therefore load those modules under a private name (nothing is
registered as ``s2s_ref.numpy_nn.rnn``), ``ImportBlocker`` turns any import of the public name into
an ImportError that explains why, ``block_reading`` refuses to open their files, and
``tripwired`` makes the privately loaded functions raise ``Borrowed`` while learner code runs, so
a thin wrapper around them is caught however it got hold of them.
"""

import contextlib
import functools
import importlib.util
import os
import sys
import types
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_PRIVATE_PREFIX = "_s2s_reference."


def load_private(module_name: str):
    """Load ``s2s_ref.x.y`` from its file under a private name; the public name stays unimported."""
    if not module_name.startswith("s2s_ref."):
        raise ValueError(f"not a reference module: {module_name}")
    private = _PRIVATE_PREFIX + module_name
    if private in sys.modules:
        return sys.modules[private]
    path = _PACKAGE_ROOT.joinpath(*module_name.split(".")[1:]).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(private, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    _PRIVATE_FUNCTIONS.extend(_functions_of(module, private))
    return module


def _functions_of(module, private):
    """The module's own functions, and those of its classes (methods, static and class methods)."""
    for obj in vars(module).values():
        if isinstance(obj, types.FunctionType) and obj.__module__ == private:
            yield obj
        elif isinstance(obj, type) and obj.__module__ == private:
            for attr in vars(obj).values():
                attr = getattr(attr, "__func__", getattr(attr, "fget", attr))
                if isinstance(attr, types.FunctionType):
                    yield attr


_PRIVATE_FUNCTIONS: list = []


class Borrowed(BaseException):  # not Exception: learner code should not swallow it by accident
    """Learner code called a reference function while being graded."""


def _tripwire(*args, **kwargs):
    # runs with the reference module's globals, where Borrowed is not defined: import it
    raise __import__("s2s_ref.grading.reference", fromlist=["Borrowed"]).Borrowed


@contextlib.contextmanager
def tripwired():
    """While inside, every privately loaded reference function raises Borrowed when called."""
    saved = [(f, f.__code__) for f in _PRIVATE_FUNCTIONS if not f.__code__.co_freevars]
    for f, _ in saved:
        f.__code__ = _tripwire.__code__
    try:
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def block_reading(hidden: tuple[str, ...]) -> None:
    """From now on, opening the source or compiled file of a hidden module raises PermissionError.

    Files are recognised by device and inode, so a path spelled differently, given as bytes, or a
    link to the file is refused too.
    """
    files = [_PACKAGE_ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py") for m in hidden]
    files += [c for f in files for c in f.parent.glob(f"__pycache__/{f.stem}.*.pyc")]
    blocked = {(st.st_dev, st.st_ino) for st in map(_stat, files) if st is not None}

    def hook(event, args):
        if event == "open" and not isinstance(args[0], int):
            st = _stat(args[0])
            if st is not None and (st.st_dev, st.st_ino) in blocked:
                raise PermissionError(
                    f"{os.fsdecode(args[0])} holds the reference solution and is not readable now"
                )

    sys.addaudithook(hook)


def _stat(path):
    try:
        return os.stat(path)
    except (OSError, TypeError, ValueError):
        return None


class ImportBlocker:
    """A meta path finder that refuses the hidden modules, with a message naming the exercise."""

    def __init__(self, exercise_key: str, hidden: tuple[str, ...]):
        self.exercise_key = exercise_key
        self.hidden = hidden

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.hidden:
            raise ImportError(
                f"{fullname} holds the reference solution of {self.exercise_key} and cannot be "
                f"imported while {self.exercise_key} is graded: write these functions yourself"
            )
        return None

    def install(self):
        for name in self.hidden:
            if name in sys.modules:
                raise RuntimeError(f"{name} was imported before grading started")
        sys.meta_path.insert(0, self)


def is_from_reference(obj) -> bool:
    """True when a function or class comes from the course's package (borrowed, not written).

    Functions are judged by the file their code was compiled from, classes by the module of every
    class they inherit from; partials and bound methods by what they wrap.
    """
    if isinstance(obj, functools.partial):
        obj = obj.func
    obj = getattr(obj, "__func__", obj)
    if isinstance(obj, type):
        return any(_is_package_module(c.__module__) for c in obj.__mro__)
    code = getattr(obj, "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(_PACKAGE_ROOT)


def _is_package_module(name: str) -> bool:
    return name.startswith(("s2s_ref.", _PRIVATE_PREFIX))
