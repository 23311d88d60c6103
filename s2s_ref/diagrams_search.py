"""A beam-search tree for chapter 4: which hypotheses the beam kept, and which it pruned.

``trace_beam`` runs beam search (no length normalisation) for one source and records, at every
step, the best ``beam_size`` extensions of every live hypothesis with their summed log
probabilities, marking those the beam kept; ``draw_beam_tree`` draws that record, one row per
output step, kept nodes in the decoder's colour and pruned ones grey. The page checks the trace
against ``s2s_ref.decoding.beam_search``: both must return the same best output.

Book: chapter 4, "Beam search".
"""

from dataclasses import dataclass

import numpy as np

from s2s_ref.decoding import gather_state
from s2s_ref.diagrams import DECODER, GREY, INK, LIGHT_GREY, draw_box


@dataclass
class Node:
    """One extension: its parent's index in the previous level (-1: the start), its token."""

    parent: int
    token: int
    log_prob: float  # summed over the whole prefix, this token included
    kept: bool = False  # among the beam's K best (a kept EOS is a finished hypothesis)
    finished: bool = False


def trace_beam(step, state, sos_id, eos_id, max_len, beam_size):
    """Beam search for one source, recorded level by level -> list of levels (lists of Node).

    step, state: as for s2s_ref.decoding (state batched with B = 1). Level t holds, for each
    live hypothesis of level t - 1, its beam_size most probable extensions. The K best
    extensions of the level survive: the EOS ones among them finish, the others (refilled to K
    with the next best non-EOS ones, as beam_search does) stay live.
    """
    if beam_size < 1 or max_len < 1:
        raise ValueError(
            f"trace_beam: need beam_size >= 1 and max_len >= 1, got {beam_size}, {max_len}"
        )
    K = beam_size
    live = [(-1, 0.0)]  # (index in the previous level, summed log probability)
    tokens = np.array([sos_id])
    levels, finished = [], []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)  # (len(live), V)
        level, rows = [], []  # rows: which live hypothesis (row of log_probs) each node extends
        for row, (parent, base) in enumerate(live):
            for token in np.argsort(-log_probs[row])[:K]:
                level.append(Node(parent, int(token), base + float(log_probs[row, token])))
                rows.append(row)
        ranked = sorted(range(len(level)), key=lambda i: -level[i].log_prob)
        best_finished = [i for i in ranked[:K] if level[i].token == eos_id]
        keep = [i for i in ranked if level[i].token != eos_id][:K]
        for i in best_finished:
            level[i].kept = level[i].finished = True
            finished.append(level[i].log_prob)
        for i in keep:
            level[i].kept = True
        levels.append(level)
        finished = sorted(finished, reverse=True)[:K]
        if not keep or (len(finished) == K and level[keep[0]].log_prob < finished[-1]):
            break  # K finished hypotheses that no live one can beat: scores only fall
        live = [(i, level[i].log_prob) for i in keep]
        tokens = np.array([level[i].token for i in keep])
        state = gather_state(state, np.array([rows[i] for i in keep]))
    return levels


def best_output(levels):
    """Tokens (without EOS) and log probability of the most probable finished hypothesis."""
    ends = [
        (node.log_prob, t, i)
        for t, level in enumerate(levels)
        for i, node in enumerate(level)
        if node.finished
    ]
    if not ends:
        raise ValueError("best_output: the trace has no finished hypothesis (raise max_len)")
    log_prob, t, i = max(ends)
    tokens = []
    while t > 0:  # from the EOS node up to the first token
        i, t = levels[t][i].parent, t - 1
        tokens.append(levels[t][i].token)
    return tokens[::-1], log_prob


def draw_beam_tree(ax, levels, names, start="<s>"):
    """Draw a trace of ``trace_beam``: one row per output step, top to bottom.

    names: token id -> label. Each node shows its token and its summed log probability; kept
    nodes are red (the decoder's colour), pruned ones grey, finished ones (a kept EOS) have a
    thick border. Returns the list of artists added.
    """
    if not levels:
        raise ValueError("draw_beam_tree: the trace is empty")
    width = max(len(level) for level in levels)
    gap_x, gap_y = 1.25, 1.15
    artists = draw_box(ax, ((width - 1) * gap_x / 2, 0.0), start, color=GREY, fill=LIGHT_GREY)
    above = [((width - 1) * gap_x / 2, 0.0)]
    for t, level in enumerate(levels, start=1):
        offset = (width - len(level)) * gap_x / 2
        here = []
        for j, node in enumerate(level):
            xy = (offset + j * gap_x, -t * gap_y)
            px, py = above[max(node.parent, 0)]
            color = DECODER if node.kept else "#bbbbbb"
            (line,) = ax.plot(
                [px, xy[0]],
                [py - 0.3, xy[1] + 0.32],
                color=color,
                lw=2.2 if node.kept else 1.0,
                zorder=1,
            )
            label = f"{names[node.token]}\n{node.log_prob:.2f}"
            box = draw_box(
                ax,
                xy,
                label,
                color=color,
                fill=DECODER + "22" if node.kept else "white",
                width=1.05,
                height=0.64,
                fontsize=10,
            )
            box[1].set_color(INK if node.kept else GREY)
            if node.finished:
                box[0].set_linewidth(3.5)
            artists += [line, *box]
            here.append(xy)
        artists.append(
            ax.text(-0.9, -t * gap_y, f"t = {t}", ha="right", va="center", fontsize=10, color=GREY)
        )
        above = here
    ax.set_xlim(-1.7, (width - 1) * gap_x + 0.7)
    ax.set_ylim(-(len(levels) + 0.6) * gap_y, 0.6)
    ax.axis("off")
    return artists
