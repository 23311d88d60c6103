"""The NumPy RNN, LSTM and GRU, step and sequence, forward and backward, against three oracles
written elsewhere: central differences (``s2s_ref.gradcheck``), ``torch.nn`` (``RNNCell``/
``LSTMCell``/``GRUCell`` for a step, ``RNN``/``LSTM``/``GRU`` for a sequence) and the autograd
twins of ``s2s_ref.torch_nn.cells`` (the equations in torch ops).

One table of cells, one of oracles: every test runs for every cell and level, on the usual
distinct sizes and on N = 1, T = 1. The fused LSTM/GRU are checked against these cells in
test_numpy_fused.py.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn import gru, lstm, rnn
from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.torch_nn import cells as twins
from s2s_ref.torch_nn.convert import gru_to_torch, lstm_to_torch


def rnn_to_torch(Wx, Wh, b, suffix="_l0"):
    """The vanilla RNN's state dict for torch.nn.RNN/RNNCell: b in bias_ih, bias_hh zero."""
    b = torch.from_numpy(b)
    return {
        f"weight_ih{suffix}": torch.from_numpy(Wx.T.copy()),
        f"weight_hh{suffix}": torch.from_numpy(Wh.T.copy()),
        f"bias_ih{suffix}": b,
        f"bias_hh{suffix}": torch.zeros_like(b),
    }


class Cell(NamedTuple):
    step_forward: Callable
    step_backward: Callable
    forward: Callable
    backward: Callable
    gates: int  # blocks of H columns in Wx and Wh
    states: int  # 2 for the LSTM (h, c), 1 otherwise
    biases: int  # the GRU keeps bx and bh; the RNN and the LSTM have one b
    torch_step: type  # torch.nn's cell
    torch_sequence: type  # torch.nn's layer
    to_torch: Callable  # our weights -> its state dict
    twin: type  # s2s_ref.torch_nn.cells


# A table (kept out of the formatter): one row per cell, each column a field of Cell.
CELLS = {
    "rnn": Cell(rnn.rnn_step_forward, rnn.rnn_step_backward, rnn.rnn_forward, rnn.rnn_backward,
                1, 1, 1, torch.nn.RNNCell, torch.nn.RNN, rnn_to_torch, twins.RNN),
    "lstm": Cell(lstm.lstm_step_forward, lstm.lstm_step_backward, lstm.lstm_forward,
                 lstm.lstm_backward, 4, 2, 1, torch.nn.LSTMCell, torch.nn.LSTM, lstm_to_torch,
                 twins.LSTM),
    "gru": Cell(gru.gru_step_forward, gru.gru_step_backward, gru.gru_forward, gru.gru_backward,
                3, 1, 2, torch.nn.GRUCell, torch.nn.GRU, gru_to_torch, twins.GRU),
}  # fmt: skip
SIZES = [(3, 5, 4, 6), (1, 1, 2, 3)]  # (N, T, D, H): all different, then the smallest


class Case(NamedTuple):
    args: list  # x, the states, Wx, Wh, the biases
    upstream: list  # dL/d(each output): dh (and dc for an LSTM step)


def _case(rng, cell, level, N, T, D, H):
    c = CELLS[cell]
    x = rng.normal(size=(N, D) if level == "step" else (N, T, D))
    states = [rng.normal(size=(N, H)) * 0.5 for _ in range(c.states)]
    weights = [rng.normal(size=(D, c.gates * H)) * 0.5, rng.normal(size=(H, c.gates * H)) * 0.5]
    biases = [rng.normal(size=c.gates * H) * 0.3 for _ in range(c.biases)]
    outputs = c.states if level == "step" else 1
    out_shape = (N, H) if level == "step" else (N, T, H)
    return Case(
        [x, *states, *weights, *biases], [rng.normal(size=out_shape) for _ in range(outputs)]
    )


def _numpy(cell, level, case):
    """Our outputs (h, and c for an LSTM step) and gradients of sum(upstream * outputs)."""
    c = CELLS[cell]
    if level == "sequence":
        h, cache = c.forward(*case.args)
        return [h], list(c.backward(*case.upstream, cache))
    *outputs, cache = c.step_forward(*case.args)
    return outputs, list(c.step_backward(*case.upstream, cache))


def _outputs(cell, level):
    """args -> our outputs stacked, the function central differences differentiate."""
    c = CELLS[cell]
    forward = c.forward if level == "sequence" else c.step_forward
    return lambda *args: np.stack(forward(*args)[:-1])


def _torch_run(cell, level, case, module, call):
    """Outputs and gradients from a torch module holding our weights; ``call`` runs it."""
    leaves = [torch.tensor(a, requires_grad=True) for a in case.args[: 1 + CELLS[cell].states]]
    outputs = call(module, *leaves)
    torch.autograd.backward(outputs, [torch.from_numpy(u) for u in case.upstream])
    return outputs, [leaf.grad for leaf in leaves]


def _as_list(out):
    """A torch call's outputs as a list: (h, c) from an LSTM step, h otherwise."""
    return list(out) if isinstance(out, tuple) else [out]


def _torch_nn(cell, level, case):
    c = CELLS[cell]
    D, GH = case.args[-c.biases - 2].shape
    H = GH // c.gates
    if level == "step":
        module = c.torch_step(D, H).double()
        module.load_state_dict(c.to_torch(*case.args[-c.biases - 2 :], suffix=""))

        def call(m, x, *states):
            return _as_list(m(x, tuple(states) if len(states) > 1 else states[0]))

        outputs, grads = _torch_run(cell, level, case, module, call)
        suffix = ""
    else:
        module = c.torch_sequence(D, H, batch_first=True).double()
        module.load_state_dict(c.to_torch(*case.args[-c.biases - 2 :]))

        def call(m, x, *states):
            # torch.nn's states are (layers, N, H); ours (N, H): add the axis inside the graph
            states = [s[None] for s in states]
            return [m(x, tuple(states) if len(states) > 1 else states[0])[0]]

        outputs, grads = _torch_run(cell, level, case, module, call)
        suffix = "_l0"
    params = dict(module.named_parameters())
    grads += [params[f"weight_ih{suffix}"].grad.T, params[f"weight_hh{suffix}"].grad.T]
    grads += [params[f"bias_ih{suffix}"].grad, params[f"bias_hh{suffix}"].grad][: c.biases]
    return outputs, grads


def _twin(cell, level, case):
    c = CELLS[cell]
    D, GH = case.args[-c.biases - 2].shape
    module = c.twin(D, GH // c.gates).double()
    names = ["Wx", "Wh", "b"] if c.biases == 1 else ["Wx", "Wh", "bx", "bh"]
    with torch.no_grad():
        for name, value in zip(names, case.args[-c.biases - 2 :], strict=True):
            getattr(module, name).copy_(torch.from_numpy(value))
    run = module.step if level == "step" else module.forward
    outputs, grads = _torch_run(cell, level, case, module, lambda m, *a: _as_list(run(*a)))
    return outputs, grads + [getattr(module, n).grad for n in names]


def _assert_close(what, got, want, atol):
    assert len(got) == len(want), f"{what}: {len(got)} arrays, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        w = w.detach().numpy() if isinstance(w, torch.Tensor) else w
        assert np.shape(g) == np.shape(w), (
            f"{what} {i}: shape {np.shape(g)}, expected {np.shape(w)}"
        )
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=atol, err_msg=f"{what} {i}")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "NTDH=" + "-".join(map(str, s)))
@pytest.mark.parametrize("level", ["step", "sequence"])
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_equal_central_differences(rng, cell, level, size):
    case = _case(rng, cell, level, *size)
    _, grads = _numpy(cell, level, case)
    f, upstream = _outputs(cell, level), np.stack(case.upstream)
    assert len(grads) == len(case.args)
    for i, g in enumerate(grads):
        numerical = numerical_gradient(f, case.args, i, upstream)
        assert np.shape(g) == case.args[i].shape, f"gradient {i}"
        assert relative_error(g, numerical) < 1e-8, f"gradient {i}"


@pytest.mark.parametrize("oracle", [_torch_nn, _twin], ids=["torch.nn", "twin"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "NTDH=" + "-".join(map(str, s)))
@pytest.mark.parametrize("level", ["step", "sequence"])
@pytest.mark.parametrize("cell", CELLS)
def test_outputs_and_gradients_equal_torch(rng, cell, level, size, oracle):
    case = _case(rng, cell, level, *size)
    outputs, grads = _numpy(cell, level, case)
    torch_outputs, torch_grads = oracle(cell, level, case)
    _assert_close("output", outputs, torch_outputs, atol=1e-12)
    _assert_close("gradient", grads, torch_grads, atol=1e-10)


@pytest.mark.parametrize("level", ["step", "sequence"])
@pytest.mark.parametrize("cell", CELLS)
def test_inputs_and_upstream_gradients_are_not_modified(rng, cell, level):
    case = _case(rng, cell, level, 3, 5, 4, 6)
    before = [a.copy() for a in case.args + case.upstream]
    _numpy(cell, level, case)
    for a, b in zip(case.args + case.upstream, before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_batch_elements_are_independent(rng, cell):
    args = _case(rng, cell, "sequence", 3, 5, 4, 6).args
    states = CELLS[cell].states
    h, _ = CELLS[cell].forward(*args)
    alone = [a[1:2] for a in args[: 1 + states]] + args[1 + states :]
    np.testing.assert_allclose(CELLS[cell].forward(*alone)[0], h[1:2], atol=1e-14)


def test_sigmoid_is_the_logistic_function_and_never_overflows():
    a = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-12, atol=1e-15)
    with np.errstate(all="raise"):
        s = sigmoid(np.array([-1e4, 1e4], dtype=np.float32))
    assert s.dtype == np.float32 and s[0] == 0 and s[1] == 1


def test_gru_is_pytorchs_form_not_chos(rng):
    """Resetting h before Wh (Cho et al. 2014) is another function: the oracles would notice."""
    x, h_prev, Wx, Wh, bx, bh = _case(rng, "gru", "step", 3, 5, 4, 6).args
    H = h_prev.shape[1]
    h_next, _ = gru.gru_step_forward(x, h_prev, Wx, Wh, bx, bh)
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    r, z = sigmoid(ax[:, :H] + ah[:, :H]), sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    n_cho = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])
    assert np.abs((1 - z) * n_cho + z * h_prev - h_next).max() > 1e-2
