"""The solution notebooks' graded functions have the reference's source, so that each typical
mistake, written once as a patch, applies both to the reference (the grader's simulation) and to
the solution (the mutation suite). Compared as syntax trees, without docstrings and without the
reference's input validation (``check_shapes`` and ``as_float``, which the exercises leave out)."""

import ast
import inspect

import nbformat
import pytest

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

from .notebook_mutants import ROOT

SPECS = [k for k in EXERCISE_MODULES if get_exercise(k).spec is not None]
VALIDATION = {"check_shapes", "as_float"}


def _normalised(function: ast.FunctionDef) -> str:
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    body = [node for node in body if not _validates(node)]
    return ast.dump(ast.FunctionDef(function.name, function.args, body, [], None, None))


def _validates(node: ast.stmt) -> bool:
    value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in VALIDATION
    )


def _definitions(source: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def test_the_validation_left_out_is_only_validation():
    def checked(x):
        check_shapes("f", x=(x, "N"))  # noqa: F821
        (x,) = as_float("f", x=x)  # noqa: F821
        return x

    tree = _definitions(
        inspect.getsource(checked).replace("    def", "def").replace("\n    ", "\n")
    )
    assert _normalised(tree["checked"]) == _normalised(
        ast.parse("def checked(x):\n return x").body[0]
    )
    assert _normalised(tree["checked"]) != _normalised(
        ast.parse("def checked(x):\n return -x").body[0]
    )


@pytest.mark.parametrize("key", SPECS)
def test_each_graded_function_has_the_reference_source(key):
    exercise = get_exercise(key)
    nb = nbformat.read(str(ROOT / "solutions" / exercise.notebook), as_version=4)
    solution = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            solution |= _definitions(cell.source)
    for name in exercise.functions:
        reference = getattr(exercise.spec.reference, name)
        expected = _definitions(inspect.getsource(inspect.getmodule(reference)))[name]
        assert name in solution, f"{key}: the solution does not define {name}"
        assert _normalised(solution[name]) == _normalised(expected), (
            f"{key}: {name} in solutions/{exercise.notebook} differs from the reference"
        )
