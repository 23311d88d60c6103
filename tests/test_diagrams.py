"""The diagram module draws without error, and stays free of torch."""

import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # headless: no display in CI
import matplotlib.pyplot as plt  # noqa: E402

from s2s_ref import diagrams  # noqa: E402


@pytest.mark.parametrize("steps, rolled", [(1, False), (4, True), (7, True)])
def test_draw_unrolled_rnn_adds_its_artists_and_renders(steps, rolled):
    fig, ax = plt.subplots()
    try:
        artists = diagrams.draw_unrolled_rnn(ax, steps=steps, rolled=rolled)
        texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
        assert f"$x_{steps}$" in texts and f"$h_{steps}$" in texts and "$h_0$" in texts
        assert texts.count("$W_h$") == steps + rolled  # one per step, one for the loop
        assert all(a.axes is ax for a in artists)
        fig.canvas.draw()
    finally:
        plt.close(fig)


def test_zero_steps_is_refused():
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="steps must be >= 1"):
            diagrams.draw_unrolled_rnn(ax, steps=0)
    finally:
        plt.close(fig)


def test_the_three_roles_have_three_valid_distinct_colours():
    from matplotlib.colors import is_color_like, to_rgb

    palette = (diagrams.ENCODER, diagrams.DECODER, diagrams.ATTENTION)
    assert all(is_color_like(c) for c in palette)
    assert len({to_rgb(c) for c in palette}) == 3, palette


def test_importing_diagrams_does_not_import_torch():
    code = "import sys, s2s_ref.diagrams; print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[1]  # -c puts the working directory on sys.path
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"


def _green_lines(artists):
    return [a for a in artists if hasattr(a, "get_linewidth") and hasattr(a, "get_xdata")]


def _edge_colours(artists, label_prefix):
    """Edge colour of each box whose label starts with label_prefix (box and label are adjacent)."""
    colours = []
    for box, text in zip(artists, artists[1:], strict=False):
        if hasattr(text, "get_text") and text.get_text().startswith(label_prefix):
            if hasattr(box, "get_edgecolor") and not hasattr(box, "get_xdata"):
                colours.append(matplotlib.colors.to_hex(box.get_edgecolor()))
    return colours


@pytest.mark.parametrize("S, T_out", [(1, 1), (4, 3), (6, 2)])
def test_draw_encoder_decoder_labels_and_colours(S, T_out):
    fig, ax = plt.subplots()
    try:
        artists = diagrams.draw_encoder_decoder(ax, source_len=S, target_len=T_out)
        texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
        assert f"$x_{S}$" in texts and f"$h_{S}$" in texts and f"$y_{T_out}$" in texts
        assert (
            "<s>" in texts
            and r"$\mathrm{ctx}$" in texts
            and "encoder" in texts
            and "decoder" in texts
        )
        assert set(_edge_colours(artists, "$h_")) == {diagrams.ENCODER}
        assert set(_edge_colours(artists, "$s_")) == {diagrams.DECODER}
        assert not _green_lines(artists)  # no attention unless asked for
        fig.canvas.draw()
    finally:
        plt.close(fig)


def test_encoder_decoder_attention_lines_are_green_and_as_wide_as_their_weights():
    weights = [0.1, 0.6, 0.25, 0.05]
    fig, ax = plt.subplots()
    try:
        artists = diagrams.draw_encoder_decoder(ax, 4, 3, attention=(2, weights))
        lines = _green_lines(artists)
        assert len(lines) == 4
        assert {matplotlib.colors.to_hex(line.get_color()) for line in lines} == {
            diagrams.ATTENTION
        }
        widths = [line.get_linewidth() for line in lines]
        # width = 0.3 + 6 * weight: the widest line is the largest weight, zero stays visible
        assert widths == pytest.approx([0.3 + 6 * w for w in weights])
        ends = [line.get_xdata()[-1] for line in lines]  # each line ends above its own h_s
        assert ends == sorted(ends) and len(set(ends)) == 4
        fig.canvas.draw()
    finally:
        plt.close(fig)


def test_draw_attention_weights_widths_and_labels():
    weights = [0.05, 0.7, 0.2, 0.05, 0.0]
    fig, ax = plt.subplots()
    try:
        artists = diagrams.draw_attention(ax, weights, query="$s_3$")
        texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
        assert [t for t in texts if t[:1].isdigit()] == ["0.05", "0.70", "0.20", "0.05", "0.00"]
        assert "$s_3$" in texts and "$h_5$" in texts
        widths = [line.get_linewidth() for line in _green_lines(artists)]
        assert widths == pytest.approx([0.3 + 6 * w for w in weights])
        assert _edge_colours(artists, "$s_3") == [diagrams.DECODER]
        assert set(_edge_colours(artists, "$h_")) == {diagrams.ENCODER}
        assert _edge_colours(artists, r"$\mathrm{ctx}_t") == [diagrams.ATTENTION]
        fig.canvas.draw()
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ax: diagrams.draw_attention(ax, [0.5, 0.6]), "sum to 1"),
        (lambda ax: diagrams.draw_attention(ax, [1.5, -0.5]), ">= 0"),
        (lambda ax: diagrams.draw_attention(ax, []), "sum to 1"),
        (
            lambda ax: diagrams.draw_encoder_decoder(ax, 3, 2, attention=(1, [0.5, 0.5])),
            "expected 3 attention weights",
        ),
        (
            lambda ax: diagrams.draw_encoder_decoder(ax, 2, 2, attention=(3, [0.5, 0.5])),
            "must be in 1..2",
        ),
        (lambda ax: diagrams.draw_encoder_decoder(ax, 0, 2), "must be >= 1"),
    ],
)
def test_bad_diagram_arguments_are_refused_with_a_reason(call, message):
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match=re.escape(message)):
            call(ax)
    finally:
        plt.close(fig)
