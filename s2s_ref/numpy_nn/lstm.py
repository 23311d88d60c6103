"""The LSTM cell, one step and a whole sequence, forward and backward (PyTorch's conventions).

Gates are stacked in PyTorch's order i, f, g, o along the last axis of Wx (D, 4H), Wh (H, 4H)
and b (4H,); b is torch's ``bias_ih + bias_hh`` (one bias is enough: they are always added).
Book: chapter 2, "The LSTM cell" and "Backward through the LSTM".
"""

import numpy as np

from s2s_ref.shapes import ShapeError, as_float, check_shapes


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
    x, h_prev, c_prev, Wx, Wh, b = as_float(
        "lstm_step_forward", x=x, h_prev=h_prev, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b
    )
    gates = x @ Wx + h_prev @ Wh + b  # (N, 4H) pre-activations, turned into gates in place
    c_next, tanh_c, h_next = (np.empty(c_prev.shape, dtype=gates.dtype) for _ in range(3))
    _cell_forward(gates, c_prev, c_next, tanh_c, h_next)
    cache = (x, h_prev, c_prev, Wx, Wh, gates, tanh_c)
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward of one step, given dL/dh_next and dL/dc_next (the cell's two outputs).

    dh_next: (N, H), dc_next: (N, H)
    -> dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Book: chapter 2, "Backward through the LSTM".
    """
    x, h_prev, c_prev, Wx, Wh, gates, tanh_c = cache
    state = "{} {}".format(*tanh_c.shape)
    check_shapes("lstm_step_backward", dh_next=(dh_next, state), dc_next=(dc_next, state))
    dh_next, dc_next = as_float("lstm_step_backward", dh_next=dh_next, dc_next=dc_next)
    da = np.empty_like(gates)  # dL/da for the stacked pre-activations, (N, 4H)
    slope, dh_dc = _local_derivatives(gates, tanh_c)
    dc_prev = _cell_backward(dh_next, dc_next, c_prev, gates, tanh_c, slope, dh_dc, da)
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
    Same arithmetic as lstm_step_forward at each step, arranged for speed: x @ Wx + b does not
    depend on the recurrence, so it is one matmul for all steps before the loop; and the
    arrays inside the loop are time-major (T, N, .), so that each step's slice is one
    contiguous block of memory (the elementwise work then runs about twice as fast).
    Book: chapter 2, "The LSTM cell".
    """
    _check_lstm(
        "lstm_forward", x=(x, "N T D"), h0=(h0, "N H"), c0=(c0, "N H"), Wx=(Wx, "D 4H"),
        Wh=(Wh, "H 4H"), b=(b, "4H"),
    )  # fmt: skip
    x, h0, c0, Wx, Wh, b = as_float("lstm_forward", x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)
    N, T, D = x.shape
    H = h0.shape[1]
    x_tm = x.transpose(1, 0, 2).reshape(T * N, D)  # (T*N, D), a time-major copy
    gates = x_tm @ Wx
    gates += b  # in place: no second (T*N, 4H) temporary
    gates = gates.reshape(T, N, 4 * H)  # pre-activations, turned into gates in place
    c, tanh_c, h = (np.empty((T, N, H), dtype=np.result_type(gates, h0, c0)) for _ in range(3))
    h_prev, c_prev = h0, c0
    for t in range(T):
        gates[t] += h_prev @ Wh
        _cell_forward(gates[t], c_prev, c[t], tanh_c[t], h[t])
        h_prev, c_prev = h[t], c[t]
    cache = (x_tm, h0, c0, Wx, Wh, gates, c, tanh_c, h)
    return np.ascontiguousarray(h.transpose(1, 0, 2)), cache  # (N, T, H), batch-first again


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM.

    dh: (N, T, H), the upstream gradient of every h_t
    -> dx: (N, T, D), dh0: (N, H), dc0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    Same arithmetic as lstm_step_backward at each step, arranged for speed: inside the loop
    only what step t needs from step t + 1 (dh_prev = da_t @ Wh.T and dc_prev). The gradients
    da_t of the pre-activations are kept for all steps, and dx, dWx, dWh and db are one matmul
    or sum each after the loop (a sum over steps and examples is a sum over the rows of the
    (T*N, 4H) matrix).
    Book: chapter 2, "Backward through the LSTM".
    """
    x_tm, h0, c0, Wx, Wh, gates, c, tanh_c, h = cache
    T, N, H = h.shape
    check_shapes("lstm_backward", dh=(dh, f"{N} {T} {H}"))
    (dh,) = as_float("lstm_backward", dh=dh)
    dh_tm = dh.transpose(1, 0, 2)  # (T, N, H) view
    da = np.empty_like(gates)  # (T, N, 4H)
    dh_next = np.zeros(h0.shape, dtype=da.dtype)  # nothing flows back from after the last step
    dc_next = np.zeros_like(dh_next)
    Wh_T = np.ascontiguousarray(Wh.T)  # a row-major copy: faster in the loop's matmul
    for t in reversed(range(T)):
        c_prev = c[t - 1] if t > 0 else c0
        slope, dh_dc = _local_derivatives(gates[t], tanh_c[t])
        dc_next = _cell_backward(
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


def _cell_forward(gates, c_prev, c_next, tanh_c, h_next):
    """The pointwise part of a step, writing into the arrays given.

    gates: (N, 4H) pre-activations on entry, the gates i, f, g, o on exit;
    c_prev: (N, H); c_next, tanh_c, h_next: (N, H) outputs.
    """
    H = c_prev.shape[1]
    # sigmoid(a) = tanh(a / 2) / 2 + 1 / 2 and tanh(a) = tanh(a) * 1 + 0: one tanh over all four
    # blocks, with a scale of 1/2 (1 for g) before and after it, instead of a call per block
    scale = np.full(4 * H, 0.5, dtype=gates.dtype)
    scale[2 * H : 3 * H] = 1.0
    gates *= scale
    np.tanh(gates, out=gates)
    gates *= scale
    gates += 1 - scale
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    np.multiply(f, c_prev, out=c_next)
    c_next += i * g
    np.tanh(c_next, out=tanh_c)
    np.multiply(o, tanh_c, out=h_next)


def _local_derivatives(gates, tanh_c):
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


def _cell_backward(dh_next, dc_next, c_prev, gates, tanh_c, slope, dh_dc, da):
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


def _check_lstm(func, **specs):
    sizes = check_shapes(func, **specs)
    if sizes["4H"] != 4 * sizes["H"]:
        raise ShapeError(
            f"{func}: Wx, Wh and b should have 4H = {4 * sizes['H']} columns (the gates i, f, g, o "
            f"stacked, H = {sizes['H']} each), got {sizes['4H']}"
        )
