"""Network diagrams for the book, drawn with matplotlib alone (no torch, no numpy_nn).

The palette is shared by every figure of the course, so that a colour means the same thing on
every page: blue is the encoder (and a lone recurrent cell), red the decoder, green attention.
Diagrams are built from two primitives, ``draw_box`` and ``draw_arrow``, in data coordinates on an
axis whose aspect is equal; each ``draw_*`` function returns the artists it added.

Book: chapter 1, "Unrolling in time" (and later chapters for the encoder-decoder diagrams).
"""

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ENCODER = "#1f77b4"
DECODER = "#d62728"
ATTENTION = "#2ca02c"
INK = "#333333"  # text and arrows: softer than black, still high contrast
GREY = "#7f7f7f"  # secondary labels such as weight names
LIGHT_GREY = "#e6e6e6"  # fill of data (inputs, states), so that cells stand out in colour


def draw_box(ax, center, text, color=INK, fill=None, width=0.9, height=0.6, fontsize=12):
    """A rounded box with centred text; returns [patch, text].

    center: (x, y) in data coordinates; color: edge colour; fill: face colour (None: white).
    """
    x, y = center
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.1",
        edgecolor=color, facecolor=fill or "white", linewidth=1.8, zorder=2,
    )  # fmt: skip
    ax.add_patch(patch)
    label = ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=3)
    return [patch, label]


def draw_arrow(ax, start, end, label=None, color=INK, label_offset=(0.0, 0.0), curve=0.0):
    """An arrow from start to end, optionally labelled near its middle; returns its artists.

    curve: the arc's bend (0 straight; positive bends to the left of the direction of travel).
    """
    arrow = FancyArrowPatch(
        start, end, arrowstyle="-|>", mutation_scale=14, color=color, linewidth=1.5,
        connectionstyle=f"arc3,rad={curve}", shrinkA=0, shrinkB=0, zorder=1,
    )  # fmt: skip
    ax.add_patch(arrow)
    if label is None:
        return [arrow]
    mid = ((start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1])
    text = ax.text(*mid, label, ha="center", va="center", fontsize=11, color=GREY, zorder=3)
    return [arrow, text]


def draw_unrolled_rnn(ax, steps=4, color=ENCODER, rolled=True):
    """The recurrent cell, rolled (a loop) and unrolled over ``steps`` time steps.

    Inputs x_1..x_steps enter from below through Wx; each state h_t leaves upwards and, through
    Wh, to the next step; h_0 enters the first step from the left. The same Wx, Wh and b are
    used at every step, which is the point of the picture. Returns the list of artists added.
    """
    if steps < 1:
        raise ValueError(f"draw_unrolled_rnn: steps must be >= 1, got {steps}")
    artists = []
    gap, up = 1.7, 1.3  # horizontal distance between steps; vertical distance data -> cell
    start = 0.0
    if rolled:
        artists += _draw_step(ax, 0.0, r"$x_t$", r"$h_t$", color)
        artists += draw_arrow(
            ax, (0.45, 0.2), (0.45, -0.2), r"$W_h$", color=INK, curve=-3.0,
            label_offset=(0.9, 0.0),
        )  # fmt: skip
        artists.append(ax.text(2.0, 0.0, "=", ha="center", va="center", fontsize=22, color=INK))
        start = 2.7
    artists += draw_box(ax, (start, 0.0), r"$h_0$", color=GREY, fill=LIGHT_GREY, width=0.6)
    for t in range(1, steps + 1):
        cx = start + gap * t
        artists += _draw_step(ax, cx, rf"$x_{t}$", rf"$h_{t}$", color)
        artists += draw_arrow(ax, (cx - gap + 0.45, 0.0), (cx - 0.45, 0.0), r"$W_h$",
                              label_offset=(0.0, 0.2))  # fmt: skip
    ax.set_xlim(-0.7, start + gap * steps + 0.7)
    ax.set_ylim(-up - 0.5, up + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


def _draw_step(ax, cx, x_label, h_label, color):
    """One cell at (cx, 0) with its input below and its state above."""
    up = 1.3
    artists = draw_box(ax, (cx, 0.0), "tanh", color=color, fill=color + "22")
    artists += draw_box(ax, (cx, -up), x_label, color=GREY, fill=LIGHT_GREY, width=0.6)
    artists += draw_box(ax, (cx, up), h_label, color=GREY, fill=LIGHT_GREY, width=0.6)
    artists += draw_arrow(ax, (cx, -up + 0.3), (cx, -0.3), r"$W_x$", label_offset=(0.3, 0.0))
    artists += draw_arrow(ax, (cx, 0.3), (cx, up - 0.3))
    return artists
