"""Embedding and masked cross-entropy against finite differences and torch."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.loss import softmax_cross_entropy

from .conftest import E, N, T, V


def _batch(rng):
    logits = rng.normal(size=(N, T, V)) * 3
    targets = rng.integers(0, V, size=(N, T))
    lengths = np.array([T, 2, 4])
    mask = np.arange(T)[None] < lengths[:, None]
    return logits, targets, mask


def test_embedding_matches_torch_and_accumulates_repeated_ids(rng):
    W = rng.normal(size=(V, E))
    ids = rng.integers(0, V, size=(N, T))
    ids[0, :3] = 2  # the same row three times: its gradients must add up
    dout = rng.normal(size=(N, T, E))
    out, cache = embedding_forward(ids, W)
    dW = embedding_backward(dout, cache)
    emb = torch.nn.Embedding(V, E).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    tout = emb(torch.from_numpy(ids))
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_allclose(dW, emb.weight.grad.numpy(), atol=1e-12)
    num = numerical_gradient(lambda w: embedding_forward(ids, w)[0], (W,), 0, dout)
    assert relative_error(dW, num) < 1e-8


def test_embedding_rejects_bad_ids(rng):
    W = rng.normal(size=(V, E))
    with pytest.raises(IndexError, match=r"ids must lie in \[0, 7\)"):
        embedding_forward(np.full((N, T), V), W)
    with pytest.raises(TypeError, match="integers"):
        embedding_forward(np.zeros((N, T)), W)


def test_loss_matches_torch_cross_entropy_on_real_tokens(rng):
    logits, targets, mask = _batch(rng)
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    tl = torch.tensor(logits, requires_grad=True)
    tt = torch.from_numpy(np.where(mask, targets, -100))
    expected = torch.nn.functional.cross_entropy(
        tl.reshape(-1, V), tt.reshape(-1), ignore_index=-100
    )
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), atol=1e-12)


def test_loss_gradient_against_finite_differences(rng):
    logits, targets, mask = _batch(rng)
    _, dlogits = softmax_cross_entropy(logits, targets, mask)
    num = numerical_gradient(lambda z: softmax_cross_entropy(z, targets, mask)[0], (logits,), 0)
    assert relative_error(dlogits, num) < 1e-7


def test_padding_changes_neither_loss_nor_gradients(rng):
    logits, targets, mask = _batch(rng)
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    logits2, targets2 = logits.copy(), targets.copy()
    logits2[~mask] = rng.normal(size=(int((~mask).sum()), V)) * 100
    targets2[~mask] = rng.integers(0, V, size=int((~mask).sum()))
    loss2, dlogits2 = softmax_cross_entropy(logits2, targets2, mask)
    assert loss2 == loss
    np.testing.assert_array_equal(dlogits2, dlogits)
    assert np.all(dlogits[~mask] == 0)


def test_loss_is_finite_for_huge_logits(rng):
    logits, targets, mask = _batch(rng)
    logits = np.sign(logits) * 1000.0
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    tl = torch.from_numpy(logits).reshape(-1, V)
    tt = torch.from_numpy(np.where(mask, targets, -100)).reshape(-1)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(tl, tt).item(), rel=1e-12)


def test_loss_rejects_bad_masks_and_targets(rng):
    logits, targets, mask = _batch(rng)
    with pytest.raises(TypeError, match="boolean"):
        softmax_cross_entropy(logits, targets, mask.astype(int))
    with pytest.raises(ValueError, match="no real token"):
        softmax_cross_entropy(logits, targets, np.zeros_like(mask))
    targets[0, 0] = V
    with pytest.raises(IndexError, match=r"\[0, 7\)"):
        softmax_cross_entropy(logits, targets, mask)
