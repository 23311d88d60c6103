"""The gradient checker and clipping, against closed forms and torch."""

import numpy as np
import pytest
import torch

from s2s_ref.gradcheck import numerical_gradient, relative_error
from s2s_ref.numpy_nn.clip import clip_by_global_norm


def test_numerical_gradient_of_known_functions(rng):
    A = rng.normal(size=(4, 3))
    x = rng.normal(size=(3, 2))
    dout = rng.normal(size=(4, 2))
    # d/dx sum(dout * (A @ x)) = A.T @ dout
    num = numerical_gradient(lambda a, b: a @ b, (A, x), 1, dout)
    np.testing.assert_allclose(num, A.T @ dout, atol=1e-8)
    # a scalar function, no dout: d/dx sum(sin x) = cos x
    np.testing.assert_allclose(
        numerical_gradient(lambda z: np.sin(z).sum(), (x,), 0), np.cos(x), atol=1e-8
    )


def test_numerical_gradient_works_in_float64_and_leaves_inputs_alone(rng):
    x = rng.normal(size=(5,)).astype(np.float32)
    before = x.copy()
    g = numerical_gradient(lambda z: (z**2).sum(), (x,), 0)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x.astype(np.float64), atol=1e-7)
    np.testing.assert_array_equal(x, before)


def test_relative_error_is_scale_free():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0
    assert relative_error(1e-9 * a, 1e-9 * a * (1 + 1e-6)) == pytest.approx(5e-7, rel=1e-3)
    assert relative_error(a, -a) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(a, a[:1])


@pytest.mark.parametrize("max_norm", [0.5, 5.0, 100.0])
def test_clip_matches_torch_clip_grad_norm(rng, max_norm):
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    clipped, norm = clip_by_global_norm(grads, max_norm)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.from_numpy(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm == pytest.approx(expected_norm.item(), rel=1e-12)
    for c, p, g in zip(clipped, params, grads, strict=True):
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-12)
        assert c is not g
    new_norm = np.sqrt(sum((c**2).sum() for c in clipped))
    assert new_norm <= max_norm + 1e-9


def test_clip_keeps_dtype_and_rejects_bad_norms(rng):
    g = rng.normal(size=(3,)).astype(np.float32) * 100
    (c,), _ = clip_by_global_norm([g], 1.0)
    assert c.dtype == np.float32
    with pytest.raises(ValueError, match="max_norm must be a number > 0"):
        clip_by_global_norm([g], 0)
