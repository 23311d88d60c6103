"""The LSTM cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order i, f, g, o along the last axis of Wx (D, 4H), Wh (H, 4H)
and b (4H,); b is torch's ``bias_ih + bias_hh`` (one bias is enough: they are always added).
Book: chapter 2, "The LSTM cell" and "Backward through the LSTM".
"""

import numpy as np

from s2s_ref.shapes import ShapeError, check_shapes


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), written as (1 + tanh(a / 2)) / 2.

    a: any shape -> same shape. The tanh form never overflows (exp(-a) does for a < -88 in
    float32) and keeps the dtype. Book: chapter 2, "Why gates".
    """
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step:

        i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o),
                     where a = x @ Wx + h_prev @ Wh + b is split in four blocks of H columns
        c_next = f * c_prev + i * g
        h_next = o * tanh(c_next)

    x: (N, D), h_prev: (N, H), c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> h_next: (N, H), c_next: (N, H), cache
    Book: chapter 2, "The LSTM cell".
    """
    _check_lstm(
        "lstm_step_forward", x=(x, "N D"), h_prev=(h_prev, "N H"), c_prev=(c_prev, "N H"),
        Wx=(Wx, "D 4H"), Wh=(Wh, "H 4H"), b=(b, "4H"),
    )  # fmt: skip
    gates = _activate(x @ Wx + h_prev @ Wh + b)
    i, f, g, o = np.split(gates, 4, axis=1)
    c_next = f * c_prev + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    cache = (x, h_prev, c_prev, Wx, Wh, gates, tanh_c)
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward of one step, given dL/dh_next and dL/dc_next (the cell's two outputs).

    dh_next: (N, H), dc_next: (N, H)
    -> dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Book: chapter 2, "Backward through the LSTM".
    """
    x, h_prev, c_prev, Wx, Wh, gates, tanh_c = cache
    da, dc_prev = _gates_backward(dh_next, dc_next, c_prev, gates, tanh_c)
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run the LSTM over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), c0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t]; the cell states stay in
    the cache (torch.nn.LSTM returns only the last one).
    Book: chapter 2, "The LSTM cell".
    """
    _check_lstm(
        "lstm_forward", x=(x, "N T D"), h0=(h0, "N H"), c0=(c0, "N H"), Wx=(Wx, "D 4H"),
        Wh=(Wh, "H 4H"), b=(b, "4H"),
    )  # fmt: skip
    N, T, _ = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, c0, Wx, Wh, b)
    h = np.empty((N, T, H), dtype=dtype)
    c = np.empty((N, T, H), dtype=dtype)
    caches = []
    h_prev, c_prev = h0, c0
    for t in range(T):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        h[:, t], c[:, t] = h_prev, c_prev
        caches.append(step_cache)
    return h, (caches, x.shape, h0.shape)


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Book: chapter 2, "Backward through the LSTM".
    """
    caches, x_shape, h0_shape = cache
    check_shapes("lstm_backward", dh=(dh, f"{x_shape[0]} {x_shape[1]} {h0_shape[1]}"))
    T = x_shape[1]
    dx = np.empty(x_shape, dtype=dh.dtype)
    dh_prev = np.zeros(h0_shape, dtype=dh.dtype)
    dc_prev = np.zeros(h0_shape, dtype=dh.dtype)
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[:, t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_prev, dc_prev, caches[t]
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dh_prev, dc_prev, dWx, dWh, db


def _activate(a):
    """Pre-activations (..., 4H) -> gates i, f, g, o, stacked the same way."""
    H = a.shape[-1] // 4
    gates = sigmoid(a)
    gates[..., 2 * H : 3 * H] = np.tanh(a[..., 2 * H : 3 * H])
    return gates


def _gates_backward(dh_next, dc_next, c_prev, gates, tanh_c):
    """dL/dh_next, dL/dc_next -> dL/da (N, 4H) for the stacked pre-activations, and dL/dc_prev."""
    i, f, g, o = np.split(gates, 4, axis=-1)
    dc = dc_next + dh_next * o * (1 - tanh_c**2)  # c_next reaches the loss directly and via h
    d_gates = np.concatenate([dc * g, dc * c_prev, dc * i, dh_next * tanh_c], axis=-1)
    # sigmoid' = s (1 - s), tanh' = 1 - t^2, each from the gate's own output
    slope = gates * (1 - gates)
    H = g.shape[-1]
    slope[..., 2 * H : 3 * H] = 1 - g**2
    return d_gates * slope, dc * f


def _check_lstm(func, **specs):
    sizes = check_shapes(func, **specs)
    if sizes["4H"] != 4 * sizes["H"]:
        raise ShapeError(
            f"{func}: Wx, Wh and b should have 4H = {4 * sizes['H']} columns (the gates i, f, g, o "
            f"stacked, H = {sizes['H']} each), got {sizes['4H']}"
        )
