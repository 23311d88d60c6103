"""The fused LSTM/GRU (``numpy_nn.fused``) against the readable reference cells, and the contracts
both keep: float32 kept, inputs left alone, bad shapes refused by name.

Oracle: the readable ``lstm_forward``/``lstm_backward`` and ``gru_forward``/``gru_backward``
(themselves checked against finite differences and torch.nn in test_cells.py)."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

from s2s_ref.numpy_nn import fused, gru, lstm
from s2s_ref.shapes import ShapeError


class Cell(NamedTuple):
    forward: Callable  # the readable reference
    backward: Callable
    fused_forward: Callable
    fused_backward: Callable
    gates: int
    states: int  # h0, c0 for the LSTM; h0 for the GRU


CELLS = {
    "lstm": Cell(
        lstm.lstm_forward,
        lstm.lstm_backward,
        fused.fused_lstm_forward,
        fused.fused_lstm_backward,
        4,
        2,
    ),
    "gru": Cell(
        gru.gru_forward, gru.gru_backward, fused.fused_gru_forward, fused.fused_gru_backward, 3, 1
    ),
}


IMPLEMENTATIONS = ["readable", "fused"]


def _functions(cell, implementation):
    """-> forward, backward and the name their errors start with."""
    c = CELLS[cell]
    if implementation == "fused":
        return c.fused_forward, c.fused_backward, f"fused_{cell}"
    return c.forward, c.backward, cell


def _args(rng, cell, N, T, D, H, dtype=np.float64):
    """Inputs of ``cell``'s sequence forward: x, the states, Wx, Wh and the biases."""
    G, states = CELLS[cell].gates, CELLS[cell].states
    arrays = [rng.normal(size=(N, T, D)), *(rng.normal(size=(N, H)) for _ in range(states))]
    arrays += [rng.normal(size=(D, G * H)) * 0.5, rng.normal(size=(H, G * H)) * 0.5]
    arrays += [rng.normal(size=G * H) * 0.3 for _ in range(3 - states)]
    return [a.astype(dtype) for a in arrays]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N, T, D, H", [(3, 5, 4, 6), (1, 1, 2, 3), (1, 7, 5, 2), (4, 1, 3, 5)])
def test_fused_equals_the_readable_cell_in_values_and_gradients(rng, cell, N, T, D, H):
    forward, backward, fused_forward, fused_backward, *_ = CELLS[cell]
    args = _args(rng, cell, N, T, D, H)
    dh = rng.normal(size=(N, T, H))
    h, cache = forward(*args)
    h_fused, fused_cache = fused_forward(*args)
    np.testing.assert_allclose(h_fused, h, rtol=1e-12, atol=1e-13)
    grads = backward(dh, cache)
    fused_grads = fused_backward(dh, fused_cache)
    assert len(fused_grads) == len(grads) == len(args)
    for i, (got, want) in enumerate(zip(fused_grads, grads, strict=True)):
        assert got.shape == args[i].shape, f"gradient {i}"
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12, err_msg=f"gradient {i}")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_float32_is_kept_and_the_inputs_left_alone(rng, cell, implementation):
    forward, backward, _ = _functions(cell, implementation)
    args = _args(rng, cell, 3, 5, 4, 6, np.float32)
    before = [a.copy() for a in args]
    h, cache = forward(*args)
    dh = np.ones_like(h)
    grads = backward(dh, cache)
    assert h.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * len(args)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dh, 1.0)


@pytest.mark.parametrize(
    "cell, bad, message",
    [
        ("lstm", "Wx_transposed", r"Wx should have shape \(D 4H\) = \(4, 4H\), got \(24, 4\)"),
        ("lstm", "Wh_one_gate", r"Wh should have shape \(H 4H\) = \(6, 24\), got \(6, 6\)"),
        (
            "lstm",
            "three_gates",
            r"4H = 24 columns \(the gates i, f, g, o stacked, H = 6 each\), got 18",
        ),
        ("lstm", "x_2d", r"x should have 3 dimension\(s\) \(N T D\)"),
        ("lstm", "state_size", r"c0 should have shape \(N H\) = \(3, 6\), got \(3, 5\)"),
        ("gru", "Wx_transposed", r"Wx should have shape \(D 3H\) = \(4, 3H\), got \(18, 4\)"),
        ("gru", "four_gates", r"3H = 18 columns \(the gates r, z, n stacked, H = 6 each\), got 24"),
        ("gru", "bias_short", r"bh should have shape \(3H\) = \(18\), got \(12,\)"),
        ("gru", "state_1d", r"h0 should have 2 dimension\(s\) \(N H\)"),
    ],
)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bad_shapes_raise_a_sentence(rng, cell, bad, message, implementation):
    states = CELLS[cell].states
    x, *rest = _args(rng, cell, 3, 5, 4, 6)
    state, Wx, Wh, biases = rest[:states], rest[states], rest[states + 1], rest[states + 2 :]
    if bad == "Wx_transposed":
        Wx = Wx.T
    elif bad == "Wh_one_gate":
        Wh = Wh[:, :6]
    elif bad in ("three_gates", "four_gates"):
        k = 3 if bad == "three_gates" else 4
        Wx, Wh = rng.normal(size=(4, k * 6)), rng.normal(size=(6, k * 6))
        biases = [np.zeros(k * 6) for _ in biases]
    elif bad == "x_2d":
        x = x[:, 0]
    elif bad == "state_size":
        state[-1] = state[-1][:, :5]
    elif bad == "bias_short":
        biases[-1] = biases[-1][:12]
    else:
        state[0] = state[0][0]
    forward, _, name = _functions(cell, implementation)
    with pytest.raises(ShapeError, match=rf"{name}_forward: .*{message}"):
        forward(x, *state, Wx, Wh, *biases)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("cut", [np.s_[:, :-1], np.s_[:-1], np.s_[..., :1]])
def test_backward_refuses_an_upstream_gradient_of_the_wrong_shape(rng, cell, implementation, cut):
    forward, backward, name = _functions(cell, implementation)
    h, cache = forward(*_args(rng, cell, 3, 5, 4, 6))
    with pytest.raises(ShapeError, match=rf"{name}_backward: dh should have shape"):
        backward(h[cut], cache)


@pytest.mark.parametrize("cell", CELLS)
def test_step_backward_refuses_upstream_gradients_of_another_shape(rng, cell):
    """The readable step functions check dh_next (and the LSTM's dc_next) against the cache."""
    module = lstm if cell == "lstm" else gru
    x, *rest = _args(rng, cell, 3, 1, 4, 6)
    *_, cache = getattr(module, f"{cell}_step_forward")(x[:, 0], *rest)
    good, wrong = np.ones((3, 6)), np.ones((3, 1))
    step_backward = getattr(module, f"{cell}_step_backward")
    with pytest.raises(ShapeError, match=f"{cell}_step_backward: dh_next"):
        step_backward(wrong, *[good] * (CELLS[cell].states - 1), cache)
    if cell == "lstm":
        with pytest.raises(ShapeError, match="lstm_step_backward: dc_next"):
            step_backward(good, wrong, cache)
