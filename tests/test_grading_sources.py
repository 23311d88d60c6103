"""The solution notebooks' graded functions have the reference's source, so that each typical
mistake, written once as a patch, applies both to the reference (the grader's simulation) and to
the solution (the mutation suite). Compared as syntax trees, without docstrings and without input
validation (calls of ``check_shapes``, ``as_float`` and the like, which the exercises leave out, and
``if ...: raise`` statements). The functions whose reference cannot be the solution's code are
listed with the reason; a test checks that the list is exact."""

import ast
import inspect

import nbformat
import pytest

from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise

from .notebook_mutants import ROOT

SPECS = [k for k in EXERCISE_MODULES if get_exercise(k).spec is not None]
VALIDATION = {"check_shapes", "check_cell", "as_float", "_real_rows"}
# {(exercise, function): why its reference is not the solution's code}; their mistakes are
# simulated by small functions (``simulate`` in the exercise's catalogue)
DIFFERENT = {
    **{
        ("ex03", name): "the reference keeps float32 and validates ids and masks"
        for name in ("embedding_forward", "embedding_backward", "softmax_cross_entropy")
    },
    ("ex03", "shift_for_decoder"): "the reference pads with the batching module's pad_batch",
    ("ex03", "encoder_forward"): "the reference validates the mask and keeps float32",
    ("ex03", "encoder_backward"): "the reference's cache holds the lengths and the shape",
    ("ex03", "decoder_forward"): "the reference also does scheduled sampling (its signature)",
    ("ex03", "decoder_backward"): "the reference's cache holds the tokens scheduled sampling fed",
    **{
        ("ex05", f"{kind}_attention_{way}"): "the reference zeroes padded keys and shares "
        "_read/_read_backward between the three scorers"
        for kind in ("dot", "general", "additive")
        for way in ("forward", "backward")
    },
    ("ex04", "greedy_decode"): "the reference validates the model's output at every step",
    ("ex04", "beam_search"): "the reference is batched (its signature: batch_size, reorder)",
}


def _normalised(function: ast.FunctionDef) -> str:
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    body = [node for node in body if not _validates(node)]
    return ast.dump(ast.FunctionDef(function.name, function.args, body, [], None, None))


def _validates(node: ast.stmt) -> bool:
    if isinstance(node, ast.If) and not node.orelse:
        return all(isinstance(child, ast.Raise) for child in node.body)
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
        (expected,) = [
            definitions[name]
            for module in exercise.spec.modules.values()
            if name in (definitions := _definitions(inspect.getsource(module)))
        ]
        assert name in solution, f"{key}: the solution does not define {name}"
        same = _normalised(solution[name]) == _normalised(expected)
        assert same != ((key, name) in DIFFERENT), (
            f"{key}: {name} in solutions/{exercise.notebook} differs from the reference"
            if not same
            else f"{key}: {name} is listed in DIFFERENT but equals the reference: unlist it"
        )
