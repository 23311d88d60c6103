"""The vanilla (Elman) recurrent cell, one step and a whole sequence, forward and backward.

Book: chapter 1, "The recurrent cell" and "Backpropagation through time".
"""

import numpy as np

from s2s_ref.shapes import as_float, check_shapes


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step of a vanilla RNN: h_next = tanh(x @ Wx + h_prev @ Wh + b).

    x: (N, D), h_prev: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> h_next: (N, H), cache
    Book: chapter 1, "The recurrent cell".
    """
    check_shapes(
        "rnn_step_forward", x=(x, "N D"), h_prev=(h_prev, "N H"), Wx=(Wx, "D H"),
        Wh=(Wh, "H H"), b=(b, "H"),
    )  # fmt: skip
    x, h_prev, Wx, Wh, b = as_float("rnn_step_forward", x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, b=b)
    h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
    cache = (x, h_prev, Wx, Wh, h_next)
    return h_next, cache


def rnn_step_backward(dh_next, cache):
    """Backward of one step, given dL/dh_next.

    dh_next: (N, H) -> dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    Book: chapter 1, "Backpropagation through time".
    """
    x, h_prev, Wx, Wh, h_next = cache
    check_shapes("rnn_step_backward", dh_next=(dh_next, "{} {}".format(*h_next.shape)))
    (dh_next,) = as_float("rnn_step_backward", dh_next=dh_next)
    da = dh_next * (1 - h_next**2)  # tanh'(a) = 1 - tanh(a)^2: reuse the output
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run the cell over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> h: (N, T, H), cache
    h[:, t] is the state after reading x[:, t]; h0 is not part of h.
    Book: chapter 1, "Unrolling in time".
    """
    check_shapes(
        "rnn_forward", x=(x, "N T D"), h0=(h0, "N H"), Wx=(Wx, "D H"), Wh=(Wh, "H H"),
        b=(b, "H"),
    )  # fmt: skip
    x, h0, Wx, Wh, b = as_float("rnn_forward", x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    h_prev = h0
    for t in range(T):
        h_prev, _ = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)
        h[:, t] = h_prev
    cache = (x, h0, Wx, Wh, h)
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time over the whole sequence.

    dh: (N, T, H), the upstream gradient of every h_t (from a loss on each step)
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)
    The gradient reaching h_t is its own upstream gradient plus what flows back from h_{t+1}.
    Book: chapter 1, "Backpropagation through time".
    """
    x, h0, Wx, Wh, h = cache
    check_shapes("rnn_backward", dh=(dh, "{} {} {}".format(*h.shape)))
    (dh,) = as_float("rnn_backward", dh=dh)
    T = x.shape[1]
    dx = np.empty_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0], dtype=Wh.dtype)
    dh_prev = np.zeros_like(h0)  # nothing flows back into the last state from the future
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        step_cache = (x[:, t], h_prev, Wx, Wh, h[:, t])
        dx[:, t], dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_prev, step_cache)
        dWx += dWx_t  # the weights are shared across steps: their gradients add up
        dWh += dWh_t
        db += db_t
    dh0 = dh_prev  # what flows back from the first step
    return dx, dh0, dWx, dWh, db
