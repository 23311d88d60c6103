"""The gated-cell diagrams draw without error, label what the book's equations name."""

import matplotlib
import pytest

matplotlib.use("Agg")  # headless: no display in CI
import matplotlib.pyplot as plt  # noqa: E402

from s2s_ref import diagrams_gated  # noqa: E402


@pytest.mark.parametrize(
    "draw, labels",
    [
        (diagrams_gated.draw_lstm_cell, [r"$f=\sigma$", r"$g=\tanh$", r"$c_{t-1}$", r"$h_t$"]),
        (diagrams_gated.draw_gru_cell, [r"$r=\sigma$", r"$n=\tanh$", r"$h_{t-1}$", r"$h_t$"]),
    ],
)
def test_cell_diagrams_render_with_their_labels(draw, labels):
    fig, ax = plt.subplots()
    try:
        artists = draw(ax)
        texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
        assert all(label in texts for label in labels)
        assert all(a.axes is ax for a in artists)
        fig.canvas.draw()
    finally:
        plt.close(fig)
