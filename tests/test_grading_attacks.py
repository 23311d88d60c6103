"""Hostile notebooks: no false points, the grader never dies, nothing outside the scratch folder is
touched, no process outlives grading. Each attack replaces ex01's functions with hostile ones
(returning wrong values, so any point they get is a false one) and runs in every sandbox mode
that can hold it."""

import os
import shutil
import socket
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from s2s_ref.grading import sandbox
from s2s_ref.grading.registry import get_exercise
from s2s_ref.grading.runner import grade_notebook

ROOT = Path(__file__).resolve().parents[1]
SIGNATURE = "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
WRONG = "    return np.zeros((x.shape[0], Wx.shape[1])), None\n"

# attacks that must fail in every mode, the plain fallback included
ANY_MODE = {
    "numpy.allclose patched in a class body": "import numpy\nclass X:\n"
    "    numpy.allclose = lambda *a, **k: True\n" + SIGNATURE + WRONG,
    "a profile hook copying arrays": "import sys\nsys.setprofile(lambda *a: None)\n"
    + SIGNATURE
    + WRONG,
    "an object whose __array__ reads the caller's frames": "import sys\nclass Spy:\n"
    "    def __array__(self, dtype=None, copy=None):\n"
    "        f = sys._getframe(1)\n"
    "        while f is not None and 'expected' not in f.f_locals:\n"
    "            f = f.f_back\n"
    "        return np.asarray(f.f_locals['expected'] if f else 0.0)\n"
    + SIGNATURE
    + "    return Spy(), None\n",
    "forged messages on every file descriptor": "import os\n"
    + SIGNATURE
    + "    for fd in range(3, 40):\n"
    "        try:\n            os.write(fd, b'\\x00' * 8 + b'{\"ok\": true}')\n"
    "        except OSError:\n            pass\n" + WRONG,
    "patching the grading module": "import importlib\n"
    + SIGNATURE
    + "    try:\n        m = importlib.import_module('s2s_ref.grading.feedback')\n"
    "        m.check_array = lambda *a, **k: None\n    except Exception:\n        pass\n" + WRONG,
    "importing the reference module": "from s2s_ref.numpy_nn.rnn import rnn_step_forward\n",
    "loading the reference by its file": "import importlib.util, s2s_ref, os\n"
    "p = os.path.join(os.path.dirname(s2s_ref.__file__), 'numpy_nn', 'rnn.py')\n"
    "spec = importlib.util.spec_from_file_location('r', p)\nm = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(m)\nrnn_step_forward = m.rnn_step_forward\n",
    "sys.exit in the function": "import sys\n" + SIGNATURE + "    sys.exit(0)\n",
    "os._exit in the function": "import os\n" + SIGNATURE + "    os._exit(0)\n",
    "a segmentation fault": "import ctypes\n" + SIGNATURE + "    ctypes.string_at(0)\n",
    "an object that equals everything": "class Eq:\n    def __eq__(self, o): return True\n"
    "    def __float__(self): return 0.0\n" + SIGNATURE + "    return Eq(), None\n",
    "an object array": SIGNATURE + "    return np.array([object()] * 4), None\n",
    "a string for an array": SIGNATURE + "    return 'h_next', None\n",
    "GeneratorExit at load": "class G:\n    raise GeneratorExit\n" + SIGNATURE + WRONG,
    "a lone surrogate in a cell": "s = '\\ud800'\n" + SIGNATURE + WRONG,
    "a 50 GB allocation": SIGNATURE + "    return np.ones((50, 2**30)), None\n",
    "a huge exception message": SIGNATURE + "    raise ValueError('x' * 10**7)\n",
    "KeyboardInterrupt from the function": SIGNATURE + "    raise KeyboardInterrupt\n",
    "an alarm disarmed": "import signal\n"
    + SIGNATURE
    + "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
    + WRONG,
    "a recursion bomb": SIGNATURE + "    return rnn_step_forward(x, h_prev, Wx, Wh, b)\n",
    "threads left running": "import threading, time\n"
    + SIGNATURE
    + "    threading.Thread(target=time.sleep, args=(1000,), daemon=False).start()\n"
    + WRONG,
    "writing into its own notebook copy": SIGNATURE
    + "    import glob\n    for p in glob.glob('/submission/*') + glob.glob('../submission/*'):\n"
    "        try:\n            open(p, 'w').write('{}')\n        except OSError:\n            pass\n"
    + WRONG,
}

# attacks only a namespace sandbox (bwrap, unshare) holds
SANDBOXED = {
    "os.kill of the grader": "import os\n" + SIGNATURE + "    os.kill(os.getppid(), 9)\n"
    "    os.kill(1, 9)\n" + WRONG,
    "pidfd_send_signal to the grader": "import os, signal\n"
    + SIGNATURE
    + "    signal.pidfd_send_signal(os.pidfd_open(os.getppid()), 9)\n"
    + WRONG,
    "the kill syscall through ctypes": "import ctypes, os\n"
    + SIGNATURE
    + "    ctypes.CDLL(None).syscall(62, os.getppid(), 9)\n"
    + WRONG,
    "killing every process": "import os\n" + SIGNATURE + "    os.kill(-1, 9)\n" + WRONG,
}


def _notebook(tmp_path: Path, cell: str, name="ex01_rnn.ipynb") -> Path:
    nb = nbformat.read(str(ROOT / "exercises" / "ex01_rnn.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(cell))
    folder = tmp_path / "learner"
    folder.mkdir(exist_ok=True)
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def _modes():
    found = ["none"]
    for name in ("bwrap", "unshare"):
        if shutil.which(name):
            found.append(name)
    if "unshare" in found:
        found.append("unshare-as-root")
    return found


@pytest.fixture(params=_modes())
def mode(request, monkeypatch):
    """The sandbox mode; ``unshare-as-root`` is ``unshare`` with a worker that keeps root's uid,
    as when the grader runs as root from a venv in a private folder (CI's ``mktemp -d``)."""
    name = request.param.removesuffix("-as-root")
    monkeypatch.setenv("S2S_GRADER_SANDBOX", name)
    if name != "none" and not sandbox._works(name):
        pytest.skip(f"{name} cannot make namespaces here")
    if request.param.endswith("-as-root"):
        if os.geteuid() != 0:
            pytest.skip("only a grader running as root has a worker that may keep root's uid")
        monkeypatch.setattr(sandbox, "_nobody_can_run", lambda view: False)
    return name


def _grade(path):
    result = grade_notebook(path, "ex01", timeout=5)
    return result, {t.name.split(":")[0]: t for t in result.tests}


@pytest.mark.parametrize("attack", sorted(ANY_MODE))
def test_attack_gets_no_false_points(attack, mode, tmp_path):
    result, _ = _grade(_notebook(tmp_path, ANY_MODE[attack]))
    assert result.score == 0, (attack, [(t.name, t.feedback) for t in result.tests])
    assert all(t.feedback.strip() for t in result.tests)  # every lost point says why


@pytest.mark.parametrize("attack", sorted(SANDBOXED))
def test_signalling_attacks_reach_nothing_outside(attack, mode, tmp_path):
    if mode == "none":
        pytest.skip("the plain fallback does not stop signals (the instructors' guide says so)")
    result, tests = _grade(_notebook(tmp_path, SANDBOXED[attack]))
    assert result.score == 0
    assert tests["rnn_step_forward"].feedback  # the grader is alive and explains


def _sandbox_cell(body: str) -> str:
    return "import os, socket, subprocess\n" + SIGNATURE + textwrap.indent(body, "    ") + WRONG


def test_the_sandbox_holds_files_processes_and_network(mode, tmp_path):
    if mode == "none":
        pytest.skip("the plain fallback sees the grader's files and network")
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    grader_file = ROOT / "s2s_ref" / "grading" / "feedback.py"
    before = grader_file.read_bytes()
    solutions = ROOT / "solutions"
    body = f"""
import ctypes
libc = ctypes.CDLL(None)
libc.umount2({str(solutions).encode()!r}, 2)  # MNT_DETACH: uncover the answers
libc.mount(None, b'/', None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND: writable again
for target in [{str(outside)!r}, {str(grader_file)!r}]:
    try:
        open(target, 'a').write('pwned')
    except OSError:
        pass
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=1)
except OSError:
    pass
subprocess.Popen(['sleep', '1000.4242'])
if os.fork() == 0:
    os.setsid()
    os.execvp('sleep', ['sleep', '1000.4243'])
if os.path.exists({str(solutions / "ex01_rnn.ipynb")!r}):
    raise SystemExit('solutions/ is visible')
"""
    result, tests = _grade(_notebook(tmp_path, _sandbox_cell(body)))
    assert result.score == 0
    assert outside.read_text() == "untouched"
    assert grader_file.read_bytes() == before
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()
    assert "solutions/ is visible" not in tests["rnn_step_forward"].feedback
    time.sleep(0.5)
    survivors = [
        p.name for p in Path("/proc").iterdir() if p.name.isdigit() and b"1000.424" in _cmdline(p)
    ]
    assert survivors == []


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_reading_the_solutions_gives_nothing(mode, tmp_path):
    if mode == "none":
        pytest.skip("the plain fallback sees the grader's files")
    cell = (
        "import nbformat\n"
        f"_nb = nbformat.read({str(ROOT / 'solutions' / 'ex01_rnn.ipynb')!r}, as_version=4)\n"
        "for _c in _nb.cells:\n    if _c.cell_type == 'code' and 'def ' in _c.source:\n"
        "        exec(_c.source)\n"
    )
    result, _ = _grade(_notebook(tmp_path, cell))
    assert result.score == 0


def test_writing_into_an_argument_costs_one_point_and_is_named(tmp_path):
    solution = nbformat.read(str(ROOT / "solutions" / "ex01_rnn.ipynb"), as_version=4)
    for cell in solution.cells:
        cell.source = cell.source.replace(
            "da = dh_next * (1 - h_next**2)", "da = dh_next\n    da *= 1 - h_next**2"
        )
    path = tmp_path / "ex01_rnn.ipynb"
    nbformat.write(solution, str(path))
    result, tests = _grade(path)
    step = tests["rnn_step_backward"]
    assert step.max_points - step.points == 1
    assert "`rnn_step_backward` writes into its argument `dh_next`" in step.feedback
    assert result.score == result.max_score - 1


def test_a_cell_that_does_not_parse_is_named_in_its_functions_tests(tmp_path):
    cell = "def rnn_forward(x, h0, Wx, Wh, b):\n    return (\n"
    _, tests = _grade(_notebook(tmp_path, cell))
    assert "code cell" in tests["rnn_forward"].feedback
    assert "starting `def rnn_forward(x, h0, Wx, Wh, b):`" in tests["rnn_forward"].feedback


def test_a_def_inside_if_true_is_explained(tmp_path):
    ns = "if True:\n    def rnn_step_backward(dh_next, cache):\n        return None\n"
    path = _notebook(tmp_path, ns)
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:  # the stub's own definition goes, so only the nested one is left
        if cell.source.startswith("def rnn_step_backward"):
            cell.source = ""
    nbformat.write(nb, str(path))
    _, tests = _grade(path)
    assert "inside a `if` block" in tests["rnn_step_backward"].feedback


def test_forcing_an_unknown_sandbox_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("S2S_GRADER_SANDBOX", "chroot")
    with pytest.raises(sandbox.SandboxError, match="expected one of"):
        sandbox.mode()


def test_the_worker_sees_no_course_files_in_bwrap(monkeypatch, tmp_path):
    if not shutil.which("bwrap") or not sandbox._works("bwrap"):
        pytest.skip("no bubblewrap here")
    monkeypatch.setenv("S2S_GRADER_SANDBOX", "bwrap")
    cell = (
        SIGNATURE + "    import os\n    raise ValueError(repr(sorted(os.listdir('/'))) + "
        f"str(os.path.exists({str(ROOT)!r})) + str(os.getuid()))\n"
    )
    _, tests = _grade(_notebook(tmp_path, cell))
    feedback = tests["rnn_step_forward"].feedback
    assert "False65534" in feedback and "'scratch'" in feedback
    assert os.path.exists(ROOT)


@pytest.mark.parametrize(
    "key, module",
    [("ex05", "s2s_ref.torch_nn.attention"), ("ex03", "s2s_ref.torch_nn.loss")],
)
def test_the_torch_twins_of_the_reference_are_not_importable(key, module, tmp_path):
    exercise = get_exercise(key)
    nb = nbformat.read(str(ROOT / "exercises" / exercise.notebook), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import {module}"))
    path = tmp_path / exercise.notebook
    nbformat.write(nb, str(path))
    result = grade_notebook(path, key, timeout=5)
    assert any(f"{module} holds the reference solution of {key}" in p for p in result.problems)
