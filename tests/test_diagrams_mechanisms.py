"""The pictures of the core mechanisms, and the course style: they run, label what they claim,
refuse bad input, and the traced beam search agrees with the package's beam_search."""

import itertools

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # headless: no display in CI
import matplotlib.pyplot as plt  # noqa: E402

from s2s_ref import style  # noqa: E402
from s2s_ref.decoding import beam_search  # noqa: E402
from s2s_ref.diagrams_flow import (  # noqa: E402
    GRU_FLOW,
    LSTM_FLOW,
    draw_attention_read,
    draw_bptt_graph,
    draw_gated_backward,
)
from s2s_ref.diagrams_search import best_output, draw_beam_tree, trace_beam  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    fig.canvas.draw()  # every artist must render, not only be created
    plt.close(fig)


def _texts(artists):
    return [a.get_text() for a in artists if hasattr(a, "get_text")]


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_bptt_graph_has_both_gradient_paths_into_each_state(ax, steps):
    texts = _texts(draw_bptt_graph(ax, steps))
    assert all(f"$h_{t}$" in texts and f"$L_{t}$" in texts for t in range(1, steps + 1))
    from_loss = [t for t in texts if t.startswith(r"$\partial L_")]
    from_next = [t for t in texts if "dh\\_prev" in t]
    assert len(from_loss) == steps and len(from_next) == steps - 1  # h_T has no next state


def test_bptt_graph_needs_two_steps(ax):
    with pytest.raises(ValueError, match="steps must be >= 2"):
        draw_bptt_graph(ax, 1)


@pytest.mark.parametrize("cell, flow", [("lstm", LSTM_FLOW), ("gru", GRU_FLOW)])
def test_gated_backward_draws_every_gradient_and_edge(ax, cell, flow):
    nodes, edges = flow
    texts = _texts(draw_gated_backward(ax, cell))
    for name, *_ in nodes:
        assert r"$\mathtt{" + name.replace("_", r"\_") + "}$" in texts
    names = {name for name, *_ in nodes}
    assert all(a in names and b in names for a, b, _ in edges)  # no edge to a missing node
    leaving = {name for name, *_, leaves in nodes if leaves}
    assert {"dh_prev"} <= leaving and ("dc_prev" in leaving) == (cell == "lstm")


def test_gated_backward_refuses_an_unknown_cell(ax):
    with pytest.raises(ValueError, match="cell must be 'lstm' or 'gru'"):
        draw_gated_backward(ax, "rnn")


def test_attention_read_labels_tokens_scores_and_weights(ax):
    tokens, scores = ["drei", "und", "zwanzig"], np.array([0.5, -1.0, 2.0])
    weights = np.exp(scores) / np.exp(scores).sum()
    texts = _texts(draw_attention_read(ax, tokens, scores, weights, output="twenty"))
    assert all(t in texts for t in tokens)
    assert all(f"{s:.1f}" in texts for s in scores) and all(f"{w:.2f}" in texts for w in weights)
    assert any("twenty" in t for t in texts)


def test_attention_read_needs_one_score_and_weight_per_token(ax):
    with pytest.raises(ValueError, match="one score and one weight per token"):
        draw_attention_read(ax, ["a", "b"], [0.1], [1.0])


def _table_model(seed, V=5, eos=3):
    """A random next-token model: the log-probabilities depend only on (seed, prefix), so any
    order of queries sees the same model. step(tokens, prefixes) as in s2s_ref.decoding."""

    def step(tokens, prefixes):
        new = np.empty(len(prefixes), dtype=object)
        out = np.empty((len(prefixes), V))
        for i, (prefix, token) in enumerate(zip(prefixes, tokens, strict=True)):
            new[i] = (*prefix, int(token))
            logits = 2.0 * np.random.default_rng([seed, *new[i]]).normal(size=V)
            logits[eos] += 2.0  # outputs end within a few steps
            out[i] = logits - np.log(np.exp(logits).sum())
        return out, new

    start = np.empty(1, dtype=object)
    start[0] = ()
    return step, start


@pytest.mark.parametrize("seed, K", list(itertools.product([0, 1, 2], [1, 2, 3])))
def test_traced_beam_returns_what_beam_search_returns(seed, K):
    SOS, EOS, max_len = 4, 3, 6
    step, start = _table_model(seed)
    tokens, log_prob = best_output(trace_beam(step, start, SOS, EOS, max_len, K))
    ref = beam_search(step, start, 1, SOS, EOS, max_len, beam_size=K)[0]
    best = max((h for h in ref if h.finished), key=lambda h: h.log_prob)
    assert tuple(tokens) == best.tokens and log_prob == pytest.approx(best.log_prob)


def test_beam_tree_greys_the_pruned_and_marks_the_kept(ax):
    step, start = _table_model(0)
    levels = trace_beam(step, start, 4, 3, 5, 2)
    names = {0: "a", 1: "b", 2: "c", 3: "<eos>", 4: "d"}
    artists = draw_beam_tree(ax, levels, names)
    nodes = [n for level in levels for n in level]
    assert any(n.kept for n in nodes) and any(not n.kept for n in nodes)
    labels = [t for t in _texts(artists) if "\n" in t]
    assert len(labels) == len(nodes)  # one box per node, "token\nlog P"
    assert all(len(level) <= 2 * 2 for level in levels)  # K live parents x K extensions


def test_beam_tree_refuses_an_empty_trace(ax):
    with pytest.raises(ValueError, match="empty"):
        draw_beam_tree(ax, [], {})


def test_style_file_applies_legible_sizes_and_svg_text():
    with plt.style.context(style.style_path()):
        assert plt.rcParams["xtick.labelsize"] >= 11 and plt.rcParams["font.size"] >= 11
        assert plt.rcParams["svg.fonttype"] == "none"


def test_model_colours_are_distinct_and_unknown_models_refused():
    assert len(set(style.MODEL_COLORS.values())) == len(style.MODEL_COLORS)
    assert style.model_color("Luong") == style.MODEL_COLORS["luong"]
    with pytest.raises(ValueError, match="unknown model 'transformer'"):
        style.model_color("transformer")


@pytest.mark.parametrize(
    "x, digits, text",
    [
        (9.2e-19, 0, "9 × 10⁻¹⁹"),
        (2.3e-10, 1, "2.3 × 10⁻¹⁰"),
        (2e8, 0, "2 × 10⁸"),
        (1e-5, 0, "1 × 10⁻⁵"),
    ],
)
def test_scientific_writes_powers_of_ten(x, digits, text):
    assert style.scientific(x, digits) == text
