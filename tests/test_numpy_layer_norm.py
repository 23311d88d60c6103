"""NumPy layer norm against float64 central differences, torch autograd and torch.nn.LayerNorm."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.layer_norm import layer_norm_backward, layer_norm_forward

SHAPES = [(7,), (2, 5, 6), (1, 1, 9), (3, 4, 2, 5)]


def _problem(shape, seed):
    rng = np.random.default_rng(seed)
    D = shape[-1]
    x = rng.normal(loc=2.0, scale=3.0, size=shape)  # far from mean 0 / variance 1 on purpose
    return x, rng.normal(size=D), rng.normal(size=D), rng.normal(size=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_equals_torch_layer_norm(shape):
    x, gamma, beta, _ = _problem(shape, seed=1)
    y, _ = layer_norm_forward(x, gamma, beta)
    ref = torch.nn.functional.layer_norm(
        torch.from_numpy(x), (shape[-1],), torch.from_numpy(gamma), torch.from_numpy(beta), 1e-5
    )
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_backward_equals_central_differences(shape):
    x, gamma, beta, dy = _problem(shape, seed=2)
    _, cache = layer_norm_forward(x, gamma, beta)
    grads = layer_norm_backward(dy, cache)

    def f(x, gamma, beta):
        return layer_norm_forward(x, gamma, beta)[0]

    for i, (name, g) in enumerate(zip(("dx", "dgamma", "dbeta"), grads, strict=True)):
        num = numerical_gradient(f, [x, gamma, beta], i, dy)
        assert relative_error(g, num) < 1e-7, name


@pytest.mark.parametrize("shape", SHAPES)
def test_backward_equals_torch_autograd(shape):
    x, gamma, beta, dy = _problem(shape, seed=3)
    _, cache = layer_norm_forward(x, gamma, beta)
    grads = layer_norm_backward(dy, cache)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    torch.nn.functional.layer_norm(tx, (shape[-1],), tg, tb, 1e-5).backward(torch.from_numpy(dy))
    for name, g, t in zip(("dx", "dgamma", "dbeta"), grads, (tx, tg, tb), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_without_the_mean_terms_the_gradient_is_wrong():
    """The two mean terms of dx are not optional: dropping them fails the oracle by a lot."""
    x, gamma, beta, dy = _problem((2, 5, 6), seed=4)
    _, cache = layer_norm_forward(x, gamma, beta)
    dx, _, _ = layer_norm_backward(dy, cache)
    inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)
    assert relative_error(dy * gamma * inv_std, dx) > 0.1
    np.testing.assert_allclose(dx.sum(axis=-1), 0, atol=1e-10)  # shifting x changes nothing


def test_normalised_rows_and_float32_stays_float32():
    x, gamma, beta, _ = _problem((3, 4, 8), seed=5)
    y, _ = layer_norm_forward(x, np.ones(8), np.zeros(8))
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-5)  # eps makes it a hair below 1
    y32, cache = layer_norm_forward(
        x.astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32)
    )
    assert y32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer_norm_backward(np.ones_like(y32), cache))


def test_a_constant_vector_stays_finite():
    y, cache = layer_norm_forward(np.full((2, 5), 3.0), np.ones(5), np.full(5, 0.5))
    np.testing.assert_array_equal(y, 0.5)
    assert np.isfinite(layer_norm_backward(np.ones((2, 5)), cache)[0]).all()


def test_inputs_are_not_written():
    x, gamma, beta, dy = _problem((2, 3, 4), seed=6)
    copies = [a.copy() for a in (x, gamma, beta, dy)]
    _, cache = layer_norm_forward(x, gamma, beta)
    layer_norm_backward(dy, cache)
    for a, c in zip((x, gamma, beta, dy), copies, strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "x, gamma, beta, eps, error, match",
    [
        (
            np.ones((2, 4)),
            np.ones(3),
            np.zeros(4),
            1e-5,
            ValueError,
            r"gamma should have shape \(D,\) = \(4,\)",
        ),
        (np.ones((2, 4)), np.ones(4), np.zeros((1, 4)), 1e-5, ValueError, "beta should have shape"),
        (
            np.ones((2, 4), dtype=np.int64),
            np.ones(4),
            np.zeros(4),
            1e-5,
            TypeError,
            "x must be a float array",
        ),
        (np.ones((2, 4)), np.ones(4), np.zeros(4), 0.0, ValueError, "eps must be > 0"),
        (np.ones((2, 0)), np.ones(0), np.zeros(0), 1e-5, ValueError, "D >= 1"),
    ],
)
def test_bad_input_gets_a_sentence(x, gamma, beta, eps, error, match):
    with pytest.raises(error, match=match):
        layer_norm_forward(x, gamma, beta, eps)
