"""The GRU cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order r, z, n along the last axis of Wx (D, 3H), Wh (H, 3H),
bx (3H,) and bh (3H,). The reset gate multiplies ``h @ Wh_n + bh_n`` (PyTorch and cuDNN), not h
before the matmul as in Cho et al. (2014); the two biases therefore differ and both are kept.
Book: chapter 2, "The GRU cell" and "Backward through the GRU".
"""

import numpy as np

from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.shapes import ShapeError, as_float, check_shapes


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
    x, h_prev, Wx, Wh, bx, bh = as_float(
        "gru_step_forward", x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, bx=bx, bh=bh
    )
    ax = x @ Wx + bx
    ah = h_prev @ Wh + bh
    N, H = h_prev.shape
    dtype = np.result_type(ax, ah, h_prev)
    rz = np.empty((N, 2 * H), dtype=dtype)
    n, h_next = np.empty((N, H), dtype=dtype), np.empty((N, H), dtype=dtype)
    _cell_forward(ax, ah, h_prev, rz, n, h_next)
    cache = (x, h_prev, Wx, Wh, rz, n, ah[:, 2 * H :])
    return h_next, cache


def gru_step_backward(dh_next, cache):
    """Backward of one step, given dL/dh_next.

    dh_next: (N, H) -> dx: (N, D), dh_prev: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,),
    dbh: (3H,)
    Book: chapter 2, "Backward through the GRU".
    """
    x, h_prev, Wx, Wh, rz, n, ah_n = cache
    N, H = h_prev.shape
    check_shapes("gru_step_backward", dh_next=(dh_next, f"{N} {H}"))
    (dh_next,) = as_float("gru_step_backward", dh_next=dh_next)
    dax, dah = np.empty((N, 3 * H), dtype=n.dtype), np.empty((N, 3 * H), dtype=n.dtype)
    dh_prev = _cell_backward(dh_next, h_prev, rz, n, ah_n, dax, dah)
    dh_prev += dah @ Wh.T
    dx = dax @ Wx.T
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    return dx, dh_prev, dWx, dWh, dax.sum(axis=0), dah.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t].
    Same arithmetic as gru_step_forward at each step, arranged for speed as in lstm_forward:
    x @ Wx + bx for all steps in one matmul before the loop, and time-major (T, N, .) arrays
    inside it, so that each step's slice is contiguous.
    Book: chapter 2, "The GRU cell".
    """
    _check_gru(
        "gru_forward", x=(x, "N T D"), h0=(h0, "N H"), Wx=(Wx, "D 3H"), Wh=(Wh, "H 3H"),
        bx=(bx, "3H"), bh=(bh, "3H"),
    )  # fmt: skip
    x, h0, Wx, Wh, bx, bh = as_float("gru_forward", x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    N, T, D = x.shape
    H = h0.shape[1]
    x_tm = x.transpose(1, 0, 2).reshape(T * N, D)  # (T*N, D), a time-major copy
    ax = x_tm @ Wx
    ax += bx
    ax = ax.reshape(T, N, 3 * H)
    dtype = np.result_type(ax, h0, Wh, bh)
    rz = np.empty((T, N, 2 * H), dtype=dtype)
    n, ah_n, h = (np.empty((T, N, H), dtype=dtype) for _ in range(3))
    h_prev = h0
    for t in range(T):
        ah = h_prev @ Wh
        ah += bh
        _cell_forward(ax[t], ah, h_prev, rz[t], n[t], h[t])
        ah_n[t] = ah[:, 2 * H :]
        h_prev = h[t]
    cache = (x_tm, h0, Wx, Wh, rz, n, ah_n, h)
    return np.ascontiguousarray(h.transpose(1, 0, 2)), cache  # (N, T, H), batch-first again


def gru_backward(dh, cache):
    """Backpropagation through time for the GRU.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    Same arithmetic as gru_step_backward at each step, arranged as in lstm_backward: the loop
    keeps dax_t and dah_t for all steps; dx and the weight gradients are one matmul each after.
    Book: chapter 2, "Backward through the GRU".
    """
    x_tm, h0, Wx, Wh, rz, n, ah_n, h = cache
    T, N, H = h.shape
    check_shapes("gru_backward", dh=(dh, f"{N} {T} {H}"))
    (dh,) = as_float("gru_backward", dh=dh)
    dh_tm = dh.transpose(1, 0, 2)  # (T, N, H) view
    dax = np.empty((T, N, 3 * H), dtype=h.dtype)
    dah = np.empty_like(dax)
    dh_next = np.zeros(h0.shape, dtype=h.dtype)  # nothing flows back from after the last step
    Wh_T = np.ascontiguousarray(Wh.T)  # a row-major copy: faster in the loop's matmul
    for t in reversed(range(T)):
        h_prev = h[t - 1] if t > 0 else h0
        dh_next = _cell_backward(dh_tm[t] + dh_next, h_prev, rz[t], n[t], ah_n[t], dax[t], dah[t])
        dh_next += dah[t] @ Wh_T
    h_prev = np.concatenate([h0[None], h])[:T].reshape(T * N, H)  # the h each step read
    dax_rows, dah_rows = dax.reshape(T * N, 3 * H), dah.reshape(T * N, 3 * H)
    dx = (dax_rows @ Wx.T).reshape(T, N, Wx.shape[0]).transpose(1, 0, 2)  # (N, T, D)
    dWx = x_tm.T @ dax_rows
    dWh = h_prev.T @ dah_rows
    return np.ascontiguousarray(dx), dh_next, dWx, dWh, dax_rows.sum(0), dah_rows.sum(0)


def _cell_forward(ax, ah, h_prev, rz, n, h_next):
    """The pointwise part of a step, writing into rz (N, 2H), n (N, H) and h_next (N, H).

    ax = x @ Wx + bx and ah = h_prev @ Wh + bh: (N, 3H); h_prev: (N, H).
    """
    H = h_prev.shape[1]
    np.add(ax[:, : 2 * H], ah[:, : 2 * H], out=rz)
    sigmoid(rz, out=rz)  # r and z side by side
    np.multiply(rz[:, :H], ah[:, 2 * H :], out=n)  # the reset gate scales h @ Wh_n + bh_n
    n += ax[:, 2 * H :]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h_next)
    h_next *= rz[:, H:]
    h_next += n  # = (1 - z) * n + z * h_prev, one product fewer


def _cell_backward(dh_next, h_prev, rz, n, ah_n, dax, dah):
    """dL/dh_next (N, H) -> dL/d(ax) into dax and dL/d(ah) into dah, both (N, 3H); returns
    the part of dL/dh_prev that does not go through Wh: dh_next * z."""
    H = h_prev.shape[1]
    r, z = rz[:, :H], rz[:, H:]
    da_n = dax[:, 2 * H :]
    np.multiply(dh_next, 1 - z, out=da_n)  # h_next = (1 - z) * n + z * h_prev
    da_n *= 1 - n**2  # tanh' = 1 - n^2
    np.multiply(da_n, ah_n, out=dax[:, :H])  # n = tanh(ax_n + r * ah_n)
    np.subtract(h_prev, n, out=dax[:, H : 2 * H])
    dax[:, H : 2 * H] *= dh_next
    dax[:, : 2 * H] *= rz * (1 - rz)  # sigmoid' = s (1 - s), for r and z at once
    dah[:, : 2 * H] = dax[:, : 2 * H]  # r and z see ax and ah through the same sum
    np.multiply(da_n, r, out=dah[:, 2 * H :])  # ah_n is scaled by r, ax_n is not
    return dh_next * z


def _check_gru(func, **specs):
    sizes = check_shapes(func, **specs)
    if sizes["3H"] != 3 * sizes["H"]:
        raise ShapeError(
            f"{func}: Wx, Wh, bx and bh should have 3H = {3 * sizes['H']} columns (the gates r, "
            f"z, n stacked, H = {sizes['H']} each), got {sizes['3H']}"
        )
