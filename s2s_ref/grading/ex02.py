"""Graded tests of exercise ex02: the LSTM and GRU, step and sequence, forward and backward.

Every test draws fresh random inputs of distinct sizes (N, T, D, H all different, and D, 4H, 3H
too), compares with the reference and names known mistakes: gates swapped or in the wrong
order, no tanh on the cell, the reset gate before Wh (the original GRU, not PyTorch's), the
forget gate missing from dc_prev, gradients from later steps dropped.
Book: chapter 2; notebook: ex02_gated.ipynb.
"""

import itertools

import numpy as np

from s2s_ref.grading.feedback import Findings, check_array, forward_for_cache, unpack
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex02",
    title="Gated cells: the LSTM and the GRU",
    notebook="ex02_gated.ipynb",
    functions=(
        "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
        "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    ),
    hidden_modules=("s2s_ref.numpy_nn.lstm", "s2s_ref.numpy_nn.gru"),
)  # fmt: skip
lstm = load_private("s2s_ref.numpy_nn.lstm")
gru = load_private("s2s_ref.numpy_nn.gru")
N, T, D, H = 3, 5, 7, 6


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _lstm_inputs(rng):
    return dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                c0=rng.normal(size=(N, H)) * 0.5, Wx=rng.normal(size=(D, 4 * H)) * 0.5,
                Wh=rng.normal(size=(H, 4 * H)) * 0.5, b=rng.normal(size=4 * H) * 0.5)  # fmt: skip


def _gru_inputs(rng):
    return dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                Wx=rng.normal(size=(D, 3 * H)) * 0.5, Wh=rng.normal(size=(H, 3 * H)) * 0.5,
                bx=rng.normal(size=3 * H) * 0.5, bh=rng.normal(size=3 * H) * 0.5)  # fmt: skip


# Known mistakes, simulated: each function computes what a typical bug computes.


def _lstm_step(x, h, c, Wx, Wh, b, order="ifgo", tanh_c=True):
    """One LSTM step reading the blocks of a in ``order`` -> (h_next, c_next)."""
    blocks = dict(zip(order, np.split(x @ Wx + h @ Wh + b, 4, axis=1), strict=True))
    i, f, o = (_sigmoid(blocks[k]) for k in "ifo")
    c_next = f * c + i * np.tanh(blocks["g"])
    return o * (np.tanh(c_next) if tanh_c else c_next), c_next


def _lstm_step_grads(dh, dc_next, x, h, c, Wx, Wh, b, forget=True):
    """The six gradients of one step; forget=False drops f from dc_prev."""
    i, f, g, o = np.split(x @ Wx + h @ Wh + b, 4, axis=1)
    i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
    tc = np.tanh(f * c + i * g)
    dc = dc_next + dh * o * (1 - tc**2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g**2),
                         dh * tc * o * (1 - o)], axis=1)  # fmt: skip
    return da @ Wx.T, da @ Wh.T, dc * f if forget else dc, x.T @ da, h.T @ da, da.sum(axis=0)


def _lstm_seq(x, h0, c0, Wx, Wh, b, carry=True, **step):
    """h of every step; carry=False starts every step from h0 and c0."""
    h, c, hs, cs = h0, c0, [], []
    for t in range(x.shape[1]):
        hs.append(h), cs.append(c)
        h, c = _lstm_step(x[:, t], h if carry else h0, c if carry else c0, Wx, Wh, b, **step)
    return np.stack(hs[1:] + [h], axis=1), hs, cs


def _lstm_seq_grads(dh, x, h0, c0, Wx, Wh, b, later_h=True, later_c=True, forget=True):
    """The six gradients of the sequence, with the gradient from step t + 1 to h_t or c_t
    optionally dropped."""
    _, hs, cs = _lstm_seq(x, h0, c0, Wx, Wh, b)
    dx, dh_prev, dc_prev, total = np.empty_like(x), 0 * h0, 0 * c0, [0, 0, 0]
    for t in reversed(range(x.shape[1])):
        g = _lstm_step_grads(dh[:, t] + (dh_prev if later_h else 0), dc_prev if later_c else 0,
                             x[:, t], hs[t], cs[t], Wx, Wh, b, forget=forget)  # fmt: skip
        dx[:, t], dh_prev, dc_prev = g[:3]
        total = [a + s for a, s in zip(total, g[3:], strict=True)]
    return dict(zip(LSTM_SEQ_GRADS, (dx, dh_prev, dc_prev, *total), strict=True))


def _gru_step(x, h, Wx, Wh, bx, bh, cho=False, z_swapped=False, rz_swapped=False):
    ax, ah = x @ Wx + bx, h @ Wh + bh
    r, z = _sigmoid(ax[:, :H] + ah[:, :H]), _sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    r, z = (z, r) if rz_swapped else (r, z)
    inner = (r * h) @ Wh[:, 2 * H :] + bh[2 * H :] if cho else r * ah[:, 2 * H :]
    n = np.tanh(ax[:, 2 * H :] + inner)
    return z * n + (1 - z) * h if z_swapped else (1 - z) * n + z * h


def _gru_step_grads(dh, x, h, Wx, Wh, bx, bh, direct=True, reset=True):
    """direct=False drops dh * z from dh_prev; reset=False forgets r in the n block of dah."""
    ax, ah = x @ Wx + bx, h @ Wh + bh
    r, z = _sigmoid(ax[:, :H] + ah[:, :H]), _sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])
    da_n = dh * (1 - z) * (1 - n**2)
    da_rz = np.concatenate([da_n * ah[:, 2 * H :] * r * (1 - r), dh * (h - n) * z * (1 - z)], 1)
    dax = np.concatenate([da_rz, da_n], axis=1)
    dah = np.concatenate([da_rz, da_n * r if reset else da_n], axis=1)
    dh_prev = dah @ Wh.T + (dh * z if direct else 0)
    return dax @ Wx.T, dh_prev, x.T @ dax, h.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


def _gru_seq(x, h0, Wx, Wh, bx, bh, carry=True, **step):
    h, hs = h0, []
    for t in range(x.shape[1]):
        hs.append(h)
        h = _gru_step(x[:, t], h if carry else h0, Wx, Wh, bx, bh, **step)
    return np.stack(hs[1:] + [h], axis=1), hs


def _gru_seq_grads(dh, x, h0, Wx, Wh, bx, bh, later=True, **step):
    _, hs = _gru_seq(x, h0, Wx, Wh, bx, bh)
    dx, dh_prev, total = np.empty_like(x), 0 * h0, [0, 0, 0, 0]
    for t in reversed(range(x.shape[1])):
        g = _gru_step_grads(dh[:, t] + (dh_prev if later else 0), x[:, t], hs[t], Wx, Wh, bx, bh,
                            **step)  # fmt: skip
        dx[:, t], dh_prev = g[:2]
        total = [a + s for a, s in zip(total, g[2:], strict=True)]
    return dict(zip(GRU_SEQ_GRADS, (dx, dh_prev, *total), strict=True))


ORDER = "the blocks of a are the gates i, f, g, o in this order (PyTorch's)"
SWAPPED_IF = f"the input and forget gates are swapped: {ORDER}, so i is a[:, :H], f a[:, H:2H]."
NO_TANH_C = "no tanh on the cell before the output gate: h_next = o * tanh(c_next)."
NO_FORGET = "dc_prev misses the forget gate: c_next = f * c_prev + ..., so dc_prev = dc * f."
CHO = ("the reset gate is applied to h_prev before Wh (the original GRU of Cho et al.); PyTorch's "
       "form, asked here, is n = tanh(ax_n + r * (h_prev @ Wh_n + bh_n)).")  # fmt: skip
Z_SWAPPED = "z and 1 - z are swapped: h_next = (1 - z) * n + z * h_prev (PyTorch's convention)."
RZ_SWAPPED = "r and z are swapped: the blocks are r, z, n in this order (PyTorch's)."
NO_DIRECT = "dh_prev misses the direct path: h_next = ... + z * h_prev adds dh_next * z."
NO_RESET = "the n block of dah misses r: ah_n enters n as r * ah_n, so its gradient is da_n * r."
DROPPED_H = ("the gradient flowing back from later steps is dropped: at step t, add the dh_prev "
             "returned by step t+1 to dh[:, t].")  # fmt: skip
DROPPED_C = "dc_prev is not passed back: step t receives the dc_prev returned by step t+1."


def _lstm_forward_mistakes():
    """Every wrong gate order, named, plus the missing tanh, for lstm step and sequence."""
    mistakes = {SWAPPED_IF: dict(order="figo"), NO_TANH_C: dict(tanh_c=False)}
    for order in map("".join, itertools.permutations("ifgo")):
        if order not in ("ifgo", "figo"):
            mistakes[f"the gates are read in the order {', '.join(order)}; {ORDER}."] = dict(
                order=order
            )
    return mistakes


LSTM_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
LSTM_SEQ_GRADS = ("dx", "dh0", "dc0", "dWx", "dWh", "db")
GRU_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")
GRU_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")
_SHAPES = {"dx": "(N, D)", "dh_prev": "(N, H)", "dc_prev": "(N, H)", "dh0": "(N, H)",
           "dc0": "(N, H)", "dWx": "(D, GH)", "dWh": "(H, GH)", "db": "(GH,)", "dbx": "(GH,)",
           "dbh": "(GH,)"}  # fmt: skip
SHAPES = {cell: {k: v.replace("G", g) for k, v in _SHAPES.items()}
          for cell, g in (("lstm", "4"), ("gru", "3"))}  # fmt: skip


@EXERCISE.test(points=2, function="lstm_step_forward")
def lstm_step_forward_matches_reference(learner):
    """h_next and c_next equal the reference"""
    p = _lstm_inputs(test_rng())
    args = (p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    result = unpack(learner.lstm_step_forward(*args), "lstm_step_forward", ("h", "c", "cache"))
    expected = lstm.lstm_step_forward(*args)
    found = Findings()
    for k, name in enumerate(("h_next", "c_next")):
        mistakes = {m: lambda kw=kw, k=k: _lstm_step(*args, **kw)[k] for m, kw in
                    _lstm_forward_mistakes().items()}  # fmt: skip
        found.check(name, result[k], expected[k], shape_hint="(N, H)", mistakes=mistakes)
    found.raise_any()


@EXERCISE.test(points=3, function="lstm_step_backward")
def lstm_step_backward_matches_reference(learner):
    """every gradient of one step equals the reference (upstream gradients on h and c)"""
    rng = test_rng()
    p = _lstm_inputs(rng)
    args = (p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    *_, cache = forward_for_cache(learner.lstm_step_forward, ("h_next", "c_next", "cache"), *args)
    grads = unpack(learner.lstm_step_backward(dh, dc, cache), "lstm_step_backward",
                    LSTM_STEP_GRADS)  # fmt: skip
    expected = lstm.lstm_step_backward(dh, dc, lstm.lstm_step_forward(*args)[2])
    wrong = _lstm_step_grads(dh, dc, *args, forget=False)
    found = Findings()
    for k, name in enumerate(LSTM_STEP_GRADS):
        found.check(name, grads[k], expected[k], shape_hint=SHAPES["lstm"][name],
                    mistakes={NO_FORGET: lambda k=k: wrong[k]})  # fmt: skip
    found.raise_any()


@EXERCISE.test(points=2, function="lstm_forward")
def lstm_forward_matches_reference(learner):
    """h stacks every hidden state, shape (N, T, H)"""
    p = _lstm_inputs(test_rng())
    h = unpack(learner.lstm_forward(**p), "lstm_forward", ("h", "cache"))[0]
    mistakes = {m: lambda kw=kw: _lstm_seq(**p, **kw)[0] for m, kw in
                _lstm_forward_mistakes().items()}  # fmt: skip
    restart = "every step starts from h0 and c0: feed each new state into the next step."
    mistakes[restart] = lambda: _lstm_seq(**p, carry=False)[0]
    check_array("h", h, lstm.lstm_forward(**p)[0], shape_hint="(N, T, H)", mistakes=mistakes)


@EXERCISE.test(points=3, function="lstm_backward")
def lstm_backward_matches_reference(learner):
    """every gradient of the sequence equals the reference (upstream gradient on every step)"""
    _check_seq_backward(learner, "lstm", last_step_only=False)


@EXERCISE.test(points=1, function="lstm_backward")
def lstm_backward_carries_gradient_through_time(learner):
    """a loss on the last step only reaches every earlier step, h0 and c0"""
    _check_seq_backward(learner, "lstm", last_step_only=True)


@EXERCISE.test(points=2, function="gru_step_forward")
def gru_step_forward_matches_reference(learner):
    """h_next equals the reference (PyTorch's form of the GRU)"""
    p = _gru_inputs(test_rng())
    args = (p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["bx"], p["bh"])
    h_next = unpack(learner.gru_step_forward(*args), "gru_step_forward", ("h_next", "cache"))[0]
    wrong = {
        CHO: dict(cho=True),
        Z_SWAPPED: dict(z_swapped=True),
        RZ_SWAPPED: dict(rz_swapped=True),
    }
    mistakes = {m: lambda kw=kw: _gru_step(*args, **kw) for m, kw in wrong.items()}
    check_array("h_next", h_next, gru.gru_step_forward(*args)[0], shape_hint="(N, H)",
                mistakes=mistakes)  # fmt: skip


@EXERCISE.test(points=3, function="gru_step_backward")
def gru_step_backward_matches_reference(learner):
    """every gradient of one step equals the reference"""
    rng = test_rng()
    p = _gru_inputs(rng)
    args = (p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["bx"], p["bh"])
    dh = rng.normal(size=(N, H))
    _, cache = forward_for_cache(learner.gru_step_forward, ("h_next", "cache"), *args)
    grads = unpack(learner.gru_step_backward(dh, cache), "gru_step_backward", GRU_STEP_GRADS)
    expected = gru.gru_step_backward(dh, gru.gru_step_forward(*args)[1])
    wrong = {NO_DIRECT: _gru_step_grads(dh, *args, direct=False),
             NO_RESET: _gru_step_grads(dh, *args, reset=False)}  # fmt: skip
    found = Findings()
    for k, name in enumerate(GRU_STEP_GRADS):
        found.check(name, grads[k], expected[k], shape_hint=SHAPES["gru"][name],
                    mistakes={m: lambda g=g, k=k: g[k] for m, g in wrong.items()})  # fmt: skip
    found.raise_any()


@EXERCISE.test(points=2, function="gru_forward")
def gru_forward_matches_reference(learner):
    """h stacks every hidden state, shape (N, T, H)"""
    p = _gru_inputs(test_rng())
    h = unpack(learner.gru_forward(**p), "gru_forward", ("h", "cache"))[0]
    wrong = {CHO: dict(cho=True), Z_SWAPPED: dict(z_swapped=True),
             "every step starts from h0: feed each new state into the next step.": dict(
                 carry=False)}  # fmt: skip
    mistakes = {m: lambda kw=kw: _gru_seq(**p, **kw)[0] for m, kw in wrong.items()}
    check_array("h", h, gru.gru_forward(**p)[0], shape_hint="(N, T, H)", mistakes=mistakes)


@EXERCISE.test(points=3, function="gru_backward")
def gru_backward_matches_reference(learner):
    """every gradient of the sequence equals the reference (upstream gradient on every step)"""
    _check_seq_backward(learner, "gru", last_step_only=False)


@EXERCISE.test(points=1, function="gru_backward")
def gru_backward_carries_gradient_through_time(learner):
    """a loss on the last step only reaches every earlier step and h0"""
    _check_seq_backward(learner, "gru", last_step_only=True)


def _check_seq_backward(learner, cell, last_step_only):
    rng = test_rng()
    p = _lstm_inputs(rng) if cell == "lstm" else _gru_inputs(rng)
    dh = rng.normal(size=(N, T, H))
    if last_step_only:
        dh[:, :-1] = 0
    forward, backward = getattr(learner, f"{cell}_forward"), getattr(learner, f"{cell}_backward")
    _, cache = forward_for_cache(forward, ("h", "cache"), **p)
    names = LSTM_SEQ_GRADS if cell == "lstm" else GRU_SEQ_GRADS
    grads = unpack(backward(dh, cache), f"{cell}_backward", names)
    ref = lstm if cell == "lstm" else gru
    expected = getattr(ref, f"{cell}_backward")(dh, getattr(ref, f"{cell}_forward")(**p)[1])
    if cell == "lstm":
        wrong = {DROPPED_H: dict(later_h=False), DROPPED_C: dict(later_c=False),
                 NO_FORGET: dict(forget=False)}  # fmt: skip
        simulate = _lstm_seq_grads
    else:
        wrong = {DROPPED_H: dict(later=False), NO_DIRECT: dict(direct=False),
                 NO_RESET: dict(reset=False)}  # fmt: skip
        simulate = _gru_seq_grads
    found = Findings()
    for k, name in enumerate(names):
        mistakes = {m: lambda kw=kw, name=name: simulate(dh, **p, **kw)[name]
                    for m, kw in wrong.items()}  # fmt: skip
        shape = "(N, T, D)" if name == "dx" else SHAPES[cell][name]
        found.check(name, grads[k], expected[k], shape_hint=shape, mistakes=mistakes)
    found.raise_any()


# The typical mistakes this grader names: each is put into the solution notebook by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points in the
# function(s) named, with this feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "forget and input gates swapped",
        ("lstm_step_forward", "lstm_forward"),
        {
            "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H : 2 * H])": (
                "    f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H : 2 * H])"
            ),
        },
        "the input and forget gates are swapped",
    ),
    Mistake(
        "gates in the wrong order (i, f, o, g)",
        ("lstm_step_forward", "lstm_forward"),
        {
            "    g = np.tanh(a[:, 2 * H : 3 * H])\n    o = sigmoid(a[:, 3 * H :])": (
                "    g = np.tanh(a[:, 3 * H :])\n    o = sigmoid(a[:, 2 * H : 3 * H])"
            ),
        },
        "the gates are read in the order i, f, o, g",
    ),
    Mistake(
        "no tanh on the cell before the output gate",
        ("lstm_step_forward", "lstm_forward"),
        {
            "tanh_c = np.tanh(c_next)": "tanh_c = c_next",
        },
        "no tanh on the cell before the output gate",
    ),
    Mistake(
        "GRU reset gate applied before Wh (Cho form)",
        ("gru_step_forward", "gru_forward"),
        {
            "n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])": (
                "n = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])"
            ),
        },
        "the original GRU of Cho et al.",
    ),
    Mistake(
        "dc_prev missing the forget gate",
        ("lstm_step_backward", "lstm_backward"),
        {
            "dc_prev = dc * f": "dc_prev = dc",
        },
        "dc_prev misses the forget gate",
    ),
    Mistake(
        "GRU z and 1 - z swapped",
        ("gru_step_forward", "gru_forward"),
        {
            "h_next = (1 - z) * n + z * h_prev": "h_next = z * n + (1 - z) * h_prev",
        },
        "z and 1 - z are swapped",
    ),
    Mistake(
        "GRU dh_prev without the direct path",
        ("gru_step_backward", "gru_backward"),
        {
            "dh_prev = dh_next * z + dah @ Wh.T": "dh_prev = dah @ Wh.T",
        },
        "dh_prev misses the direct path",
    ),
    Mistake(
        "GRU backward ignores the reset in dah",
        ("gru_step_backward", "gru_backward"),
        {
            "[da_r, da_z, da_n * r]": "[da_r, da_z, da_n]",
        },
        "the n block of dah misses r",
    ),
    Mistake(
        "LSTM BPTT drops dh from later steps",
        "lstm_backward",
        {
            "dh[:, t] + dh_prev, dc_prev, step_caches[t]": "dh[:, t], dc_prev, step_caches[t]",
        },
        "the gradient flowing back from later steps is dropped",
    ),
    Mistake(
        "LSTM BPTT does not pass dc back",
        "lstm_backward",
        {
            "dh[:, t] + dh_prev, dc_prev, step_caches[t]": (
                "dh[:, t] + dh_prev, 0 * dc_prev, step_caches[t]"
            ),
        },
        "dc_prev is not passed back",
    ),
    Mistake(
        "GRU BPTT drops dh from later steps",
        "gru_backward",
        {
            "gru_step_backward(dh[:, t] + dh_prev, step_caches[t])": (
                "gru_step_backward(dh[:, t], step_caches[t])"
            ),
        },
        "the gradient flowing back from later steps is dropped",
    ),
]
