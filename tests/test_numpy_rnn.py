"""The NumPy RNN's own contracts: float32 kept, bad shapes refused by name (its values and
gradients: test_cells.py)."""

import numpy as np
import pytest

from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward
from s2s_ref.shapes import ShapeError

from .conftest import D, H, N, T


def _params(rng, dtype=np.float64):
    return (
        rng.normal(size=(D, H)).astype(dtype) * 0.5,
        rng.normal(size=(H, H)).astype(dtype) * 0.5,
        rng.normal(size=H).astype(dtype) * 0.1,
    )


def test_float32_in_float32_out(rng):
    x, h0 = rng.normal(size=(N, T, D)).astype(np.float32), np.zeros((N, H), np.float32)
    h, cache = rnn_forward(x, h0, *_params(rng, np.float32))
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_backward(np.ones_like(h), cache))


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
