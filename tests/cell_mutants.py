"""Mutation count for the recurrent cells' tests, run by hand (not part of the suite):

    python -m tests.cell_mutants

Each mutant is one plausible bug written as a text patch of a reference module (a flipped sign,
a transposed or swapped weight block, a term dropped from a backward pass). For each one, a
fresh interpreter applies the patch to the module's source, executes it in place of the module,
then runs the cells' tests; the script prints how many tests notice. A mutant no test notices is
a hole in the tests.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_cells.py", "tests/test_numpy_fused.py", "tests/test_numpy_rnn.py"]

# (module, what the bug is, {old text: new text}); each old text occurs once in the module.
# A table, kept out of the formatter: one mutant per row.
MUTANTS = [
    ("rnn", "tanh' taken as 1 - h", {"(1 - h_next**2)": "(1 - h_next)"}),
    ("rnn", "dWh transposed", {"dWh = h_prev.T @ da": "dWh = da.T @ h_prev"}),
    ("rnn", "BPTT drops the gradient from later steps",
     {"rnn_step_backward(dh[:, t] + dh_prev, step_cache)": "rnn_step_backward(dh[:, t], step_cache)"}),
    ("lstm", "candidate subtracted from the cell", {"i * g\n    tanh_c": "-i * g\n    tanh_c"}),
    ("lstm", "input and forget gates swapped",
     {"i = sigmoid(a[:, :H])": "i = sigmoid(a[:, H : 2 * H])", "f = sigmoid(a[:, H : 2 * H])": "f = sigmoid(a[:, :H])"}),
    ("lstm", "forget gate missing from dc_prev", {"dc_prev = dc * f": "dc_prev = dc"}),
    ("lstm", "dc_next dropped", {"dc = dc_next + dh_next * o": "dc = dh_next * o"}),
    ("lstm", "sigmoid' of o taken as 1 - o", {"do * o * (1 - o)": "do * (1 - o)"}),
    ("lstm", "BPTT drops dh from later steps",
     {"dh[:, t] + dh_prev, dc_prev, step_caches[t]": "dh[:, t], dc_prev, step_caches[t]"}),
    ("gru", "reset gate dropped", {"n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])": "n = np.tanh(ax[:, 2 * H :] + ah[:, 2 * H :])"}),
    ("gru", "z and 1 - z swapped", {"h_next = (1 - z) * n + z * h_prev\n    cache": "h_next = z * n + (1 - z) * h_prev\n    cache"}),
    ("gru", "direct path dropped from dh_prev", {"dh_prev = dh_next * z + dah @ Wh.T": "dh_prev = dah @ Wh.T"}),
    ("gru", "r missing from the recurrent n block", {"[da_r, da_z, da_n * r]": "[da_r, da_z, da_n]"}),
    ("gru", "BPTT drops dh from later steps",
     {"gru_step_backward(dh[:, t] + dh_prev, step_caches[t])": "gru_step_backward(dh[:, t], step_caches[t])"}),
    ("fused", "LSTM: g scaled like a sigmoid", {"scale[2 * H : 3 * H] = 1.0": "scale[2 * H : 3 * H] = 0.5"}),
    ("fused", "LSTM: dc_next dropped", {"dc += dc_next": "dc += 0 * dc_next"}),
    ("fused", "LSTM: the gradient to the previous h halved", {"dh_next = da[t] @ Wh_T": "dh_next = da[t] @ Wh_T * 0.5"}),
    ("fused", "GRU: n subtracted", {"h_next += n  #": "h_next -= n  #"}),
    ("fused", "GRU: r and z not passed to the recurrent side",
     {"dah[:, : 2 * H] = dax[:, : 2 * H]": "dah[:, : 2 * H] = 0"}),
]  # fmt: skip

# Runs in the fresh interpreter: patch, execute in place of the module, run the tests.
CHILD = """
import importlib, sys, pytest
name, patch = sys.argv[1], eval(sys.argv[2])
module = importlib.import_module("s2s_ref.numpy_nn." + name)
source = open(module.__file__).read()
for old, new in patch.items():
    assert source.count(old) == 1, f"{name}: {old!r} occurs {source.count(old)} times"
    source = source.replace(old, new)
exec(compile(source, module.__file__, "exec"), module.__dict__)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-n", "0", *sys.argv[3:]]))
"""


def count_failures(module, patch):
    """Run the tests against one mutant -> (tests failed, tests run)."""
    command = [sys.executable, "-c", CHILD, module, repr(patch), *TESTS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if "occurs" in done.stderr:
        raise RuntimeError(done.stderr[-500:])
    failed = _number(last, "failed")
    return failed, failed + _number(last, "passed")


def _number(summary, word):
    words = summary.replace(",", " ").split()
    return next((int(words[i - 1]) for i, w in enumerate(words) if w == word), 0)


def main():
    noticed = 0
    for module, bug, patch in MUTANTS:
        failed, run = count_failures(module, patch)
        noticed += failed > 0
        print(f"{module:6s} {bug:62s} {failed:3d} of {run} tests fail", flush=True)
    print(f"{noticed} of {len(MUTANTS)} mutants noticed by at least one test")


if __name__ == "__main__":
    main()
