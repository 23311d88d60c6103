"""The reference implementation, available to graders but hidden from the code being graded.

While exercise N is graded, the modules that implement its functions must not be importable from
the learner's notebook. Graders therefore load those modules under a private name (nothing is
registered as ``s2s_ref.numpy_nn.rnn``), ``ImportBlocker`` turns any import of the public name into
an ImportError that explains why, ``block_reading`` refuses to open their files, and
``tripwired`` makes the privately loaded functions raise ``Borrowed`` while learner code runs, so
a thin wrapper around them is caught however it got hold of them.
"""

import contextlib
import importlib.util
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
    _PRIVATE_FUNCTIONS.extend(
        f for f in vars(module).values()
        if isinstance(f, types.FunctionType) and f.__module__ == private
    )  # fmt: skip
    return module


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
    """From now on, opening the source file of a hidden module raises PermissionError."""
    files = {str(_PACKAGE_ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py")) for m in hidden}

    def hook(event, args):
        if event == "open" and isinstance(args[0], str) and str(Path(args[0]).resolve()) in files:
            raise PermissionError(f"{args[0]} holds the reference solution and is not readable now")

    sys.addaudithook(hook)


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


def is_from_reference(func) -> bool:
    """True when a function's code comes from the package's models (borrowed, not written)."""
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    source = Path(code.co_filename).resolve()
    return any(source.is_relative_to(_PACKAGE_ROOT / d) for d in ("numpy_nn", "torch_nn"))
