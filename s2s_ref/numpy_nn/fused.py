"""The LSTM and the GRU over a whole sequence, arranged for speed: the speed page's version.

The same arithmetic as ``lstm_forward``/``lstm_backward`` in ``s2s_ref.numpy_nn.lstm`` and
``gru_forward``/``gru_backward`` in ``s2s_ref.numpy_nn.gru`` (a test proves the values and the
gradients equal), with the same arguments and returns; only the cache is laid out differently, so
a fused forward goes with its fused backward. What changes:

- x @ Wx + b does not depend on the recurrence: one matmul for all steps before the loop;
- the weight gradients are sums over steps: the pre-activation gradients of all steps are kept
  as one (T*N, G*H) matrix and dx, dWx, dWh, db are one matmul or sum each after the loop;
- the arrays inside the loop are time-major (T, N, .), so that each step's slice is one
  contiguous block of memory (NumPy's elementwise work then runs about twice as fast);
- one tanh computes the four LSTM gates (sigmoid(a) = tanh(a / 2) / 2 + 1 / 2), and results go
  into preallocated slices with ``out=``;
- arguments are checked (a wrong shape is a sentence naming it) and float32 stays float32.

Used by the benchmark ``python -m s2s_ref.bench.gated``.
Book: chapter 2, "How fast is the NumPy LSTM?".
"""

import numpy as np

from s2s_ref.numpy_nn.activations import sigmoid
from s2s_ref.shapes import as_float, check_cell, check_shapes


def fused_lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run the LSTM over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), c0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t]; the cell states stay in
    the cache (torch.nn.LSTM returns only the last one).
    The values of ``lstm.lstm_forward``; x @ Wx + b for all steps in one matmul before the loop,
    time-major (T, N, .) arrays inside it, one tanh for the four gates.
    """
    x, h0, c0, Wx, Wh, b = check_cell(
        "fused_lstm_forward", "i, f, g, o", "N T D", x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b
    )
    N, T, D = x.shape
    H = h0.shape[1]
    x_tm = x.transpose(1, 0, 2).reshape(T * N, D)  # (T*N, D), a time-major copy
    # sigmoid(a) = tanh(a / 2) / 2 + 1 / 2 and tanh(a) = tanh(a) * 1 + 0: one tanh over all four
    # blocks once the pre-activations are scaled by 1/2 (1 for g). The weights and bias are
    # scaled, once: exact (a power of two), and no pass over the gates at every step
    scale = np.full(4 * H, 0.5, dtype=np.result_type(x, Wx))
    scale[2 * H : 3 * H] = 1.0
    gates = x_tm @ (Wx * scale)
    gates += b * scale  # in place: no second (T*N, 4H) temporary
    gates = gates.reshape(T, N, 4 * H)  # scaled pre-activations, turned into gates in place
    Wh_scaled = Wh * scale
    c, tanh_c, h = (np.empty((T, N, H), dtype=np.result_type(gates, h0, c0)) for _ in range(3))
    h_prev, c_prev = h0, c0
    for t in range(T):
        gates[t] += h_prev @ Wh_scaled
        _lstm_cell_forward(gates[t], scale, c_prev, c[t], tanh_c[t], h[t])
        h_prev, c_prev = h[t], c[t]
    cache = (x_tm, h0, c0, Wx, Wh, gates, c, tanh_c, h)
    return np.ascontiguousarray(h.transpose(1, 0, 2)), cache  # (N, T, H), batch-first again


def fused_lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    cache: from fused_lstm_forward. The values of ``lstm.lstm_backward``; inside the loop only
    what step t needs from step t + 1 (dh_prev = da_t @ Wh.T and dc_prev). The gradients da_t of
    the pre-activations are kept for all steps, and dx, dWx, dWh and db are one matmul or sum
    each after the loop (a sum over steps and examples is a sum over the rows of the (T*N, 4H)
    matrix).
    """
    x_tm, h0, c0, Wx, Wh, gates, c, tanh_c, h = cache
    T, N, H = h.shape
    check_shapes("fused_lstm_backward", dh=(dh, f"{N} {T} {H}"))
    (dh,) = as_float("fused_lstm_backward", dh=dh)
    dh_tm = dh.transpose(1, 0, 2)  # (T, N, H) view
    da = np.empty_like(gates)  # (T, N, 4H)
    dh_next = np.zeros(h0.shape, dtype=da.dtype)  # nothing flows back from after the last step
    dc_next = np.zeros_like(dh_next)
    Wh_T = np.ascontiguousarray(Wh.T)  # a row-major copy: faster in the loop's matmul
    for t in reversed(range(T)):
        c_prev = c[t - 1] if t > 0 else c0
        slope, dh_dc = _lstm_local_derivatives(gates[t], tanh_c[t])
        dc_next = _lstm_cell_backward(
            dh_tm[t] + dh_next, dc_next, c_prev, gates[t], tanh_c[t], slope, dh_dc, da[t]
        )
        dh_next = da[t] @ Wh_T
    h_prev = np.concatenate([h0[None], h])[:T].reshape(T * N, H)  # the h each step read
    da_rows = da.reshape(T * N, 4 * H)
    dx = (da_rows @ Wx.T).reshape(T, N, Wx.shape[0]).transpose(1, 0, 2)  # (N, T, D)
    dWx = x_tm.T @ da_rows
    dWh = h_prev.T @ da_rows
    db = da_rows.sum(axis=0)
    return np.ascontiguousarray(dx), dh_next, dc_next, dWx, dWh, db


def fused_gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a batch-first sequence, returning every hidden state.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,)
    -> h: (N, T, H), cache. h[:, t] is the state after reading x[:, t].
    The values of ``gru.gru_forward``, arranged as in fused_lstm_forward: x @ Wx + bx for all
    steps in one matmul before the loop, and time-major (T, N, .) arrays inside it.
    """
    x, h0, Wx, Wh, bx, bh = check_cell(
        "fused_gru_forward", "r, z, n", "N T D", x=x, h0=h0, Wx=Wx, Wh=Wh, bx=bx, bh=bh
    )
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
        _gru_cell_forward(ax[t], ah, h_prev, rz[t], n[t], h[t])
        ah_n[t] = ah[:, 2 * H :]
        h_prev = h[t]
    cache = (x_tm, h0, Wx, Wh, rz, n, ah_n, h)
    return np.ascontiguousarray(h.transpose(1, 0, 2)), cache  # (N, T, H), batch-first again


def fused_gru_backward(dh, cache):
    """Backpropagation through time for the GRU.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    cache: from fused_gru_forward. The values of ``gru.gru_backward``, arranged as in
    fused_lstm_backward: the loop keeps dax_t and dah_t for all steps; dx and the weight
    gradients are one matmul each after it.
    """
    x_tm, h0, Wx, Wh, rz, n, ah_n, h = cache
    T, N, H = h.shape
    check_shapes("fused_gru_backward", dh=(dh, f"{N} {T} {H}"))
    (dh,) = as_float("fused_gru_backward", dh=dh)
    dh_tm = dh.transpose(1, 0, 2)  # (T, N, H) view
    dax = np.empty((T, N, 3 * H), dtype=h.dtype)
    dah = np.empty_like(dax)
    dh_next = np.zeros(h0.shape, dtype=h.dtype)  # nothing flows back from after the last step
    Wh_T = np.ascontiguousarray(Wh.T)  # a row-major copy: faster in the loop's matmul
    for t in reversed(range(T)):
        h_prev = h[t - 1] if t > 0 else h0
        dh_next = _gru_cell_backward(
            dh_tm[t] + dh_next, h_prev, rz[t], n[t], ah_n[t], dax[t], dah[t]
        )
        dh_next += dah[t] @ Wh_T
    h_prev = np.concatenate([h0[None], h])[:T].reshape(T * N, H)  # the h each step read
    dax_rows, dah_rows = dax.reshape(T * N, 3 * H), dah.reshape(T * N, 3 * H)
    dx = (dax_rows @ Wx.T).reshape(T, N, Wx.shape[0]).transpose(1, 0, 2)  # (N, T, D)
    dWx = x_tm.T @ dax_rows
    dWh = h_prev.T @ dah_rows
    return np.ascontiguousarray(dx), dh_next, dWx, dWh, dax_rows.sum(0), dah_rows.sum(0)


def _lstm_cell_forward(gates, scale, c_prev, c_next, tanh_c, h_next):
    """The pointwise part of a step, writing into the arrays given.

    gates: (N, 4H) pre-activations times scale (4H,) on entry (1/2 for i, f, o; 1 for g), the
    gates i, f, g, o on exit; c_prev: (N, H); c_next, tanh_c, h_next: (N, H) outputs.
    """
    H = c_prev.shape[1]
    np.tanh(gates, out=gates)  # sigmoid(a) = tanh(a / 2) / 2 + 1 / 2: one tanh for four blocks
    gates *= scale
    gates += 1 - scale
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    np.multiply(f, c_prev, out=c_next)
    c_next += i * g
    np.tanh(c_next, out=tanh_c)
    np.multiply(o, tanh_c, out=h_next)


def _lstm_local_derivatives(gates, tanh_c):
    """What the backward of a step needs from its forward alone.

    gates: (N, 4H), tanh_c: (N, H) -> slope: (N, 4H), each gate's derivative with respect to
    its pre-activation from its own output (sigmoid' = s (1 - s), tanh' = 1 - t^2), and
    dh_dc: (N, H), the derivative of h_next = o * tanh(c_next) with respect to c_next.
    """
    H = tanh_c.shape[-1]
    slope = gates * (1 - gates)
    g = gates[..., 2 * H : 3 * H]
    slope[..., 2 * H : 3 * H] = 1 - g**2
    dh_dc = gates[..., 3 * H :] * (1 - tanh_c**2)
    return slope, dh_dc


def _lstm_cell_backward(dh_next, dc_next, c_prev, gates, tanh_c, slope, dh_dc, da):
    """dL/dh_next, dL/dc_next (N, H) -> dL/da written into da (N, 4H); returns dL/dc_prev."""
    H = c_prev.shape[1]
    i, f, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H]
    dc = dh_next * dh_dc
    dc += dc_next  # c_next reaches the loss through h_next and through c at the next step
    np.multiply(dc, g, out=da[:, :H])  # c_next = f * c_prev + i * g
    np.multiply(dc, c_prev, out=da[:, H : 2 * H])
    np.multiply(dc, i, out=da[:, 2 * H : 3 * H])
    np.multiply(dh_next, tanh_c, out=da[:, 3 * H :])  # h_next = o * tanh(c_next)
    da *= slope
    return dc * f


def _gru_cell_forward(ax, ah, h_prev, rz, n, h_next):
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


def _gru_cell_backward(dh_next, h_prev, rz, n, ah_n, dax, dah):
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
