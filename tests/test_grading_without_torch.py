"""Without PyTorch: the NumPy exercises' check cells still work, and grading a PyTorch exercise
says what to install (exit 2), never a traceback. torch is hidden by ``sys.modules['torch'] = None``,
which makes every ``import torch`` fail as on a machine without it."""

import subprocess
import sys

from .notebook_mutants import ROOT

HIDE_TORCH = "import sys; sys.modules['torch'] = None\n"


def _python(code, cwd):
    return subprocess.run([sys.executable, "-c", HIDE_TORCH + code], cwd=cwd, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_grading_a_pytorch_exercise_without_torch_says_what_to_install(tmp_path):
    notebook = ROOT / "solutions" / "ex06_torch_seq2seq.ipynb"
    proc = _python(f"from s2s_ref.grade import main; sys.exit(main([{str(notebook)!r}]))", tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "ex06 grades PyTorch code, and PyTorch is not installed" in proc.stderr
    assert "pip install torch==2.13.0" in proc.stderr


def test_a_numpy_check_cell_works_without_torch(tmp_path):
    code = (
        "import numpy as np\n"
        "from s2s_ref.checks import check\n"
        "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
        "    h_next = np.tanh(x @ Wx + h_prev @ Wh + b)\n"
        "    return h_next, (x, h_prev, Wx, Wh, h_next)\n"
        "check(rnn_step_forward)\n"
        "print('checked')\n"
    )
    proc = _python(code, tmp_path)
    assert proc.returncode == 0 and "checked" in proc.stdout, proc.stdout + proc.stderr
