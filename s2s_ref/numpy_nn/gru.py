"""The GRU cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order r, z, n along the last axis of Wx (D, 3H), Wh (H, 3H),
bx (3H,) and bh (3H,). The reset gate multiplies ``h @ Wh_n + bh_n`` (PyTorch and cuDNN), not h
before the matmul as in Cho et al. (2014); the two biases therefore differ and both are kept.
This is the plain code a learner writes in exercise 2, line for line the solution's, with the
input checks of every layer on entry (``s2s_ref.shapes``: shapes named in a ValueError, integers
computed in float64); the same arithmetic arranged for speed (time-major arrays, ``out=``
buffers) is ``s2s_ref.numpy_nn.fused``.
Book: chapter 2, "The GRU cell" and "Backward through the GRU".
"""

import numpy as np

from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.shapes import as_float, check_cell, check_shapes, steps_shape


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step, with ax = x @ Wx + bx and ah = h_prev @ Wh + bh split in blocks r, z, n:

        r = sigmoid(ax_r + ah_r)
        z = sigmoid(ax_z + ah_z)
        n = tanh(ax_n + r * ah_n)
        h_next = (1 - z) * n + z * h_prev

    x: (N, D), h_prev: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,)
    -> h_next: (N, H), cache
    Book: chapter 2, "The GRU cell".
    """
    x, h_prev, Wx, Wh, bx, bh = check_cell(
        "gru_step_forward", "r, z, n", "N D", x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, bx=bx, bh=bh
    )
    H = h_prev.shape[1]
    ax = x @ Wx + bx
    ah = h_prev @ Wh + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])
    h_next = (1 - z) * n + z * h_prev
    cache = (x, h_prev, Wx, Wh, r, z, n, ah[:, 2 * H :])
    return h_next, cache


def gru_step_backward(dh_next, cache):
    """Backward of one step, given dL/dh_next.

    dh_next: (N, H) -> dx: (N, D), dh_prev: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,),
    dbh: (3H,)
    Book: chapter 2, "Backward through the GRU".
    """
    x, h_prev, Wx, Wh, r, z, n, ah_n = cache
    check_shapes("gru_step_backward", dh_next=(dh_next, "{} {}".format(*h_prev.shape)))
    (dh_next,) = as_float("gru_step_backward", dh_next=dh_next)
    dn = dh_next * (1 - z)
    dz = dh_next * (h_prev - n)
    da_n = dn * (1 - n**2)
    dr = da_n * ah_n
    da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)
    dx = dax @ Wx.T
    dh_prev = dh_next * z + dah @ Wh.T
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    dbx, dbh = dax.sum(axis=0), dah.sum(axis=0)
    return dx, dh_prev, dWx, dWh, dbx, dbh


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t].
    Book: chapter 2, "The GRU cell".
    """
    x, h0, Wx, Wh, bx, bh = check_cell(
        "gru_forward", "r, z, n", "N T D", x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh
    )
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    step_caches = []
    h_prev = h0
    for t in range(T):
        h_prev, step_cache = gru_step_forward(x[:, t], h_prev, Wx, Wh, bx, bh)
        h[:, t] = h_prev
        step_caches.append(step_cache)
    cache = step_caches
    return h, cache


def gru_backward(dh, cache):
    """Backpropagation through time for the GRU.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    Book: chapter 2, "Backward through the GRU".
    """
    step_caches = cache
    check_shapes("gru_backward", dh=(dh, steps_shape(step_caches)))
    (dh,) = as_float("gru_backward", dh=dh)
    N, T, H = dh.shape
    dx = np.empty((N, T, step_caches[0][0].shape[1]), dtype=dh.dtype)
    dh_prev = np.zeros((N, H), dtype=dh.dtype)
    grads = [0, 0, 0, 0]
    for t in reversed(range(T)):
        dx[:, t], dh_prev, *step = gru_step_backward(dh[:, t] + dh_prev, step_caches[t])
        grads = [g + s for g, s in zip(grads, step, strict=True)]
    dWx, dWh, dbx, dbh = grads
    dh0 = dh_prev
    return dx, dh0, dWx, dWh, dbx, dbh
