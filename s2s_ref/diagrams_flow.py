"""Pictures of gradients and reads: the BPTT graph, the gated cells' backward data flow, and one
attention read with real tokens. Same primitives and palette as ``s2s_ref.diagrams``; gradients
are drawn in GRADIENT, dashed, against the ink of the forward pass.

Book: chapter 1, "Backpropagation through time"; chapter 2, "The backward passes"; chapter 5,
"Scoring functions".
"""

from s2s_ref import diagrams
from s2s_ref.diagrams import (
    ATTENTION,
    DECODER,
    ENCODER,
    GREY,
    INK,
    LIGHT_GREY,
    draw_arrow,
    draw_box,
)

GRADIENT = "#D55E00"  # vermillion: a gradient flowing backwards


def _grad_arrow(ax, start, end, label=None, label_offset=(0.0, 0.0), curve=0.0):
    artists = draw_arrow(ax, start, end, label, GRADIENT, label_offset, curve)
    artists[0].set_linestyle("--")
    if label is not None:
        artists[1].set_color(GRADIENT)
    return artists


def draw_bptt_graph(ax, steps=3):
    """The unrolled RNN with its losses, forward (ink) and backward (dashed, vermillion).

    Each state h_t gets its gradient along two paths: from its own loss L_t (up) and from the
    next state h_{t+1} (right), summed; h_T has only the first. Returns the artists added.
    """
    if steps < 2:
        raise ValueError(
            f"draw_bptt_graph: steps must be >= 2 (two paths need a next step), got {steps}"
        )
    gap, up = 2.6, 1.6
    artists = draw_box(ax, (0.0, 0.0), r"$h_0$", color=GREY, fill=LIGHT_GREY, width=0.7)
    for t in range(1, steps + 1):
        cx = gap * t
        artists += draw_box(ax, (cx, 0.0), rf"$h_{t}$", color=ENCODER, fill=ENCODER + "22")
        artists += draw_box(ax, (cx, -up), rf"$x_{t}$", color=GREY, fill=LIGHT_GREY, width=0.7)
        artists += draw_box(ax, (cx, up), rf"$L_{t}$", color=INK, fill="white", width=0.7)
        artists += draw_arrow(ax, (cx, -up + 0.3), (cx, -0.3))
        artists += draw_arrow(ax, (cx - 0.12, 0.3), (cx - 0.12, up - 0.3))
        artists += draw_arrow(ax, (cx - gap + 0.45, 0.08), (cx - 0.45, 0.08))
        artists += _grad_arrow(
            ax,
            (cx + 0.12, up - 0.3),
            (cx + 0.12, 0.3),
            rf"$\partial L_{t}/\partial h_{t}$",
            (0.75, 0.0),
        )
        if t < steps:
            artists += _grad_arrow(
                ax,
                (cx + gap - 0.45, -0.12),
                (cx + 0.45, -0.12),
                r"$\mathtt{dh\_prev}$",
                (0.0, -0.3),
            )
    artists.append(
        ax.text(
            gap * steps + 0.7,
            -up,
            "forward: ink\nbackward: dashed",
            ha="left",
            va="center",
            fontsize=11,
            color=GREY,
        )
    )
    ax.set_xlim(-0.6, gap * steps + 3.0)
    ax.set_ylim(-up - 0.5, up + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


# (name, row, column, highlight) and (source, target, label) of each backward data flow.
LSTM_FLOW = (
    [("dh_next", 0, 1, True), ("dc_next", 0, 3, True), ("do", 1, 0, False), ("dc", 1, 2.5, False),
     ("di", 2, 1, False), ("df", 2, 2, False), ("dg", 2, 3, False), ("dc_prev", 2, 4.2, True),
     ("da", 3, 2, False), ("dx", 4, 0, False), ("dh_prev", 4, 1.2, True),
     ("dWx", 4, 2.4, False), ("dWh", 4, 3.4, False), ("db", 4, 4.4, False)],
    [("dh_next", "do", "⊙ tanh c"), ("dh_next", "dc", "⊙ o(1−tanh²c)"), ("dc_next", "dc", "+"),
     ("dc", "di", "⊙ g"), ("dc", "df", "⊙ c_prev"), ("dc", "dg", "⊙ i"), ("dc", "dc_prev", "⊙ f"),
     ("do", "da", ""), ("di", "da", ""), ("df", "da", ""),
     ("dg", "da", ""),
     ("da", "dx", "Wxᵀ"), ("da", "dh_prev", "Whᵀ"),
     ("da", "dWx", "xᵀ"), ("da", "dWh", "hᵀ"), ("da", "db", "Σ")],
)  # fmt: skip
GRU_FLOW = (
    [("dh_next", 0, 2, True), ("dn", 1, 0.5, False), ("dz", 1, 2, False), ("da_n", 2, 0.5, False),
     ("da_z", 2, 2, False), ("dr", 2.6, 3.4, False), ("da_r", 3.4, 3.4, False),
     ("dax", 4, 0.5, False), ("dah", 4, 2.3, False), ("dx", 5, 0, False), ("dWx", 5, 1, False),
     ("dh_prev", 5, 3.6, True), ("dWh", 5, 2.2, False)],
    [("dh_next", "dn", "⊙ (1−z)"), ("dh_next", "dz", "⊙ (h_prev−n)"),
     ("dh_next", "dh_prev", ""), ("dn", "da_n", "⊙ (1−n²)"), ("dz", "da_z", "σ′"),
     ("da_n", "dr", "⊙ ah_n"), ("dr", "da_r", "σ′"), ("da_n", "dax", "n block"),
     ("da_n", "dah", "⊙ r"), ("da_z", "dax", ""), ("da_z", "dah", ""), ("da_r", "dax", ""),
     ("da_r", "dah", ""), ("dax", "dx", "Wxᵀ"), ("dax", "dWx", "xᵀ"), ("dah", "dh_prev", "+ Whᵀ"),
     ("dah", "dWh", "hᵀ")],
)  # fmt: skip


def draw_gated_backward(ax, cell="lstm"):
    """The backward data flow of one LSTM or GRU step, from the upstream gradients (top) to the
    gradients of the inputs and weights (bottom); the gradients that leave for step t - 1 are
    blue. Edge labels say what multiplies on the way. Returns the artists added.
    """
    flows = {"lstm": LSTM_FLOW, "gru": GRU_FLOW}
    if cell not in flows:
        raise ValueError(f"draw_gated_backward: cell must be 'lstm' or 'gru', got {cell!r}")
    nodes, edges = flows[cell]
    dx, dy = 1.9, 1.45
    where = {name: (col * dx, -row * dy) for name, row, col, _ in nodes}
    artists = []
    for name, _, _, leaves in nodes:
        color = ENCODER if leaves else GRADIENT
        label = r"$\mathtt{" + name.replace("_", r"\_") + "}$"
        artists += draw_box(
            ax,
            where[name],
            label,
            color=color,
            fill=color + "18",
            width=1.35,
            height=0.5,
            fontsize=11,
        )
    for a, b, label in edges:
        (x0, y0), (x1, y1) = where[a], where[b]
        artists += _grad_arrow(ax, (x0, y0 - 0.25), (x1, y1 + 0.25), label or None, (0.0, 0.0))
        if label:
            artists[-1].set_fontsize(10)
            artists[-1].set_backgroundcolor("white")
    if cell == "lstm":  # the four gate gradients meet in da, each through its own slope
        x, y = where["da"]
        note = "each gate through its slope:\nσ′ = σ(1−σ), tanh′ = 1−tanh²"
        artists.append(ax.text(x + 0.85, y, note, ha="left", va="center", fontsize=10, color=GREY))
    xs = [x for x, _ in where.values()]
    ys = [y for _, y in where.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


def draw_attention_read(ax, tokens, scores, weights, query="$s_t$", output=None):
    """One attention read on real tokens: the query (red) scores every key (blue, labelled with
    its source token); a softmax turns the scores into weights (green bars and lines); the
    context is the weighted sum of the values. scores, weights: one number per token.
    output: the token the decoder wrote at this step, shown beside the query. Returns artists.
    """
    S = len(tokens)
    if not (len(scores) == len(weights) == S) or S == 0:
        raise ValueError(
            f"draw_attention_read: need one score and one weight per token; got {S} tokens, "
            f"{len(scores)} scores, {len(weights)} weights"
        )
    gap = 1.1
    xs = [gap * s for s in range(S)]
    middle = (xs[0] + xs[-1]) / 2
    artists = draw_box(
        ax,
        (middle, 4.4),
        query if output is None else f"{query} → {output}",
        color=DECODER,
        fill=DECODER + "22",
        width=2.0,
    )
    for x, token, score, w in zip(xs, tokens, scores, weights, strict=True):
        artists += diagrams._attention_line(ax, [(middle, 4.1), (x, 2.75)], float(w))
        artists.append(
            ax.text(x, 2.45, f"{score:.1f}", ha="center", va="center", fontsize=10, color=INK)
        )
        bar = ax.bar([x], [1.2 * float(w)], bottom=0.75, width=0.7, color=ATTENTION, alpha=0.8)
        artists += list(bar)
        artists.append(
            ax.text(
                x,
                0.55 + 1.2 * float(w) + 0.35,
                f"{w:.2f}",
                ha="center",
                fontsize=9,
                color=ATTENTION,
            )
        )
        artists += draw_box(
            ax,
            (x, 0.0),
            token,
            color=ENCODER,
            fill=ENCODER + "22",
            width=0.95,
            height=0.55,
            fontsize=11,
        )
    left = xs[0] - 0.7
    for y, text in ((2.45, "score"), (1.1, "weight"), (0.0, "key")):
        artists.append(ax.text(left, y, text, ha="right", va="center", fontsize=11, color=GREY))
    artists += draw_box(
        ax,
        (xs[-1] + 2.2, 1.1),
        r"$\mathrm{ctx}_t = \sum_j \alpha_{t,j} h_j$",
        color=ATTENTION,
        fill=ATTENTION + "22",
        width=2.6,
    )
    ax.set_xlim(left - 1.3, xs[-1] + 3.6)
    ax.set_ylim(-0.5, 4.9)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists
