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


def draw_encoder_decoder(ax, source_len=4, target_len=3, attention=None):
    """An encoder reading x_1..x_S (blue) hands its last state to a decoder (red) that emits y_t.

    The decoder's input at step t is its previous output (<s> at the first step). attention:
    None for the plain model, whose only link between the two is the final encoder state, ctx (the
    bottleneck of chapter 3); or (t, weights), weights one per source step, to draw decoder step t
    attending over every encoder state (chapter 5), line widths proportional to the weights.
    Returns the list of artists added.

    Book: chapter 3, "The model in three equations"; chapter 5, "Two attention decoders".
    """
    if source_len < 1 or target_len < 1:
        raise ValueError(
            f"draw_encoder_decoder: source_len and target_len must be >= 1, "
            f"got {source_len} and {target_len}"
        )
    gap, up = 1.5, 1.3
    enc_x = [gap * s for s in range(source_len)]
    dec_x = [enc_x[-1] + gap * (t + 1.5) for t in range(target_len)]
    artists = []
    for s, cx in enumerate(enc_x, start=1):
        artists += draw_box(ax, (cx, 0.0), rf"$h_{s}$", color=ENCODER, fill=ENCODER + "22")
        artists += draw_box(ax, (cx, -up), rf"$x_{s}$", color=GREY, fill=LIGHT_GREY, width=0.6)
        artists += draw_arrow(ax, (cx, -up + 0.3), (cx, -0.3))
    for t, cx in enumerate(dec_x, start=1):
        previous = "<s>" if t == 1 else rf"$y_{t - 1}$"
        artists += draw_box(ax, (cx, 0.0), rf"$s_{t}$", color=DECODER, fill=DECODER + "22")
        artists += draw_box(ax, (cx, -up), previous, color=GREY, fill=LIGHT_GREY, width=0.8)
        artists += draw_box(ax, (cx, up), rf"$y_{t}$", color=GREY, fill=LIGHT_GREY, width=0.6)
        artists += draw_arrow(ax, (cx, -up + 0.3), (cx, -0.3))
        artists += draw_arrow(ax, (cx, 0.3), (cx, up - 0.3))
    for x0, x1 in zip(enc_x + dec_x[:-1], enc_x[1:] + dec_x, strict=True):
        color = DECODER if x0 in dec_x else ENCODER  # the hand-over is the encoder's last state
        label = r"$\mathrm{ctx}$" if x1 == dec_x[0] else None
        artists += draw_arrow(ax, (x0 + 0.45, 0.0), (x1 - 0.45, 0.0), label, color=color,
                              label_offset=(0.0, 0.22))  # fmt: skip
    artists.append(ax.text(enc_x[0] - 0.6, -up - 0.75, "encoder", color=ENCODER, fontsize=12))
    artists.append(ax.text(dec_x[-1] + 0.6, -up - 0.75, "decoder", color=DECODER, fontsize=12,
                           ha="right"))  # fmt: skip
    top = up + 0.5
    if attention is not None:
        t, weights = attention
        weights = _check_weights("draw_encoder_decoder", weights, source_len)
        if not 1 <= t <= target_len:
            raise ValueError(
                f"draw_encoder_decoder: attention step must be in 1..{target_len}, got {t}"
            )
        # Up from s_t beside y_t, over the outputs, down to each h_s: the farther the source
        # step, the higher its line, so that no two lines cross.
        sx = dec_x[t - 1] - 0.4
        for k, (cx, w) in enumerate(zip(enc_x, weights, strict=True)):
            height = up + 0.6 + 0.25 * (source_len - 1 - k)
            artists += _attention_line(ax, [(sx, 0.3), (sx, height), (cx, height), (cx, 0.3)], w)
        top = up + 0.9 + 0.25 * (source_len - 1)
    ax.set_xlim(enc_x[0] - 0.7, dec_x[-1] + 0.7)
    ax.set_ylim(-up - 1.0, top)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


def draw_attention(ax, weights, query=r"$s_t$"):
    """A decoder state (red) attending over encoder states h_1..h_S (blue).

    weights: S non-negative numbers summing to 1, the attention weights of this decoder step;
    each is drawn as a green line whose width is proportional to it, labelled with its value,
    and the context ctx_t = sum_j weights[j] h_j appears beside the query. Returns the artists.

    Book: chapter 5, "Two attention decoders".
    """
    weights = _check_weights("draw_attention", weights)
    gap, up = 1.3, 2.6
    xs = [gap * s for s in range(len(weights))]
    middle = (xs[0] + xs[-1]) / 2
    artists = draw_box(ax, (middle, up), query, color=DECODER, fill=DECODER + "22")
    context = r"$\mathrm{ctx}_t = \sum_j \alpha_{t,j} h_j$"
    artists += draw_box(ax, (middle + 2.2, up), context, color=ATTENTION,
                        fill=ATTENTION + "22", width=2.4)  # fmt: skip
    for s, (cx, w) in enumerate(zip(xs, weights, strict=True), start=1):
        artists += draw_box(ax, (cx, 0.0), rf"$h_{s}$", color=ENCODER, fill=ENCODER + "22")
        artists += _attention_line(ax, [(middle, up - 0.3), (cx, 0.3)], w)
        label = (0.72 * cx + 0.28 * middle, 0.3 + 0.28 * (up - 0.6))  # near the encoder end
        artists.append(ax.text(*label, f"{w:.2f}", ha="center", va="center", fontsize=10,
                               color=ATTENTION, backgroundcolor="white", zorder=4))  # fmt: skip
    artists.append(ax.text(xs[0] - 0.5, 0.3 + 0.28 * (up - 0.6), r"$\alpha_{t,j}$:", ha="right",
                           va="center", fontsize=11, color=ATTENTION))  # fmt: skip
    ax.set_xlim(xs[0] - 1.1, max(xs[-1], middle + 3.4) + 0.2)
    ax.set_ylim(-0.6, up + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


def _attention_line(ax, points, weight):
    """A green polyline whose width says how much attention it carries (6 points for weight 1)."""
    xs, ys = zip(*points, strict=True)
    (line,) = ax.plot(xs, ys, color=ATTENTION, linewidth=0.3 + 6.0 * weight, alpha=0.85,
                      solid_joinstyle="round", solid_capstyle="round", zorder=1)  # fmt: skip
    return [line]


def _check_weights(name, weights, length=None):
    weights = [float(w) for w in weights]
    if length is not None and len(weights) != length:
        raise ValueError(f"{name}: expected {length} attention weights, got {len(weights)}")
    if not weights or min(weights) < 0 or abs(sum(weights) - 1) > 1e-6:
        raise ValueError(f"{name}: attention weights must be >= 0 and sum to 1, got {weights}")
    return weights
