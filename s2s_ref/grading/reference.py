"""The reference implementation, as the checker loads it, and the words for borrowing it.

The checker loads the modules of an exercise's reference under a private name (nothing is
registered as ``s2s_ref.numpy_nn.rnn``), so that a check cell's namespace does not gain them.
Workers never have them (their copy of the package leaves them out); there ``ImportBlocker``
only turns the failing import into a sentence naming the exercise. ``is_from_reference`` tells
a check cell that a function is the course's own.
"""

import contextlib
import functools
import hashlib
import importlib.util
import sys
import types
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_PRIVATE_PREFIX = "_s2s_reference."


def load_private(module_name: str):
    """Load ``s2s_ref.x.y`` from its file under a private name; the public name stays unimported.

    A reference module that imports another reference module by its public name gets the private
    copy loaded before it (load them in dependency order).
    """
    private = _PRIVATE_PREFIX + module_name
    if private in sys.modules:
        return sys.modules[private]
    path = _reference_path(module_name)
    spec = importlib.util.spec_from_file_location(private, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # dataclasses and pickling look modules up by name
    with _private_copies_standing_in():
        spec.loader.exec_module(module)
    return module


def load_patched(module_name: str, replace: dict[str, str]):
    """A private copy of ``s2s_ref.x.y`` whose source has ``replace`` ({old: new}) applied.

    A typical mistake's simulation: the reference as the learner who made it would have written
    it. Each ``old`` must occur in the module's source. Loaded once per patch.
    """
    path = _reference_path(module_name)
    source = path.read_text()
    for old, new in replace.items():
        if old not in source:
            raise ValueError(f"{module_name} does not contain {old!r}")
        source = source.replace(old, new)
    digest = hashlib.sha256(repr(sorted(replace.items())).encode()).hexdigest()[:16]
    private = f"{_PRIVATE_PREFIX}{module_name}+{digest}"
    if private in sys.modules:
        return sys.modules[private]
    module = types.ModuleType(private)
    module.__file__ = str(path)
    sys.modules[private] = module
    with _private_copies_standing_in():
        exec(compile(source, f"<{module_name} with a mistake>", "exec"), module.__dict__)
    return module


def _reference_path(module_name: str) -> Path:
    if not module_name.startswith("s2s_ref."):
        raise ValueError(f"not a reference module: {module_name}")
    return _PACKAGE_ROOT.joinpath(*module_name.split(".")[1:]).with_suffix(".py")


@contextlib.contextmanager
def _private_copies_standing_in():
    """While inside, ``import s2s_ref.x.y`` finds the private copy of each module loaded so far
    (the public names must stay unimported while a notebook is graded)."""
    stand_ins = [
        name.removeprefix(_PRIVATE_PREFIX)
        for name in list(sys.modules)
        if name.startswith(_PRIVATE_PREFIX) and "+" not in name
    ]
    stand_ins = [name for name in stand_ins if name not in sys.modules]
    for name in stand_ins:
        sys.modules[name] = sys.modules[_PRIVATE_PREFIX + name]
    try:
        yield
    finally:
        for name in stand_ins:
            del sys.modules[name]


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
