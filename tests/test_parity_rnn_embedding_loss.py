"""torch_nn twins against the NumPy reference: same weights, same outputs and gradients."""

import numpy as np
import torch

from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.loss import softmax_cross_entropy
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from s2s_ref.torch_nn.cells import RNN
from s2s_ref.torch_nn.embedding import Embedding
from s2s_ref.torch_nn.loss import masked_cross_entropy

from .conftest import D, E, H, N, T, V

TOL = 1e-6


def _load(module, **arrays):
    """Copy NumPy arrays into the module's parameters of the same names."""
    with torch.no_grad():
        for name, value in arrays.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    return module


def _leaf(a):
    return torch.from_numpy(a.copy()).requires_grad_()


def test_rnn_step_parity(rng):
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    dh = rng.normal(size=(N, H))
    h_np, cache = rnn_step_forward(x, h_prev, Wx, Wh, b)
    grads_np = rnn_step_backward(dh, cache)

    cell = _load(RNN(D, H).double(), Wx=Wx, Wh=Wh, b=b)
    tx, th = _leaf(x), _leaf(h_prev)
    h_t = cell.step(tx, th)
    h_t.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h_t.detach().numpy(), h_np, atol=TOL)
    grads_t = (tx.grad, th.grad, cell.Wx.grad, cell.Wh.grad, cell.b.grad)
    for name, g_np, g_t in zip(
        ("dx", "dh_prev", "dWx", "dWh", "db"), grads_np, grads_t, strict=True
    ):
        np.testing.assert_allclose(g_t.numpy(), g_np, atol=TOL, err_msg=name)


def test_rnn_sequence_parity(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)) * 0.5, rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    dh = rng.normal(size=(N, T, H))
    h_np, cache = rnn_forward(x, h0, Wx, Wh, b)
    grads_np = rnn_backward(dh, cache)

    rnn = _load(RNN(D, H).double(), Wx=Wx, Wh=Wh, b=b)
    tx, th0 = _leaf(x), _leaf(h0)
    h_t = rnn(tx, th0)
    h_t.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h_t.detach().numpy(), h_np, atol=TOL)
    grads_t = (tx.grad, th0.grad, rnn.Wx.grad, rnn.Wh.grad, rnn.b.grad)
    for name, g_np, g_t in zip(("dx", "dh0", "dWx", "dWh", "db"), grads_np, grads_t, strict=True):
        np.testing.assert_allclose(g_t.numpy(), g_np, atol=TOL, err_msg=name)


def test_embedding_parity_with_repeated_ids(rng):
    ids = rng.integers(0, V, size=(N, T))
    ids[0, :2] = 3  # a row used several times: its gradients must add up
    W = rng.normal(size=(V, E))
    dout = rng.normal(size=(N, T, E))
    out_np, cache = embedding_forward(ids, W)
    dW_np = embedding_backward(dout, cache)

    emb = _load(Embedding(V, E).double(), W=W)
    out_t = emb(torch.from_numpy(ids))
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out_t.detach().numpy(), out_np, atol=TOL)
    np.testing.assert_allclose(emb.W.grad.numpy(), dW_np, atol=TOL)


def test_masked_cross_entropy_parity_including_padding(rng):
    logits = rng.normal(size=(N, T, V)) * 3
    targets = rng.integers(0, V, size=(N, T))
    mask = np.ones((N, T), dtype=bool)
    mask[1, 3:] = False
    mask[2, 1:] = False
    targets[~mask] = -100  # padding may hold an id out of range: neither side may index with it
    loss_np, dlogits_np = softmax_cross_entropy(logits, targets, mask)

    tl = _leaf(logits)
    loss_t = masked_cross_entropy(tl, torch.from_numpy(targets), torch.from_numpy(mask))
    loss_t.backward()
    assert abs(loss_t.item() - loss_np) < TOL
    np.testing.assert_allclose(tl.grad.numpy(), dlogits_np, atol=TOL)
    assert not tl.grad.numpy()[~mask].any()
