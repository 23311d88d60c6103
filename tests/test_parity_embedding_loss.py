"""The NumPy embedding against torch.nn.Embedding and the NumPy loss against the torch loss
(the cells' twins: test_cells.py)."""

import numpy as np
import torch

from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.loss import softmax_cross_entropy
from s2s_ref.torch_nn.loss import masked_cross_entropy

from .conftest import E, N, T, V

TOL = 1e-6


def _leaf(a):
    return torch.from_numpy(a.copy()).requires_grad_()


def test_embedding_parity_with_repeated_ids(rng):
    ids = rng.integers(0, V, size=(N, T))
    ids[0, :2] = 3  # a row used several times: its gradients must add up
    W = rng.normal(size=(V, E))
    dout = rng.normal(size=(N, T, E))
    out_np, cache = embedding_forward(ids, W)
    dW_np = embedding_backward(dout, cache)

    emb = torch.nn.Embedding(V, E).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    out_t = emb(torch.from_numpy(ids))
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out_t.detach().numpy(), out_np, atol=TOL)
    np.testing.assert_allclose(emb.weight.grad.numpy(), dW_np, atol=TOL)


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
