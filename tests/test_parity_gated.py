"""torch_nn LSTM/GRU twins against the NumPy reference: identical weights, outputs, gradients."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn import gru, lstm
from s2s_ref.torch_nn.cells import GRU, LSTM

from .conftest import D, H, N, T

TOL = 1e-6


def _twin(cls, arrays):
    module = cls(D, H).double()
    with torch.no_grad():
        for name, value in arrays.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    return module


def _leaf(a):
    return torch.from_numpy(a.copy()).requires_grad_()


def _assert_all_close(names, ours, theirs):
    for name, a, b in zip(names, ours, theirs, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b, atol=TOL, err_msg=name)


@pytest.mark.parametrize("level", ["step", "sequence"])
def test_lstm_parity(rng, level):
    shape = (N, D) if level == "step" else (N, T, D)
    x, h0, c0 = rng.normal(size=shape), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    W = {"Wx": rng.normal(size=(D, 4 * H)), "Wh": rng.normal(size=(H, 4 * H)) * 0.5,
         "b": rng.normal(size=4 * H)}  # fmt: skip
    cell = _twin(LSTM, W)
    tx, th, tc = _leaf(x), _leaf(h0), _leaf(c0)
    if level == "step":
        dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
        h_np, c_np, cache = lstm.lstm_step_forward(x, h0, c0, *W.values())
        grads = lstm.lstm_step_backward(dh, dc, cache)
        h_t, c_t = cell.step(tx, th, tc)
        torch.autograd.backward([h_t, c_t], [torch.from_numpy(dh), torch.from_numpy(dc)])
        _assert_all_close(["h", "c"], [h_t, c_t], [h_np, c_np])
    else:
        dh = rng.normal(size=(N, T, H))
        h_np, cache = lstm.lstm_forward(x, h0, c0, *W.values())
        grads = lstm.lstm_backward(dh, cache)
        h_t = cell(tx, th, tc)
        h_t.backward(torch.from_numpy(dh))
        _assert_all_close(["h"], [h_t], [h_np])
    ours = [tx.grad, th.grad, tc.grad, cell.Wx.grad, cell.Wh.grad, cell.b.grad]
    _assert_all_close(["dx", "dh0", "dc0", "dWx", "dWh", "db"], ours, grads)


@pytest.mark.parametrize("level", ["step", "sequence"])
def test_gru_parity(rng, level):
    shape = (N, D) if level == "step" else (N, T, D)
    x, h0 = rng.normal(size=shape), rng.normal(size=(N, H))
    W = {"Wx": rng.normal(size=(D, 3 * H)), "Wh": rng.normal(size=(H, 3 * H)) * 0.5,
         "bx": rng.normal(size=3 * H), "bh": rng.normal(size=3 * H)}  # fmt: skip
    cell = _twin(GRU, W)
    tx, th = _leaf(x), _leaf(h0)
    dh = rng.normal(size=(N, H) if level == "step" else (N, T, H))
    if level == "step":
        h_np, cache = gru.gru_step_forward(x, h0, *W.values())
        grads = gru.gru_step_backward(dh, cache)
        h_t = cell.step(tx, th)
    else:
        h_np, cache = gru.gru_forward(x, h0, *W.values())
        grads = gru.gru_backward(dh, cache)
        h_t = cell(tx, th)
    h_t.backward(torch.from_numpy(dh))
    _assert_all_close(["h"], [h_t], [h_np])
    ours = [tx.grad, th.grad, cell.Wx.grad, cell.Wh.grad, cell.bx.grad, cell.bh.grad]
    _assert_all_close(["dx", "dh0", "dWx", "dWh", "dbx", "dbh"], ours, grads)
