"""The LSTM cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order i, f, g, o along the last axis of Wx (D, 4H), Wh (H, 4H)
and b (4H,); b is torch's ``bias_ih + bias_hh`` (one bias is enough: they are always added).
This is the plain code a learner writes in exercise 2, line for line the solution's, with the
input checks of every layer on entry (``s2s_ref.shapes``: shapes named in a ValueError, integers
computed in float64); the same arithmetic arranged for speed (one tanh for four gates,
time-major arrays) is ``s2s_ref.numpy_nn.fused``.
Book: chapter 2, "The LSTM cell" and "Backward through the LSTM".
"""

import numpy as np

from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.shapes import as_float, check_cell, check_shapes, steps_shape


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
    x, h_prev, c_prev, Wx, Wh, b = check_cell(
        "lstm_step_forward",
        "i, f, g, o",
        "N D",
        x=x,
        h_prev=h_prev,
        c_prev=c_prev,
        Wx=Wx,
        Wh=Wh,
        b=b,
    )
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])
    c_next = f * c_prev + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    cache = (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward of one step, given dL/dh_next and dL/dc_next (the cell's two outputs).

    dh_next: (N, H), dc_next: (N, H)
    -> dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Book: chapter 2, "Backward through the LSTM".
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    check_shapes(
        "lstm_step_backward",
        dh_next=(dh_next, "{} {}".format(*h_prev.shape)),
        dc_next=(dc_next, "{} {}".format(*c_prev.shape)),
    )
    dh_next, dc_next = as_float("lstm_step_backward", dh_next=dh_next, dc_next=dc_next)
    dc = dc_next + dh_next * o * (1 - tanh_c**2)
    do = dh_next * tanh_c
    di, df, dg = dc * g, dc * c_prev, dc * i
    dc_prev = dc * f
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], axis=1
    )
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
    x, h0, c0, Wx, Wh, b = check_cell(
        "lstm_forward", "i, f, g, o", "N T D", x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b
    )
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, c0, Wx))
    step_caches = []
    h_prev, c_prev = h0, c0
    for t in range(T):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        h[:, t] = h_prev
        step_caches.append(step_cache)
    cache = step_caches
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Book: chapter 2, "Backward through the LSTM".
    """
    step_caches = cache
    check_shapes("lstm_backward", dh=(dh, steps_shape(step_caches)))
    (dh,) = as_float("lstm_backward", dh=dh)
    N, T, H = dh.shape
    dx = np.empty((N, T, step_caches[0][0].shape[1]), dtype=dh.dtype)
    dh_prev, dc_prev = np.zeros((N, H), dtype=dh.dtype), np.zeros((N, H), dtype=dh.dtype)
    dWx, dWh, db = 0, 0, 0
    for t in reversed(range(T)):
        dx[:, t], dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_prev, dc_prev, step_caches[t]
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dh0, dc0 = dh_prev, dc_prev
    return dx, dh0, dc0, dWx, dWh, db
