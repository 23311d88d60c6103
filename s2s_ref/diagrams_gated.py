"""Diagrams of the LSTM and GRU cells for chapter 2, drawn with matplotlib alone.

Built on the primitives and the palette of ``s2s_ref.diagrams`` (blue: a recurrent cell of the
encoder kind; grey: data), plus a round node for the elementwise operations. Data flows from
bottom and left to top and right; the long horizontal line at the top is the memory (c for the
LSTM, h for the GRU) that the gates edit instead of rewriting.
Book: chapter 2, "The LSTM cell" and "The GRU cell".
"""

from matplotlib.patches import Circle

from s2s_ref.diagrams import ENCODER, GREY, INK, LIGHT_GREY, draw_arrow, draw_box

OP_RADIUS = 0.22


def draw_op(ax, center, symbol, color=INK):
    """A round node holding an elementwise operation (a product or a sum); returns its artists."""
    circle = Circle(center, OP_RADIUS, edgecolor=color, facecolor="white", linewidth=1.5, zorder=2)
    ax.add_patch(circle)
    text = ax.text(*center, symbol, ha="center", va="center", fontsize=13, color=INK, zorder=3)
    return [circle, text]


def _data(ax, center, label, width=0.8):
    return draw_box(ax, center, label, color=GREY, fill=LIGHT_GREY, width=width, height=0.5)


def _gate(ax, center, label, color):
    return draw_box(ax, center, label, color=color, fill=color + "22", width=0.95, height=0.55,
                    fontsize=11)  # fmt: skip


def _finish(ax, xlim, ylim):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")


def draw_lstm_cell(ax, color=ENCODER):
    """One LSTM step: a = x Wx + h Wh + b, the gates i, f, g, o, the cell line c and h_next.

    Returns the list of artists added.
    """
    r = OP_RADIUS
    art = _data(ax, (-0.9, 3.6), r"$c_{t-1}$") + _data(ax, (7.4, 3.6), r"$c_t$")
    art += _data(ax, (-0.9, 0.0), r"$h_{t-1}$") + _data(ax, (3.0, -1.3), r"$x_t$")
    art += _data(ax, (7.4, 1.6), r"$h_t$")
    art += draw_box(ax, (3.0, 0.0), r"$a = x_t W_x + h_{t-1} W_h + b$", color=color,
                    fill="white", width=5.0, height=0.55, fontsize=11)  # fmt: skip
    art += draw_arrow(ax, (-0.5, 0.0), (0.5, 0.0))
    art += draw_arrow(ax, (3.0, -1.05), (3.0, -0.28))
    gates = {"f": (1.0, r"$f=\sigma$"), "i": (2.3, r"$i=\sigma$"), "g": (3.6, r"$g=\tanh$"),
             "o": (4.9, r"$o=\sigma$")}  # fmt: skip
    for x, label in gates.values():
        art += _gate(ax, (x, 1.2), label, color)
        art += draw_arrow(ax, (x, 0.28), (x, 0.92))
    art += draw_op(ax, (1.0, 3.6), r"$\times$") + draw_op(ax, (2.95, 3.6), "+")
    art += draw_op(ax, (2.95, 2.5), r"$\times$")
    art += draw_arrow(ax, (-0.5, 3.6), (1.0 - r, 3.6))  # the cell line: c_{t-1} ...
    art += draw_arrow(ax, (1.0 + r, 3.6), (2.95 - r, 3.6))
    art += draw_arrow(ax, (2.95 + r, 3.6), (7.0, 3.6))  # ... to c_t, edited, not rewritten
    art += draw_arrow(ax, (1.0, 1.48), (1.0, 3.6 - r))  # f scales the old memory
    art += draw_arrow(ax, (2.3, 1.48), (2.95 - r * 0.7, 2.5 - r * 0.7))  # i gates ...
    art += draw_arrow(ax, (3.6, 1.48), (2.95 + r * 0.7, 2.5 - r * 0.7))  # ... the candidate g
    art += draw_arrow(ax, (2.95, 2.5 + r), (2.95, 3.6 - r))
    art += draw_box(ax, (6.0, 2.55), "tanh", color=color, fill=color + "22", width=0.8,
                    height=0.5, fontsize=11)  # fmt: skip
    art += draw_arrow(ax, (6.0, 3.6), (6.0, 2.8))
    art += draw_op(ax, (6.0, 1.6), r"$\times$")
    art += draw_arrow(ax, (6.0, 2.3), (6.0, 1.6 + r))
    art += draw_arrow(ax, (4.9, 1.48), (6.0 - r, 1.6), curve=-0.3)  # o gates the output
    art += draw_arrow(ax, (6.0 + r, 1.6), (7.0, 1.6))
    _finish(ax, (-1.5, 8.0), (-1.8, 4.1))
    return art


def draw_gru_cell(ax, color=ENCODER):
    """One GRU step in PyTorch's form: r and z from both inputs, n = tanh(ax_n + r * ah_n),
    h_t = (1 - z) * n + z * h_{t-1}. Returns the list of artists added."""
    rad = OP_RADIUS
    art = _data(ax, (-0.9, 3.6), r"$h_{t-1}$") + _data(ax, (9.5, 1.15), r"$h_t$")
    art += _data(ax, (2.8, -1.3), r"$x_t$")
    art += draw_box(ax, (2.8, -0.2), r"$a^x = x_t W_x + b_x$", color=color, fill="white",
                    width=5.0, height=0.5, fontsize=11)  # fmt: skip
    art += draw_box(ax, (2.8, 2.5), r"$a^h = h_{t-1} W_h + b_h$", color=color, fill="white",
                    width=5.0, height=0.5, fontsize=11)  # fmt: skip
    art += draw_arrow(ax, (2.8, -1.05), (2.8, -0.45))
    art += draw_arrow(ax, (-0.5, 3.6), (7.0, 3.6))  # h_{t-1} runs to the mix ...
    art += draw_arrow(ax, (7.0, 3.6), (7.0, 1.42))
    art += draw_arrow(ax, (2.8, 3.6), (2.8, 2.75))  # ... and into W_h
    art += _gate(ax, (0.9, 1.15), r"$r=\sigma$", color)
    art += draw_op(ax, (2.2, 1.15), r"$\times$")  # r * a^h_n: the reset acts after W_h
    art += _gate(ax, (3.5, 1.15), r"$n=\tanh$", color)
    art += _gate(ax, (4.9, 1.15), r"$z=\sigma$", color)
    for x in (0.9, 3.5, 4.9):  # from a^x
        art += draw_arrow(ax, (x, 0.05), (x, 0.87))
    for x, end in ((0.9, 1.43), (2.2, 1.15 + rad), (4.9, 1.43)):  # from a^h
        art += draw_arrow(ax, (x, 2.25), (x, end))
    art += draw_arrow(ax, (1.3, 1.15), (2.2 - rad, 1.15))
    art += draw_arrow(ax, (2.2 + rad, 1.15), (3.1, 1.15))
    art += draw_box(ax, (7.0, 1.15), r"$(1-z)\,n + z\,h_{t-1}$", color=color, fill="white",
                    width=2.4, height=0.55, fontsize=11)  # fmt: skip
    art += draw_arrow(ax, (5.3, 1.15), (5.8, 1.15))  # z sets the mix
    art += draw_arrow(ax, (3.5, 0.87), (6.2, 0.87), curve=0.25)  # n, the candidate
    art += draw_arrow(ax, (8.2, 1.15), (9.1, 1.15))
    _finish(ax, (-1.5, 10.1), (-1.8, 4.1))
    return art
