"""The grader survives broken, hostile and borrowing notebooks, and its command keeps its contract."""

import json
import subprocess
import sys

import nbformat
import pytest

from s2s_ref.grading.loader import load_notebook
from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, cell_number, mutant, notebook_with_cells

SOLUTION = "ex01_rnn.ipynb"


def _feedback(result, function):
    return " | ".join(t.feedback for t in result.tests if t.name.startswith(function))


def test_loader_runs_only_imports_defs_classes_and_constants(tmp_path):
    path = notebook_with_cells(
        "ex01_x.ipynb",
        [
            "import math\nSIZE = 3\nSCALE = -2 * 1e-3\nNAMES = ('a', 'b')\nDTYPE = math.pi",
            "def f():\n    return SIZE\nclass C:\n    pass",
            "print('training!')\nraise SystemExit\nopen('x', 'w')",  # never runs
            "%matplotlib inline\n!pip install nothing\ndef g():\n    return 2",
            "RESULT = f()  # a call: not a constant, not run",
            "def f():\n    return 'redefined'",
        ],
        tmp_path,
    )
    loaded = load_notebook(path)
    ns = loaded.namespace
    assert ns["SIZE"] == 3 and ns["SCALE"] == -2e-3 and ns["NAMES"] == ("a", "b")
    assert ns["g"]() == 2 and ns["f"]() == "redefined"  # the last definition wins, as in Jupyter
    assert "RESULT" not in ns and "C" in ns
    assert loaded.problems == []


def test_syntax_error_cell_is_reported_and_the_rest_graded(tmp_path):
    path = mutant(SOLUTION, {}, tmp_path, extra_cells=["def broken(:\n    pass"])
    n_cells = len(nbformat.read(str(path), as_version=4).cells)
    result = grade_notebook(path, "ex01")
    assert result.score == result.max_score
    assert any(
        f"(cell {n_cells})" in p and "does not parse" in p and "SyntaxError" in p
        for p in result.problems
    ), result.problems


def test_importing_the_reference_is_blocked_and_scores_zero(tmp_path):
    path = notebook_with_cells(
        SOLUTION,
        [
            "from s2s_ref.numpy_nn.rnn import rnn_step_forward, rnn_step_backward",
            "import s2s_ref.numpy_nn.rnn as rnn\nrnn_forward = rnn.rnn_forward",
        ],
        tmp_path,
    )
    result = grade_notebook(path, "ex01")
    assert result.score == 0
    assert any("holds the reference solution of ex01" in p for p in result.problems)


def test_the_reference_file_is_not_in_the_worker(tmp_path):
    rnn_file = ROOT / "s2s_ref" / "numpy_nn" / "rnn.py"
    path = mutant(
        SOLUTION,
        {
            "    ### BEGIN SOLUTION\n    h_next = np.tanh": f"    ### BEGIN SOLUTION\n    import runpy\n    return runpy.run_path({str(rnn_file)!r})['rnn_step_forward'](x, h_prev, Wx, Wh, b)\n    h_next = np.tanh"
        },
        tmp_path,
    )
    feedback = _feedback(grade_notebook(path, "ex01"), "rnn_step_forward")
    assert "FileNotFoundError" in feedback or "PermissionError" in feedback, feedback


def test_thin_wrapper_around_a_smuggled_reference_scores_zero(tmp_path):
    """The worker holds no reference function to find: the search itself fails."""
    smuggle = (
        "    import gc, types\n"
        "    ref = next(f for f in gc.get_objects() if isinstance(f, types.FunctionType) and f.__qualname__ == 'rnn_step_forward' and f.__module__.startswith('_s2s'))\n"
        "    return ref(x, h_prev, Wx, Wh, b)\n"
    )
    path = mutant(
        SOLUTION,
        {
            "    ### BEGIN SOLUTION\n    h_next = np.tanh": f"    ### BEGIN SOLUTION\n{smuggle}    h_next = np.tanh"
        },
        tmp_path,
    )
    result = grade_notebook(path, "ex01")
    feedback = _feedback(result, "rnn_step_forward")
    assert "StopIteration" in feedback, feedback
    assert result.tests[0].points == 0


@pytest.mark.parametrize(
    "body, phrase",
    [
        ("    while True:\n        pass", "timed out"),
        ("    import sys\n    sys.exit(3)", "SystemExit"),
        ("    import os\n    os._exit(7)", "exit status 7"),
        ("    import ctypes\n    ctypes.string_at(0)", "signal"),
    ],
    ids=["endless loop", "sys.exit", "os._exit", "segfault"],
)
def test_hostile_forward_costs_its_tests_not_the_run(body, phrase, tmp_path):
    path = mutant(
        SOLUTION,
        {
            "    ### BEGIN SOLUTION\n    h_next = np.tanh": f"    ### BEGIN SOLUTION\n{body}\n    h_next = np.tanh"
        },
        tmp_path,
    )
    result = grade_notebook(path, "ex01", timeout=3)
    forward = next(t for t in result.tests if t.name.startswith("rnn_step_forward"))
    assert not forward.passed and phrase in forward.feedback, forward.feedback
    # the later tests were graded by a fresh worker: each one passed or says why not
    assert all(t.passed or t.feedback.strip() for t in result.tests[1:])


def test_not_a_notebook_gives_a_clear_result(tmp_path):
    path = tmp_path / SOLUTION
    path.write_text("this is not json {")
    result = grade_notebook(path, "ex01")
    assert result.score == 0
    assert all("not a notebook" in t.feedback for t in result.tests)


def _grade_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "s2s_ref.grade", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip


def test_cli_writes_the_gradebook_contract(tmp_path):
    out_json, out_csv = tmp_path / "g.json", tmp_path / "g.csv"
    proc = _grade_cli(
        ROOT / "solutions" / SOLUTION,
        ROOT / "exercises" / SOLUTION,
        "--json",
        out_json,
        "--csv",
        out_csv,
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Total: 12/24" in proc.stdout
    book = json.loads(out_json.read_text())
    assert book["total"] == 12 and book["max_total"] == 24
    assert [e["exercise"] for e in book["exercises"]] == ["ex01", "ex01"]
    for e in book["exercises"]:
        assert set(e) >= {"exercise", "notebook", "score", "max_score", "tests"}
        for t in e["tests"]:
            assert set(t) >= {"name", "points", "max_points", "passed", "feedback"}
    assert out_csv.read_text().count("\n") == 1 + 10


@pytest.mark.parametrize(
    "args, message",
    [
        (["no/such/file.ipynb"], "does not exist"),
        (["pyproject.toml"], "not an exercise notebook"),
        (["--jobs", "0"], "--jobs"),
        *[(["solutions/ex01_rnn.ipynb", "--timeout", t], "--timeout") for t in ("nan", "inf", "0", "-1")],
        *[(["solutions/ex01_rnn.ipynb", "--memory-gb", m], "--memory-gb") for m in ("nan", "inf", "1e-300")],
        (["solutions/ex01_rnn.ipynb", "--json", "solutions/ex01_rnn.ipynb"], "refusing to overwrite the input"),
        (["solutions/ex01_rnn.ipynb", "--csv", "solutions/ex01_rnn.ipynb"], "refusing to overwrite the input"),
        (["solutions/ex01_rnn.ipynb", "--json", "g.txt", "--csv", "g.txt"], "name the same file"),
        (["solutions/ex01_rnn.ipynb", "--json", "no/such/folder/g.json"], "does not exist"),
        (["solutions/ex01_rnn.ipynb", "--exercise", "ex02"], "is a notebook of ex01"),
    ],
)  # fmt: skip
def test_cli_bad_arguments_exit_2_with_a_sentence(args, message):
    proc = _grade_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_cell_that_ipythons_tokenizer_rejects_is_named_and_the_rest_loaded(tmp_path, monkeypatch):
    """IPython's input transformer may raise what is not a SyntaxError (tokenize.TokenError on
    some versions): the cell is reported like any cell that does not parse."""
    import tokenize

    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager.transform_cell

    def rejecting(self, cell):
        if "REJECTED" in cell:
            raise tokenize.TokenError("EOF in multi-line statement", (2, 0))
        return transform(self, cell)

    monkeypatch.setattr(TransformerManager, "transform_cell", rejecting)
    path = notebook_with_cells(
        "ex01_x.ipynb",
        ["def kept():\n    return 1", "def lost(x):  # REJECTED\n    return (x", "SIZE = 2"],
        tmp_path,
    )
    loaded = load_notebook(path)
    assert loaded.namespace["kept"]() == 1 and loaded.namespace["SIZE"] == 2
    assert loaded.problems == [
        "code cell 2 (cell 2), starting `def lost(x):  # REJECTED` does not parse and was "
        "skipped: TokenError: EOF in multi-line statement (line 2)"
    ]
    assert "code cell 2 (cell 2)" in loaded.broken["lost"]


@pytest.mark.parametrize(
    "bad",
    ["    h_prev = h0\n  stray = 1\n", "    h_prev = h0\n    pairs = [(1, 2)\n"],
    ids=["IndentationError", "unbalanced bracket"],
)
def test_a_graded_cell_that_does_not_tokenize_costs_only_its_functions(bad, tmp_path):
    path = mutant(SOLUTION, {"    h_prev = h0\n": bad}, tmp_path)
    cells = [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]
    code = next(i for i, c in enumerate(cells, 1) if "def rnn_forward" in c.source)
    result = grade_notebook(path, "ex01")
    where = f"code cell {code} (cell {cell_number(SOLUTION, 'def rnn_forward')}), starting `def rnn_forward("
    for t in result.tests:
        if t.name.startswith(("rnn_forward", "rnn_backward")):
            assert t.points == 0 and where in t.feedback, t.feedback
        else:
            assert t.passed, t.feedback
    assert any(where in p and "does not parse" in p for p in result.problems), result.problems
