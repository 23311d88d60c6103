"""state_gradients against torch autograd (retain_grad on every state) and finite differences."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.gradient_flow import state_gradients
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward
from s2s_ref.shapes import ShapeError

from .conftest import D, H, N, T


def _inputs(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)) * 0.5, rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    return x, h0, Wx, Wh, b


def test_matches_torch_autograd_on_every_hidden_state(rng):
    args = _inputs(rng)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnn_forward(*args)
    got = state_gradients(dh, cache)

    tx, th, tWx, tWh, tb = (torch.from_numpy(a) for a in args)
    tWh.requires_grad_()
    states = []
    for t in range(T):
        th = torch.tanh(tx[:, t] @ tWx + th @ tWh + tb)
        th.retain_grad()  # keep dL/dh_t, which autograd would otherwise free
        states.append(th)
    torch.stack(states, 1).backward(torch.from_numpy(dh))
    expected = np.stack([s.grad.numpy() for s in states], axis=1)
    assert got.shape == (N, T, H)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [0, 2, T - 1])
def test_matches_finite_differences_through_the_rest_of_the_sequence(rng, k):
    """Perturb h_k itself: the loss is dh_k . h_k plus the later steps run from h_k."""
    x, h0, Wx, Wh, b = _inputs(rng)
    dh = rng.normal(size=(N, T, H))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)

    def loss_from(h_k):
        later = rnn_forward(x[:, k + 1 :], h_k, Wx, Wh, b)[0] if k + 1 < T else 0.0
        return np.sum(dh[:, k] * h_k) + np.sum(dh[:, k + 1 :] * later)

    num = numerical_gradient(loss_from, (h[:, k],), 0)
    assert relative_error(state_gradients(dh, cache)[:, k], num) < 1e-8


def test_first_state_feeds_dh0_like_rnn_backward(rng):
    """Backpropagating the total at h_0 one more step must give rnn_backward's dh0."""
    x, h0, Wx, Wh, b = _inputs(rng)
    dh = rng.normal(size=(N, T, H))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    total = state_gradients(dh, cache)
    dh0 = (total[:, 0] * (1 - h[:, 0] ** 2)) @ Wh.T
    np.testing.assert_allclose(dh0, rnn_backward(dh, cache)[1], atol=1e-12)


def test_loss_on_last_step_only_leaves_the_last_total_unchanged(rng):
    args = _inputs(rng)
    dh = np.zeros((N, T, H))
    dh[:, -1] = rng.normal(size=(N, H))
    _, cache = rnn_forward(*args)
    total = state_gradients(dh, cache)
    np.testing.assert_array_equal(total[:, -1], dh[:, -1])
    assert np.all(np.linalg.norm(total[:, :-1], axis=-1) > 0)


def test_bad_upstream_shape_raises_a_sentence(rng):
    _, cache = rnn_forward(*_inputs(rng))
    with pytest.raises(ShapeError, match=r"state_gradients: dh should have shape"):
        state_gradients(np.zeros((N, T, H + 1)), cache)
