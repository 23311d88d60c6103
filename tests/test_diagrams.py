"""The diagram module draws without error, and stays free of torch."""

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


def test_palette_is_the_course_palette():
    assert (diagrams.ENCODER, diagrams.DECODER, diagrams.ATTENTION) == (
        "#1f77b4",
        "#d62728",
        "#2ca02c",
    )


def test_importing_diagrams_does_not_import_torch():
    code = "import sys, s2s_ref.diagrams; print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[1]  # -c puts the working directory on sys.path
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"
