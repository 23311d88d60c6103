"""Attention decoders, teacher-forced, forward and backward: Bahdanau and Luong.

Both read encoder states enc (N, S, H) as keys and values, with a source mask (N, S), and feed
decoder input embeddings x (N, T, E) from the state s0 (N, H). They differ in where attention sits:

    Bahdanau:  c_t = attend(s_{t-1}, enc);  s_t = cell([x_t; c_t], s_{t-1});  o_t = [s_t; c_t]
    Luong:     s_t = cell(x_t, s_{t-1});  c_t = attend(s_t, enc);  o_t = tanh([s_t; c_t] Wc)
    logits_t = o_t Wo + bo

Parameters come in a dict: the cell's ("Wx", "Wh", "b" for the RNN), the scorer's with an
"att_" prefix (dot: none; general: att_W; additive: att_Wq, att_Wk, att_w; pooled: att_Wk,
att_w), "Wo", "bo", and "Wc" for Luong. Backward returns dx (N, T, E), ds0 (N, H),
denc (N, S, H) and a dict of grads.
Book: chapter 5, "Two attention decoders".
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from s2s_ref.numpy_nn import attention as att
from s2s_ref.numpy_nn.fused import fused_gru_backward, fused_gru_forward
from s2s_ref.numpy_nn.gru import gru_step_backward, gru_step_forward
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward


class Cell(NamedTuple):
    """A recurrent cell's four functions, its parameter names and its number of gate blocks."""

    step_forward: Callable
    step_backward: Callable
    forward: Callable
    backward: Callable
    params: tuple  # the cell's parameter names, in the functions' argument order
    gates: int  # gate blocks stacked along the weights' output axis


class Scorer(NamedTuple):
    """An attention score's forward and backward and its parameter names (no "att_" prefix)."""

    forward: Callable
    backward: Callable
    params: tuple


CELLS = {
    "rnn": Cell(
        rnn_step_forward, rnn_step_backward, rnn_forward, rnn_backward, ("Wx", "Wh", "b"), 1
    ),
    "gru": Cell(
        gru_step_forward,
        gru_step_backward,
        fused_gru_forward,
        fused_gru_backward,
        ("Wx", "Wh", "bx", "bh"),
        3,
    ),
}
SCORERS = {
    "dot": Scorer(att.dot_attention_forward, att.dot_attention_backward, ()),
    "general": Scorer(att.general_attention_forward, att.general_attention_backward, ("W",)),
    "additive": Scorer(
        att.additive_attention_forward, att.additive_attention_backward, ("Wq", "Wk", "w")
    ),
    "pooled": Scorer(att.pooled_attention_forward, att.pooled_attention_backward, ("Wk", "w")),
}


def _attend(p, score, q, enc, mask):
    forward, names = SCORERS[score].forward, SCORERS[score].params
    return forward(q, enc, enc, mask, *(p["att_" + n] for n in names))


def _attend_backward(dcontext, cache, score, grads):
    """Backprop one attention read; add its parameter grads into grads -> dq, denc."""
    dq, dk, dv, *dparams = SCORERS[score].backward(dcontext, cache)
    for n, g in zip(SCORERS[score].params, dparams, strict=True):
        grads["att_" + n] += g
    return dq, dk + dv  # the encoder states serve as keys and as values


def _project(o, p):
    return o @ p["Wo"] + p["bo"]


def _project_backward(dlogits, o, p, grads):
    grads["Wo"] += o.reshape(-1, o.shape[2]).T @ dlogits.reshape(-1, dlogits.shape[2])
    grads["bo"] += dlogits.sum(axis=(0, 1))
    return dlogits @ p["Wo"].T


def bahdanau_decoder_forward(x, s0, enc, mask, p, cell="rnn", score="additive"):
    """Attention from the previous state; the context joins the cell's input and the output.

    x: (N, T, E), s0: (N, H), enc: (N, S, H), mask: (N, S) bool; p["Wx"]: (E + H, G·H),
    p["Wo"]: (2H, V) -> logits: (N, T, V), weights: (N, T, S), s_T: (N, H), cache
    Book: chapter 5, "Two attention decoders".
    """
    step, names = CELLS[cell].step_forward, CELLS[cell].params
    N, T, _ = x.shape
    s, states, contexts, weights, caches = s0, [], [], [], []
    for t in range(T):
        c, a, att_cache = _attend(p, score, s, enc, mask)
        s, cell_cache = step(np.concatenate([x[:, t], c], axis=1), s, *(p[n] for n in names))
        states.append(s)
        contexts.append(c)
        weights.append(a)
        caches.append((att_cache, cell_cache))
    o = np.concatenate([np.stack(states, 1), np.stack(contexts, 1)], axis=2)  # (N, T, 2H)
    cache = ("bahdanau", cell, score, p, x.shape[2], o, caches)
    return _project(o, p), np.stack(weights, 1), s, cache


def _bahdanau_backward(dlogits, cache, grads):
    _, cell, score, p, E, o, caches = cache
    step_backward, names = CELLS[cell].step_backward, CELLS[cell].params
    do = _project_backward(dlogits, o, p, grads)  # (N, T, 2H)
    H = do.shape[2] // 2
    dx = np.empty(do.shape[:2] + (E,), dtype=do.dtype)
    denc, ds = 0, np.zeros_like(do[:, 0, :H])  # nothing flows back from after the last step
    for t in reversed(range(len(caches))):
        att_cache, cell_cache = caches[t]
        dinput, ds, *dcell = step_backward(do[:, t, :H] + ds, cell_cache)
        for n, g in zip(names, dcell, strict=True):
            grads[n] += g
        dx[:, t] = dinput[:, :E]
        dc = do[:, t, H:] + dinput[:, E:]  # c_t reaches the loss directly and through the cell
        dq, denc_t = _attend_backward(dc, att_cache, score, grads)
        ds = ds + dq  # s_{t-1} was both the cell's previous state and the query
        denc = denc + denc_t
    return dx, ds, denc


def luong_decoder_forward(x, s0, enc, mask, p, cell="rnn", score="general"):
    """Attention after the step, on the new state; a combined layer tanh([s_t; c_t] Wc).

    x: (N, T, E), s0: (N, H), enc: (N, S, H), mask: (N, S) bool; p["Wx"]: (E, G·H),
    p["Wc"]: (2H, H), p["Wo"]: (H, V) -> logits: (N, T, V), weights: (N, T, S), s_T, cache
    The cell does not see the context, so it runs over the whole sequence in one call.
    Book: chapter 5, "Two attention decoders".
    """
    forward, names = CELLS[cell].forward, CELLS[cell].params
    s, cell_cache = forward(x, s0, *(p[n] for n in names))  # (N, T, H)
    reads = [_attend(p, score, s[:, t], enc, mask) for t in range(x.shape[1])]
    c = np.stack([r[0] for r in reads], 1)  # (N, T, H)
    sc = np.concatenate([s, c], axis=2)  # (N, T, 2H)
    o = np.tanh(sc @ p["Wc"])  # (N, T, H)
    cache = ("luong", cell, score, p, sc, o, cell_cache, [r[2] for r in reads])
    return _project(o, p), np.stack([r[1] for r in reads], 1), s[:, -1], cache


def _luong_backward(dlogits, cache, grads):
    _, cell, score, p, sc, o, cell_cache, att_caches = cache
    backward, names = CELLS[cell].backward, CELLS[cell].params
    dpre = _project_backward(dlogits, o, p, grads) * (1 - o**2)  # (N, T, H); tanh'
    grads["Wc"] += sc.reshape(-1, sc.shape[2]).T @ dpre.reshape(-1, dpre.shape[2])
    dsc = dpre @ p["Wc"].T  # (N, T, 2H)
    H = dsc.shape[2] // 2
    ds = dsc[:, :, :H].copy()
    denc = 0
    for t, att_cache in enumerate(att_caches):
        dq, denc_t = _attend_backward(dsc[:, t, H:], att_cache, score, grads)
        ds[:, t] += dq  # s_t is both an output of the cell and the query
        denc = denc + denc_t
    dx, ds0, *dcell = backward(ds, cell_cache)
    for n, g in zip(names, dcell, strict=True):
        grads[n] += g
    return dx, ds0, denc


def attention_decoder_backward(dlogits, cache):
    """Backward of either decoder. dlogits: (N, T, V)
    -> dx: (N, T, E), ds0: (N, H), denc: (N, S, H), grads: dict shaped like p

    Book: chapter 5, "Two attention decoders".
    """
    p = cache[3]
    grads = {n: np.zeros_like(w) for n, w in p.items()}
    backward = _bahdanau_backward if cache[0] == "bahdanau" else _luong_backward
    dx, ds0, denc = backward(dlogits, cache, grads)
    return dx, ds0, denc, grads
