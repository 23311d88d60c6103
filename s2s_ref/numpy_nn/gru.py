"""The GRU cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order r, z, n along the last axis of Wx (D, 3H), Wh (H, 3H),
bx (3H,) and bh (3H,). The reset gate multiplies ``h @ Wh_n + bh_n`` (PyTorch and cuDNN), not h
before the matmul as in Cho et al. (2014); the two biases therefore differ and both are kept.
Book: chapter 2, "The GRU cell" and "Backward through the GRU".
"""

import numpy as np

from s2s_ref.numpy_nn.lstm import sigmoid
from s2s_ref.shapes import ShapeError, check_shapes


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
    _check_gru(
        "gru_step_forward", x=(x, "N D"), h_prev=(h_prev, "N H"), Wx=(Wx, "D 3H"),
        Wh=(Wh, "H 3H"), bx=(bx, "3H"), bh=(bh, "3H"),
    )  # fmt: skip
    ax = x @ Wx + bx
    ah = h_prev @ Wh + bh
    H = h_prev.shape[1]
    rz = sigmoid(ax[:, : 2 * H] + ah[:, : 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    ah_n = ah[:, 2 * H :]
    n = np.tanh(ax[:, 2 * H :] + r * ah_n)
    h_next = n + z * (h_prev - n)  # = (1 - z) * n + z * h_prev, one product fewer
    cache = (x, h_prev, Wx, Wh, rz, n, ah_n)
    return h_next, cache


def gru_step_backward(dh_next, cache):
    """Backward of one step, given dL/dh_next.

    dh_next: (N, H) -> dx: (N, D), dh_prev: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,),
    dbh: (3H,)
    Book: chapter 2, "Backward through the GRU".
    """
    x, h_prev, Wx, Wh, rz, n, ah_n = cache
    H = h_prev.shape[1]
    r, z = rz[:, :H], rz[:, H:]
    dn = dh_next * (1 - z)
    da_n = dn * (1 - n**2)
    d_rz = np.concatenate([da_n * ah_n, dh_next * (h_prev - n)], axis=1)
    da_rz = d_rz * rz * (1 - rz)
    dax = np.concatenate([da_rz, da_n], axis=1)  # x's path: ax_n enters n outside the reset
    dah = np.concatenate([da_rz, da_n * r], axis=1)  # h's path: ah_n is scaled by r
    dx = dax @ Wx.T
    dh_prev = dh_next * z + dah @ Wh.T
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    return dx, dh_prev, dWx, dWh, dax.sum(axis=0), dah.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t].
    Book: chapter 2, "The GRU cell".
    """
    _check_gru(
        "gru_forward", x=(x, "N T D"), h0=(h0, "N H"), Wx=(Wx, "D 3H"), Wh=(Wh, "H 3H"),
        bx=(bx, "3H"), bh=(bh, "3H"),
    )  # fmt: skip
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, bx, bh))
    caches = []
    h_prev = h0
    for t in range(T):
        h_prev, step_cache = gru_step_forward(x[:, t], h_prev, Wx, Wh, bx, bh)
        h[:, t] = h_prev
        caches.append(step_cache)
    return h, (caches, x.shape, h0.shape)


def gru_backward(dh, cache):
    """Backpropagation through time for the GRU.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    Book: chapter 2, "Backward through the GRU".
    """
    caches, x_shape, h0_shape = cache
    check_shapes("gru_backward", dh=(dh, f"{x_shape[0]} {x_shape[1]} {h0_shape[1]}"))
    dx = np.empty(x_shape, dtype=dh.dtype)
    dh_prev = np.zeros(h0_shape, dtype=dh.dtype)
    grads = 0, 0, 0, 0
    for t in reversed(range(x_shape[1])):
        dx[:, t], dh_prev, *step = gru_step_backward(dh[:, t] + dh_prev, caches[t])
        grads = tuple(a + s for a, s in zip(grads, step, strict=True))
    return (dx, dh_prev, *grads)


def _check_gru(func, **specs):
    sizes = check_shapes(func, **specs)
    if sizes["3H"] != 3 * sizes["H"]:
        raise ShapeError(
            f"{func}: Wx, Wh, bx and bh should have 3H = {3 * sizes['H']} columns (the gates r, "
            f"z, n stacked, H = {sizes['H']} each), got {sizes['3H']}"
        )
