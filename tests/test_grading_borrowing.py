"""No borrowing: while an exercise is graded, every route to its reference functions that we know
of scores 0 (the worker's copy of the package does not hold them; an import says why), and
earlier chapters' modules stay importable."""

import functools
import py_compile
import subprocess
import sys
import textwrap
from importlib.util import cache_from_source

import pytest

from s2s_ref.grading.reference import is_from_reference, load_private
from s2s_ref.grading.registry import EXERCISE_MODULES, get_exercise
from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, cell_number, mutant, notebook_with_cells

SOLUTION = "ex01_rnn.ipynb"
FIRST = "    ### BEGIN SOLUTION\n    h_next = np.tanh"
RNN_FILE = ROOT / "s2s_ref" / "numpy_nn" / "rnn.py"
ARGS = "(x, h_prev, Wx, Wh, b)"
BLOCKED = "holds the reference solution of ex01"
IS_REFERENCE = "is the course's reference implementation"

# Each route is code put at the top of rnn_step_forward's body, and a phrase its feedback must hold.
ROUTES = {
    "importlib.import_module": (f"    import importlib\n    return importlib.import_module('s2s_ref.numpy_nn.rnn').rnn_step_forward{ARGS}", BLOCKED),
    "__import__": (f"    return __import__('s2s_ref.numpy_nn.rnn', fromlist=['x']).rnn_step_forward{ARGS}", BLOCKED),
    "from s2s_ref.numpy_nn import rnn": (f"    from s2s_ref.numpy_nn import rnn\n    return rnn.rnn_step_forward{ARGS}", BLOCKED),
    "sys.modules by private name": (f"    import sys\n    return sys.modules['_s2s_reference.s2s_ref.numpy_nn.rnn'].rnn_step_forward{ARGS}", None),
    "sys.modules scan": (f"    import sys\n    m = next(m for n, m in list(sys.modules.items()) if n.endswith('numpy_nn.rnn'))\n    return m.rnn_step_forward{ARGS}", None),
    "the grading module's ref": (f"    from s2s_ref.grading import ex01\n    return ex01.ref.rnn_step_forward{ARGS}", None),
    "functools.partial of the reference": ("    import functools, sys\n    f = sys.modules['_s2s_reference.s2s_ref.numpy_nn.rnn'].rnn_step_forward\n    return functools.partial(f, x)(h_prev, Wx, Wh, b)", None),
    "exec of the reference's code object": (f"    import sys, types\n    f = sys.modules['_s2s_reference.s2s_ref.numpy_nn.rnn'].rnn_step_forward\n    return types.FunctionType(f.__code__, f.__globals__){ARGS}", None),
    "spec_from_file_location": (f"    import importlib.util\n    spec = importlib.util.spec_from_file_location('mine', {str(RNN_FILE)!r})\n    m = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(m)\n    return m.rnn_step_forward{ARGS}", None),
    "open with a bytes path": (f"    exec(open({bytes(RNN_FILE)!r}).read())", None),
    "open through a symlink": (f"    import os\n    os.symlink({str(RNN_FILE)!r}, 'copy.py')\n    exec(open('copy.py').read())", None),
    "inspect.getsource": ("    import inspect, sys\n    exec(inspect.getsource(sys.modules['_s2s_reference.s2s_ref.numpy_nn.rnn']))", None),
}  # fmt: skip


@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_every_route_to_the_reference_scores_zero(route, tmp_path):
    body, phrase = ROUTES[route]
    path = mutant(SOLUTION, {FIRST: FIRST.replace("SOLUTION\n", f"SOLUTION\n{body}\n")}, tmp_path)
    result = grade_notebook(path, "ex01")
    forward = next(t for t in result.tests if t.name.startswith("rnn_step_forward"))
    assert not forward.passed and forward.points == 0, forward.feedback
    assert phrase is None or phrase in forward.feedback, forward.feedback


def test_the_compiled_reference_is_not_there_either(tmp_path):
    pyc = cache_from_source(str(RNN_FILE))
    py_compile.compile(str(RNN_FILE), cfile=pyc)  # what any earlier import may have left there
    body = f"    import marshal\n    exec(marshal.loads(open({pyc!r}, 'rb').read()[16:]))"
    path = mutant(SOLUTION, {FIRST: FIRST.replace("SOLUTION\n", f"SOLUTION\n{body}\n")}, tmp_path)
    forward = grade_notebook(path, "ex01").tests[0]
    assert not forward.passed and "FileNotFoundError" in forward.feedback, forward.feedback


def test_the_grading_modules_are_not_in_the_worker(tmp_path):
    path = notebook_with_cells(
        SOLUTION,
        [
            "import sys\nfrom s2s_ref.grading import ex01",
            "rnn_step_forward = ex01.ref.rnn_step_forward",
        ],
        tmp_path,
    )
    result = grade_notebook(path, "ex01")
    assert any("ImportError" in p and "ex01" in p for p in result.problems), result.problems
    assert result.score == 0


def test_is_from_reference_sees_through_partials_methods_and_subclasses():
    ref = load_private("s2s_ref.numpy_nn.rnn")
    from s2s_ref.shapes import ShapeError

    class Mine(ShapeError):
        pass

    class Own:
        def method(self):
            pass

    assert is_from_reference(ref.rnn_forward)
    assert is_from_reference(functools.partial(ref.rnn_forward, 1))
    assert is_from_reference(Mine) and is_from_reference(ShapeError)
    assert not is_from_reference(Own) and not is_from_reference(Own().method)
    assert not is_from_reference(print) and not is_from_reference(lambda: 0)


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT
    )


def test_while_ex02_is_graded_ex01s_module_stays_importable():
    """The blocker hides only the exercise's own modules: chapter 1's RNN is allowed for ex02."""
    proc = _run(
        """
        from s2s_ref.grading.reference import ImportBlocker
        ImportBlocker("ex02", ("s2s_ref.numpy_nn.lstm", "s2s_ref.numpy_nn.gru")).install()
        from s2s_ref.numpy_nn import rnn
        from s2s_ref.numpy_nn.rnn import rnn_forward
        try:
            import s2s_ref.numpy_nn.lstm
        except ImportError as exc:
            print("blocked:", exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "blocked: s2s_ref.numpy_nn.lstm holds the reference solution of ex02" in proc.stdout


@pytest.mark.parametrize("key", EXERCISE_MODULES)
def test_modules_of_earlier_exercises_are_importable_while_this_one_is_graded(key):
    """Each earlier exercise's module imports, unless it uses this exercise's answer itself (as
    s2s_ref.numpy_nn.training uses the decoding of ex04): then the error names that module."""
    exercise = get_exercise(key)
    earlier = EXERCISE_MODULES[: EXERCISE_MODULES.index(key)]
    allowed = [m for k in earlier for m in get_exercise(k).hidden_modules]
    allowed = [m for m in allowed if m not in exercise.hidden_modules]
    proc = _run(
        f"""
        import importlib
        from s2s_ref.grading.reference import ImportBlocker
        hidden = {exercise.hidden_modules!r}
        ImportBlocker({key!r}, hidden).install()
        for name in {allowed!r}:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                assert any(h in str(exc) for h in hidden), (name, exc)
                print("depends on this exercise:", name)
        """
    )
    assert proc.returncode == 0, proc.stderr


def test_cells_reaching_into_the_grader_are_noted_for_the_instructor(tmp_path):
    body = "    import gc, sys\n    f = sys.modules['numpy'].tanh\n    g = f.__code__ if hasattr(f, '__code__') else None"
    path = mutant(SOLUTION, {FIRST: FIRST.replace("SOLUTION\n", f"SOLUTION\n{body}\n")}, tmp_path)
    result = grade_notebook(path, "ex01")
    assert result.score == result.max_score  # a note, not a penalty
    assert any(
        f"cell {cell_number(SOLUTION, 'def rnn_step_forward')} uses `f.__code__`, `gc`, `sys.modules`"
        in p
        for p in result.problems
    ), result.problems
    clean = grade_notebook(ROOT / "solutions" / SOLUTION, "ex01")
    assert clean.problems == []
