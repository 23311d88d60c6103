"""Recurrent cells written out as equations, with the NumPy reference's names and layouts.

Each module holds ``Wx (D, G*H)``, ``Wh (H, G*H)`` and its biases, used as ``x @ Wx`` (the
transpose of ``torch.nn``'s ``weight_ih``), so a NumPy weight copies in unchanged. Autograd writes
the backward pass that chapters 1 and 2 wrote by hand. Gates are stacked in PyTorch's order:
LSTM ``i, f, g, o``, GRU ``r, z, n``.
Book: chapter 6, "From NumPy to autograd".
"""

import math

import torch
from torch import nn


def _uniform(shape, H, generator):
    """U(-1/sqrt(H), 1/sqrt(H)), torch.nn's initialisation for recurrent layers."""
    bound = 1.0 / math.sqrt(H)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound, generator=generator))


class Recurrent(nn.Module):
    """What the three cells share: weights Wx (D, G*H) and Wh (H, G*H) with the G gate blocks
    stacked, one (G*H,) vector per name in ``biases``, and a forward that runs ``step`` along
    the sequence. A cell sets ``gates`` and ``biases`` and writes ``step``.
    """

    gates = 1
    biases = ("b",)

    def __init__(self, D, H, generator=None):
        super().__init__()
        G = self.gates
        self.Wx = _uniform((D, G * H), H, generator)
        self.Wh = _uniform((H, G * H), H, generator)
        for name in self.biases:
            setattr(self, name, _uniform((G * H,), H, generator))

    def forward(self, x, *state):
        """x: (N, T, D), the initial state(s) (N, H) (h0; h0, c0 for the LSTM)
        -> h: (N, T, H), every hidden state after h0."""
        out = []
        for t in range(x.shape[1]):
            state = self.step(x[:, t], *state)
            state = state if isinstance(state, tuple) else (state,)
            out.append(state[0])
        return torch.stack(out, dim=1)


class RNN(Recurrent):
    """Vanilla RNN: h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b).

    Parameters: Wx (D, H), Wh (H, H), b (H,).
    Book: chapter 6, "From NumPy to autograd" (chapter 1 for the equations).
    """

    def step(self, x, h_prev):
        """x: (N, D), h_prev: (N, H) -> h_next: (N, H)"""
        return torch.tanh(x @ self.Wx + h_prev @ self.Wh + self.b)


class LSTM(Recurrent):
    """LSTM: [i, f, g, o] = x_t @ Wx + h_{t-1} @ Wh + b; c_t = f*c_{t-1} + i*g; h_t = o*tanh(c_t).

    i, f, o pass through a sigmoid and g through tanh. Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,).
    Book: chapter 6, "From NumPy to autograd" (chapter 2 for the equations).
    """

    gates = 4

    def step(self, x, h_prev, c_prev):
        """x: (N, D), h_prev, c_prev: (N, H) -> h_next, c_next: (N, H)"""
        a = x @ self.Wx + h_prev @ self.Wh + self.b  # (N, 4H)
        i, f, g, o = a.chunk(4, dim=1)
        c_next = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        return h_next, c_next


class GRU(Recurrent):
    """GRU with PyTorch's placement of the reset gate.

    r = s(x Wx_r + bx_r + h Wh_r + bh_r), z = s(x Wx_z + bx_z + h Wh_z + bh_z),
    n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)), h_next = (1 - z) * n + z * h.
    Parameters: Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,): two biases, because r multiplies
    only the hidden one.
    Book: chapter 6, "From NumPy to autograd" (chapter 2 for the equations).
    """

    gates = 3
    biases = ("bx", "bh")

    def step(self, x, h_prev):
        """x: (N, D), h_prev: (N, H) -> h_next: (N, H)"""
        xr, xz, xn = (x @ self.Wx + self.bx).chunk(3, dim=1)
        hr, hz, hn = (h_prev @ self.Wh + self.bh).chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h_prev
