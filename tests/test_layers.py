"""The package's floors (s2s_ref/__init__.py): imports run one way, read from the source."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "s2s_ref"
GROUND = {
    "atomic",
    "shapes",
    "gradcheck",
    "metrics",
    "teacher_forcing",
    "decoding",
    "data",
    "diagrams",
    "diagrams_gated",
}
FLOOR = {**dict.fromkeys(GROUND, 0), "numpy_nn": 1, "torch_nn": 1, "grading": 2}
TOP = 3  # grade, classroom, checks, make_exercises, bench, experiments


def _floor(part: str) -> int:
    return FLOOR.get(part, TOP)


def _imports(path: Path):
    """Every s2s_ref submodule (first component under s2s_ref) and top-level package imported."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_never_go_up_a_floor(path):
    part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    own = _floor(part)
    for name in _imports(path):
        top = name.split(".")[0]
        if part == "numpy_nn":
            assert top != "torch", f"{path.name}: numpy_nn never imports torch"
        if part == "torch_nn":
            assert not name.startswith("s2s_ref.numpy_nn"), (
                f"{path.name}: torch_nn imports numpy_nn"
            )
        if top == "s2s_ref" and "." in name:
            target = name.split(".")[1]
            assert _floor(target) <= own or target == part, (
                f"{path.relative_to(PACKAGE)} (floor {own}) imports {name} (floor {_floor(target)})"
            )
