"""Broken notebooks: each gives a clear result, and whatever can be graded still is."""

import json

import nbformat
import numpy as np
import pytest

from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, cell_number, mutant

FORWARD_CELL = cell_number(
    "ex01_rnn.ipynb", "def rnn_step_forward"
)  # where the mutants put their bug

NAME = "ex01_rnn.ipynb"
FORWARD_BODY = (
    "    h_next = np.tanh(x @ Wx + h_prev @ Wh + b)\n    cache = (x, h_prev, Wx, Wh, h_next)"
)


def _file(content: bytes):
    def make(tmp_path):
        path = tmp_path / NAME
        path.write_bytes(content)
        return path

    return make


def _mutant(replacements=None, extra_cells=()):
    return lambda tmp_path: mutant(NAME, replacements or {}, tmp_path, extra_cells)


def _edited(edit):
    """The solution notebook, changed by ``edit(nb)`` (a function of the nbformat object)."""

    def make(tmp_path):
        nb = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
        edit(nb)
        path = tmp_path / NAME
        nbformat.write(nb, str(path))
        return path

    return make


def _v3(tmp_path):
    nb = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    path = tmp_path / NAME
    path.write_text(nbformat.writes(nbformat.convert(nb, 3), version=3))
    return path


def _huge_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)]


def _markdown_only(nb):
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown"]


def _every_test(phrase):
    return lambda r: r.score == 0 and all(phrase in t.feedback for t in r.tests)


def _full_marks(problem=None):
    def check(r):
        assert r.score == r.max_score, [t.feedback for t in r.tests if not t.passed]
        if problem is None:
            assert r.problems == [], r.problems
        else:
            assert any(problem in p for p in r.problems), r.problems
        return True

    return check


def _forward_says(phrase):
    def check(r):
        forward = next(t for t in r.tests if t.name.startswith("rnn_step_forward"))
        assert not forward.passed and phrase in forward.feedback, forward.feedback
        return True

    return check


def _function_says(function, phrase):
    def check(r):
        lost = [t.feedback for t in r.tests if t.name.startswith(function) and not t.passed]
        assert any(phrase in f for f in lost), (lost, r.problems)
        return True

    return check


CASES = {
    "not JSON": (_file(b"this is not json {"), _every_test("not a notebook (not valid JSON")),
    "a binary file named .ipynb": (_file(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"), _every_test("not a notebook")),
    "an empty file": (_file(b""), _every_test("not a notebook")),
    "JSON that is not a notebook": (_file(json.dumps({"cells": 5}).encode()), _every_test("not a readable notebook")),
    "a missing file": (lambda tmp_path: tmp_path / NAME, _every_test("no such file")),
    "an old notebook (nbformat v3)": (_v3, _full_marks()),
    "a cell that does not parse": (_mutant(extra_cells=["def broken(:\n    pass"]), _full_marks("does not parse and was skipped: SyntaxError")),
    "IPython magics and shell lines": (
        _mutant({"import numpy as np": "%matplotlib inline\n!pip install numpy\n%load_ext autoreload\nimport numpy as np"},
                extra_cells=["%%bash\necho hello", "%timeit sum(range(10))"]),
        _full_marks(),
    ),
    "a %%time cell around a function": (
        _mutant({"def rnn_step_forward(": "%%time\ndef rnn_step_forward("}), _full_marks()
    ),
    "a function defined twice (the last wins, as in Jupyter)": (
        _mutant(extra_cells=["def rnn_step_forward(x, h_prev, Wx, Wh, b):\n    return x, None"]),
        _function_says("rnn_step_forward", "h_next has shape (3, 4), expected (N, H) = (3, 5)"),
    ),
    "a wrong definition fixed by a later cell": (
        _mutant({"h_next = np.tanh(x @ Wx + h_prev @ Wh + b)": "h_next = np.tanh(x @ Wx + h_prev @ Wh)"},
                extra_cells=["def rnn_step_forward(x, h_prev, Wx, Wh, b):\n    h_next = np.tanh(x @ Wx + h_prev @ Wh + b)\n    return h_next, (x, h_prev, Wx, Wh, h_next)"]),
        _full_marks(),
    ),
    "enormous saved outputs": (_edited(_huge_outputs), _full_marks()),
    "no code cells": (_edited(_markdown_only), lambda r: r.score == 0 and "no code" in r.problems[0] and "is not defined in your notebook" in r.tests[0].feedback),
    "the wrong signature": (
        _mutant({"def rnn_step_forward(x, h_prev, Wx, Wh, b):": "def rnn_step_forward(x, h_prev, Wx, Wh):"}),
        _forward_says("cannot be called as the exercise specifies"),
    ),
    "returns None": (
        _mutant({"    ### END SOLUTION\n    return h_next, cache": "    ### END SOLUTION"}),
        _forward_says("returned None, expected a tuple (h_next, cache): did you forget a `return`?"),
    ),
    "returns a list instead of a tuple (accepted)": (
        _mutant({"    return h_next, cache": "    return [h_next, cache]"}), _full_marks()
    ),
    "returns a single array instead of a tuple": (
        _mutant({"    return h_next, cache": "    return h_next"}),
        _forward_says("should return a tuple (h_next, cache), got ndarray"),
    ),
    "returns float16 arrays": (
        _mutant({"    return dx, dh_prev, dWx, dWh, db": "    return tuple(g.astype(np.float16) for g in (dx, dh_prev, dWx, dWh, db))"}),
        _function_says("rnn_step_backward", "has dtype float16: the inputs are float64"),
    ),
    "returns an integer array": (
        _mutant({"dtype=np.result_type(x, h0, Wx)": "dtype=int"}),
        _function_says("rnn_forward", "has integer dtype int64, so its values were truncated"),
    ),
    "an import that fails": (_mutant(extra_cells=["import not_a_real_module"]), _full_marks("ModuleNotFoundError: No module named 'not_a_real_module'")),
    "a decorator that exits at load time": (
        _mutant(extra_cells=["import sys\n@sys.exit\ndef helper():\n    pass"]), _full_marks("SystemExit")
    ),
    "a try/except import block": (
        _mutant({"import numpy as np": "try:\n    import numpy as np\nexcept ImportError:\n    np = None"}), _full_marks()
    ),
    "a function using a variable computed in another cell": (
        _mutant({FORWARD_BODY: "    h_next = np.tanh(x @ Wx + h_prev @ Wh + b) * SCALE\n    cache = (x, h_prev, Wx, Wh, h_next)"},
                extra_cells=["SCALE = float(np.ones(1)[0])"]),
        _forward_says(f"NameError: name 'SCALE' is not defined (cell {FORWARD_CELL}, line 4: `h_next = np.tanh(x @ Wx + h_prev @ Wh + b) * SCALE`). Only imports"),
    ),
    "a graded name that is not a function": (_mutant(extra_cells=["rnn_forward = 3"]), _function_says("rnn_forward", "should be a function, got int")),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_notebook_gives_a_clear_result(case, tmp_path):
    make, check = CASES[case]
    result = grade_notebook(make(tmp_path), "ex01")
    assert all(t.passed or t.feedback.strip() for t in result.tests)  # each failure explained
    assert check(result), (result.problems, [t.feedback for t in result.tests])


def test_values_off_because_of_their_dtype_are_named():
    from s2s_ref.grading.feedback import Feedback, check_array

    expected = np.random.default_rng(0).normal(size=(3, 4))
    with pytest.raises(Feedback, match="dtype float32: its values are right to float32 precision"):
        check_array("dWh", expected.astype(np.float32) + np.float32(1e-5), expected)
    with pytest.raises(Feedback, match="integer dtype int64, so its values were truncated"):
        check_array("dWh", expected.astype(np.int64), expected)
    check_array("dWh", expected.tolist(), expected)  # a nested list with the right values passes
