"""The weight converter between the NumPy layout and torch.nn.LSTM/GRU state dicts."""

import numpy as np
import pytest
import torch

from s2s_ref.shapes import ShapeError
from s2s_ref.torch_nn.convert import gru_from_torch, gru_to_torch, lstm_from_torch, lstm_to_torch

from .conftest import D, H, N, T


def _lstm_weights(rng, dtype=np.float64):
    return tuple(rng.normal(size=s).astype(dtype) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))


def _gru_weights(rng, dtype=np.float64):
    shapes = ((D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,))
    return tuple(rng.normal(size=s).astype(dtype) for s in shapes)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_torch_numpy_round_trip_is_exact(rng, dtype):
    lstm = _lstm_weights(rng, dtype)
    for a, b in zip(lstm, lstm_from_torch(lstm_to_torch(*lstm)), strict=True):
        assert b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    gru = _gru_weights(rng, dtype)
    for a, b in zip(gru, gru_from_torch(gru_to_torch(*gru, suffix=""), suffix=""), strict=True):
        assert b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_torch_numpy_torch_round_trip_keeps_the_lstm_function():
    """The two LSTM biases merge into one: the state dict changes, the function does not."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    copy = torch.nn.LSTM(D, H, batch_first=True).double()
    copy.load_state_dict(lstm_to_torch(*lstm_from_torch(lstm.state_dict())))
    x = torch.randn(N, T, D, dtype=torch.float64)
    torch.testing.assert_close(copy(x)[0], lstm(x)[0], rtol=0, atol=1e-14)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        torch.testing.assert_close(copy.state_dict()[name], lstm.state_dict()[name], rtol=0, atol=0)


def test_torch_numpy_torch_round_trip_is_exact_for_the_gru():
    torch.manual_seed(1)
    gru = torch.nn.GRU(D, H, batch_first=True)
    state = gru_to_torch(*gru_from_torch(gru.state_dict()))
    assert state.keys() == gru.state_dict().keys()
    for name, value in gru.state_dict().items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)


def test_layout_is_a_transpose_with_gates_in_torch_order(rng):
    Wx, Wh, b = _lstm_weights(rng)
    state = lstm_to_torch(Wx, Wh, b)
    assert state["weight_ih_l0"].shape == (4 * H, D)
    assert state["weight_hh_l0"].shape == (4 * H, H)
    # row k of torch's weight is column k of ours: the forget gate's block is rows H..2H
    np.testing.assert_array_equal(state["weight_ih_l0"][H : 2 * H].numpy(), Wx[:, H : 2 * H].T)
    np.testing.assert_array_equal(state["bias_hh_l0"].numpy(), 0.0)


def test_results_never_share_memory_with_the_arguments(rng):
    Wx, Wh, b = _lstm_weights(rng)
    state = lstm_to_torch(Wx, Wh, b)
    state["weight_ih_l0"].zero_()
    state["bias_ih_l0"].zero_()
    assert np.abs(Wx).min() > 0 and np.abs(b).min() > 0
    module = torch.nn.GRU(D, H)
    Wx, Wh, bx, bh = gru_from_torch(module.state_dict())
    Wx[:] = bx[:] = 0
    assert module.weight_ih_l0.abs().min() > 0 and module.bias_ih_l0.abs().min() > 0


def test_cell_suffix_loads_into_lstm_cell_and_gru_cell(rng):
    torch.nn.LSTMCell(D, H).double().load_state_dict(lstm_to_torch(*_lstm_weights(rng), ""))
    torch.nn.GRUCell(D, H).double().load_state_dict(gru_to_torch(*_gru_weights(rng), ""))


def test_missing_keys_explain_the_suffix():
    with pytest.raises(KeyError, match=r'no weight_ih_l0.*suffix="" reads nn.LSTMCell'):
        lstm_from_torch(torch.nn.LSTMCell(D, H).state_dict())


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda W: lstm_to_torch(W[0].T, W[1], W[2]),
            r"lstm_to_torch: Wx should have shape \(D 4H\) = \(D, 24\), got \(24, 4\)",
        ),
        (lambda W: lstm_to_torch(W[0], W[1], W[2][:-1]), r"b should have shape \(4H\) = \(24\)"),
        (
            lambda W: lstm_to_torch(W[0][:, :12], W[1][:, :12], W[2][:12]),
            r"Wh should have shape \(H, 4H\), 4 gates of H columns stacked, got \(6, 12\)",
        ),
    ],
)
def test_bad_lstm_shapes_raise_a_sentence(rng, call, message):
    with pytest.raises(ShapeError, match=message):
        call(_lstm_weights(rng))


def test_bad_gru_shapes_raise_a_sentence(rng):
    Wx, Wh, bx, bh = _gru_weights(rng)
    message = r"gru_to_torch: Wh should have shape \(H, 3H\), 3 gates of H columns stacked"
    with pytest.raises(ShapeError, match=message + r", got \(18, 6\)"):
        gru_to_torch(Wx, Wh.T, bx, bh)
    lstm_state = torch.nn.LSTM(D, H).state_dict()
    with pytest.raises(
        ShapeError, match=r"gru_from_torch: Wh should have shape \(H, 3H\).*got \(6, 24\)"
    ):
        gru_from_torch(lstm_state)
