"""The NumPy LSTM against float64 finite differences, torch autograd, nn.LSTMCell and nn.LSTM."""

import numpy as np
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.numpy_nn.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from s2s_ref.torch_nn.convert import lstm_to_torch

from .conftest import D, H, N, T


def _params(rng, dtype=np.float64):
    return (
        (rng.normal(size=(D, 4 * H)) * 0.5).astype(dtype),
        (rng.normal(size=(H, 4 * H)) * 0.5).astype(dtype),
        (rng.normal(size=4 * H) * 0.3).astype(dtype),
    )


def _step_inputs(rng):
    return rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))


def _seq_inputs(rng):
    return rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))


def _torch_equations(x, h, c, Wx, Wh, b):
    """The LSTM written with torch ops from the paper's equations, gates in order i, f, g, o."""
    a = x @ Wx + h @ Wh + b
    i, f, g, o = a.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_sigmoid_is_the_logistic_function_and_never_overflows():
    a = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-12, atol=1e-15)
    with np.errstate(all="raise"):
        s = sigmoid(np.array([-1e4, 1e4], dtype=np.float32))
    assert s.dtype == np.float32 and s[0] == 0 and s[1] == 1


def test_step_forward_matches_torch_lstm_cell(rng):
    x, h_prev, c_prev = _step_inputs(rng)
    params = _params(rng)
    h_next, c_next, _ = lstm_step_forward(x, h_prev, c_prev, *params)
    cell = torch.nn.LSTMCell(D, H).double()
    cell.load_state_dict(lstm_to_torch(*params, suffix=""))
    with torch.no_grad():
        th, tc = cell(torch.from_numpy(x), (torch.from_numpy(h_prev), torch.from_numpy(c_prev)))
    assert h_next.shape == c_next.shape == (N, H)
    np.testing.assert_allclose(h_next, th.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_next, tc.numpy(), rtol=1e-12, atol=1e-12)


def _step_outputs(*args):
    h_next, c_next, _ = lstm_step_forward(*args)
    return np.stack([h_next, c_next])


def test_step_backward_against_finite_differences(rng):
    args = (*_step_inputs(rng), *_params(rng))
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, _, cache = lstm_step_forward(*args)
    grads = lstm_step_backward(dh, dc, cache)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        num = numerical_gradient(_step_outputs, args, i, np.stack([dh, dc]))
        assert g.shape == args[i].shape
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_step_backward_matches_torch_lstm_cell(rng):
    x, h_prev, c_prev = _step_inputs(rng)
    params = _params(rng)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, _, cache = lstm_step_forward(x, h_prev, c_prev, *params)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, cache)
    cell = torch.nn.LSTMCell(D, H).double()
    cell.load_state_dict(lstm_to_torch(*params, suffix=""))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h_prev, c_prev))
    out_h, out_c = cell(tx, (th, tc))
    torch.autograd.backward([out_h, out_c], [torch.from_numpy(dh), torch.from_numpy(dc)])
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh_prev, th.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dc_prev, tc.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dWx, cell.weight_ih.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dWh, cell.weight_hh.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(db, cell.bias_ih.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, cell.bias_hh.grad.numpy(), atol=1e-10)


def test_sequence_backward_against_finite_differences(rng):
    args = (*_seq_inputs(rng), *_params(rng))
    dh = rng.normal(size=(N, T, H))
    _, cache = lstm_forward(*args)
    grads = lstm_backward(dh, cache)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: lstm_forward(*a)[0], args, i, dh)
        assert g.shape == args[i].shape
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_sequence_matches_torch_nn_lstm_outputs_and_all_gradients(rng):
    x, h0, c0 = _seq_inputs(rng)
    params = _params(rng)
    dh = rng.normal(size=(N, T, H))
    h, cache = lstm_forward(x, h0, c0, *params)
    dx, dh0, dc0, dWx, dWh, db = lstm_backward(dh, cache)
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    lstm.load_state_dict(lstm_to_torch(*params))
    tx = torch.tensor(x, requires_grad=True)
    th0, tc0 = (torch.tensor(a[None], requires_grad=True) for a in (h0, c0))
    out, (hT, cT) = lstm(tx, (th0, tc0))
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h[:, -1], hT[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh0, th0.grad[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(dc0, tc0.grad[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(dWx, lstm.weight_ih_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dWh, lstm.weight_hh_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(db, lstm.bias_ih_l0.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, lstm.bias_hh_l0.grad.numpy(), atol=1e-10)


def test_sequence_gradients_against_torch_autograd_on_the_equations(rng):
    args = (*_seq_inputs(rng), *_params(rng))
    dh = rng.normal(size=(N, T, H))
    h, cache = lstm_forward(*args)
    grads = lstm_backward(dh, cache)
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    tx, th, tc, *tparams = tensors
    hs = []
    for t in range(T):
        th, tc = _torch_equations(tx[:, t], th, tc, *tparams)
        hs.append(th)
    out = torch.stack(hs, 1)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), atol=1e-12)
    for g, tt in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(g, tt.grad.numpy(), atol=1e-10)


def test_inputs_and_upstream_gradients_are_not_modified(rng):
    args = (*_seq_inputs(rng), *_params(rng))
    before = [a.copy() for a in args]
    h, cache = lstm_forward(*args)
    dh = rng.normal(size=h.shape)
    dh_before = dh.copy()
    lstm_backward(dh, cache)
    step_args = (args[0][:, 0], *args[1:])
    h1, c1, step_cache = lstm_step_forward(*step_args)
    lstm_step_backward(dh[:, 0], dh[:, 1], step_cache)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dh, dh_before)


def test_batch_elements_are_independent(rng):
    args = (*_seq_inputs(rng), *_params(rng))
    h, _ = lstm_forward(*args)
    h_one, _ = lstm_forward(args[0][1:2], args[1][1:2], args[2][1:2], *args[3:])
    np.testing.assert_allclose(h[1:2], h_one, atol=1e-14)
