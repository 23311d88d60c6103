"""The NumPy GRU against float64 finite differences, torch autograd, nn.GRUCell and nn.GRU."""

import numpy as np
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from s2s_ref.torch_nn.convert import gru_to_torch

from .conftest import D, H, N, T


def _params(rng, dtype=np.float64):
    return (
        (rng.normal(size=(D, 3 * H)) * 0.5).astype(dtype),
        (rng.normal(size=(H, 3 * H)) * 0.5).astype(dtype),
        (rng.normal(size=3 * H) * 0.3).astype(dtype),
        (rng.normal(size=3 * H) * 0.3).astype(dtype),
    )


def _torch_equations(x, h, Wx, Wh, bx, bh):
    """The GRU written with torch ops, PyTorch's form: the reset gate scales h @ Wh_n + bh_n."""
    xr, xz, xn = (x @ Wx + bx).chunk(3, dim=1)
    hr, hz, hn = (h @ Wh + bh).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def test_step_forward_matches_torch_gru_cell(rng):
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    params = _params(rng)
    h_next, _ = gru_step_forward(x, h_prev, *params)
    cell = torch.nn.GRUCell(D, H).double()
    cell.load_state_dict(gru_to_torch(*params, suffix=""))
    with torch.no_grad():
        expected = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).numpy()
    assert h_next.shape == (N, H)
    np.testing.assert_allclose(h_next, expected, rtol=1e-12, atol=1e-12)


def test_step_backward_against_finite_differences(rng):
    args = (rng.normal(size=(N, D)), rng.normal(size=(N, H)), *_params(rng))
    dh = rng.normal(size=(N, H))
    _, cache = gru_step_forward(*args)
    grads = gru_step_backward(dh, cache)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: gru_step_forward(*a)[0], args, i, dh)
        assert g.shape == args[i].shape
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_step_backward_matches_torch_gru_cell(rng):
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    params = _params(rng)
    dh = rng.normal(size=(N, H))
    _, cache = gru_step_forward(x, h_prev, *params)
    dx, dh_prev, dWx, dWh, dbx, dbh = gru_step_backward(dh, cache)
    cell = torch.nn.GRUCell(D, H).double()
    cell.load_state_dict(gru_to_torch(*params, suffix=""))
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h_prev, requires_grad=True)
    cell(tx, th).backward(torch.from_numpy(dh))
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh_prev, th.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dWx, cell.weight_ih.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dWh, cell.weight_hh.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dbx, cell.bias_ih.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dbh, cell.bias_hh.grad.numpy(), atol=1e-10)


def test_sequence_backward_against_finite_differences(rng):
    args = (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), *_params(rng))
    dh = rng.normal(size=(N, T, H))
    _, cache = gru_forward(*args)
    grads = gru_backward(dh, cache)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        num = numerical_gradient(lambda *a: gru_forward(*a)[0], args, i, dh)
        assert g.shape == args[i].shape
        assert relative_error(g, num) < 1e-8, f"gradient {i}"


def test_sequence_matches_torch_nn_gru_outputs_and_all_gradients(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    params = _params(rng)
    dh = rng.normal(size=(N, T, H))
    h, cache = gru_forward(x, h0, *params)
    dx, dh0, dWx, dWh, dbx, dbh = gru_backward(dh, cache)
    gru = torch.nn.GRU(D, H, batch_first=True).double()
    gru.load_state_dict(gru_to_torch(*params))
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    out, hT = gru(tx, th0)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h[:, -1], hT[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dh0, th0.grad[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(dWx, gru.weight_ih_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dWh, gru.weight_hh_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(dbx, gru.bias_ih_l0.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dbh, gru.bias_hh_l0.grad.numpy(), atol=1e-10)


def test_sequence_gradients_against_torch_autograd_on_the_equations(rng):
    args = (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), *_params(rng))
    dh = rng.normal(size=(N, T, H))
    h, cache = gru_forward(*args)
    grads = gru_backward(dh, cache)
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    tx, th, *tparams = tensors
    hs = []
    for t in range(T):
        th = _torch_equations(tx[:, t], th, *tparams)
        hs.append(th)
    out = torch.stack(hs, 1)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), atol=1e-12)
    for g, tt in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(g, tt.grad.numpy(), atol=1e-10)


def test_pytorch_form_differs_from_cho_form(rng):
    """Resetting h before Wh (Cho et al. 2014) is another function: the test would notice."""
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, bx, bh = _params(rng)
    h_next, cache = gru_step_forward(x, h_prev, Wx, Wh, bx, bh)
    ax, ah = x @ Wx + bx, h_prev @ Wh + bh
    r = 1 / (1 + np.exp(-(ax[:, :H] + ah[:, :H])))
    z = 1 / (1 + np.exp(-(ax[:, H : 2 * H] + ah[:, H : 2 * H])))
    n_cho = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])
    assert np.abs((1 - z) * n_cho + z * h_prev - h_next).max() > 1e-2


def test_inputs_and_upstream_gradients_are_not_modified(rng):
    args = (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), *_params(rng))
    before = [a.copy() for a in args]
    h, cache = gru_forward(*args)
    dh = rng.normal(size=h.shape)
    dh_before = dh.copy()
    gru_backward(dh, cache)
    _, step_cache = gru_step_forward(args[0][:, 0], *args[1:])
    gru_step_backward(dh[:, 0], step_cache)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dh, dh_before)


def test_batch_elements_are_independent(rng):
    args = (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), *_params(rng))
    h, _ = gru_forward(*args)
    h_one, _ = gru_forward(args[0][2:], args[1][2:], *args[2:])
    np.testing.assert_allclose(h[2:], h_one, atol=1e-14)
