"""The NumPy RNN against float64 finite differences, torch autograd and torch.nn.RNN."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from s2s_ref.shapes import ShapeError

from .conftest import D, H, N, T


def _params(rng, dtype=np.float64):
    return (
        rng.normal(size=(D, H)).astype(dtype) * 0.5,
        rng.normal(size=(H, H)).astype(dtype) * 0.5,
        rng.normal(size=H).astype(dtype) * 0.1,
    )


def test_step_forward_matches_the_equation_and_torch(rng):
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _params(rng)
    h_next, _ = rnn_step_forward(x, h_prev, Wx, Wh, b)
    assert h_next.shape == (N, H)
    cell = torch.nn.RNNCell(D, H).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(Wx.T))
        cell.weight_hh.copy_(torch.from_numpy(Wh.T))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
        expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).numpy()
    np.testing.assert_allclose(h_next, expected, rtol=1e-12, atol=1e-12)


def test_step_backward_against_finite_differences(rng):
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    params = _params(rng)
    dh = rng.normal(size=(N, H))
    _, cache = rnn_step_forward(x, h_prev, *params)
    grads = rnn_step_backward(dh, cache)
    args = (x, h_prev, *params)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: rnn_step_forward(*a)[0], args, i, dh)
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_sequence_backward_against_finite_differences(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    params = _params(rng)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnn_forward(x, h0, *params)
    grads = rnn_backward(dh, cache)
    args = (x, h0, *params)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: rnn_forward(*a)[0], args, i, dh)
        assert g.shape == args[i].shape
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_sequence_matches_torch_nn_rnn_outputs_and_gradients(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _params(rng)
    dh = rng.normal(size=(N, T, H))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)

    rnn = torch.nn.RNN(D, H, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_()
    th0 = torch.from_numpy(h0)[None].requires_grad_()
    out, _ = rnn(tx, th0)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh0, th0.grad[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(dWx, rnn.weight_ih_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dWh, rnn.weight_hh_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(db, rnn.bias_ih_l0.grad.numpy(), atol=1e-10)


def test_sequence_gradients_against_torch_autograd_on_the_equation(rng):
    """Autograd on the same equation written with torch ops (no torch.nn), step by step."""
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    params = _params(rng)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnn_forward(x, h0, *params)
    grads = rnn_backward(dh, cache)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, h0, *params)]
    tx, th, tWx, tWh, tb = tensors
    hs = []
    for t in range(T):
        th = torch.tanh(tx[:, t] @ tWx + th @ tWh + tb)
        hs.append(th)
    torch.stack(hs, 1).backward(torch.from_numpy(dh))
    for g, tt in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(g, tt.grad.numpy(), atol=1e-10)


def test_float32_in_float32_out(rng):
    x, h0 = rng.normal(size=(N, T, D)).astype(np.float32), np.zeros((N, H), np.float32)
    h, cache = rnn_forward(x, h0, *_params(rng, np.float32))
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_backward(np.ones_like(h), cache))


def test_inputs_are_not_modified(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    params = _params(rng)
    before = [a.copy() for a in (x, h0, *params)]
    h, cache = rnn_forward(x, h0, *params)
    dh = np.ones_like(h)
    rnn_backward(dh, cache)
    for a, b in zip((x, h0, *params), before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dh, 1.0)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("Wx_transposed", r"Wx should have shape \(D H\) = \(4, 6\), got \(6, 4\)"),
        ("x_2d", r"x should have 3 dimension\(s\) \(N T D\)"),
        ("h0_batch", r"h0 should have shape \(N H\) = \(3, H\), got \(2, 6\)"),
    ],
)
def test_bad_shapes_raise_a_sentence(rng, bad, message):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _params(rng)
    if bad == "Wx_transposed":
        Wx = Wx.T
    elif bad == "x_2d":
        x = x[:, 0]
    else:
        h0 = h0[:2]
    with pytest.raises(ShapeError, match=message):
        rnn_forward(x, h0, Wx, Wh, b)
