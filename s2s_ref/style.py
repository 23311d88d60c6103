"""The course's figure style: one matplotlib style file and one colour per model, on every page.

Every page and exercise that plots calls ``use()`` at the top of its first code cell. It applies
``course.mplstyle`` (sizes chosen so that text stays at least 9 px tall at the size the book shows
a figure) and, in a Jupyter kernel, makes the inline backend emit SVG, so that figures are sharp
at any zoom and their text stays text. ``MODEL_COLORS`` gives each model one colour, the same in
every chapter; the Okabe-Ito palette, which colour-blind readers can tell apart.

Book: every chapter with a figure (the style is described in "Notation and conventions").
"""

from importlib import resources

# Okabe & Ito (2008), "Color Universal Design": eight colours distinguishable by the common
# forms of colour blindness. One per model, fixed across chapters.
MODEL_COLORS = {
    "rnn": "#999999",  # grey: the vanilla cell, the baseline of chapters 1 and 2
    "lstm": "#0072B2",  # blue
    "gru": "#D55E00",  # vermillion
    "plain": "#000000",  # black: the decoder without attention (chapters 3 to 5, 7)
    "bahdanau": "#009E73",  # bluish green: attend, then step
    "luong": "#CC79A7",  # reddish purple: step, then attend
    "pooled": "#E69F00",  # orange: learned pooling, weights the same at every output step
}
MODEL_LABELS = {
    "rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU", "plain": "no attention",
    "bahdanau": "Bahdanau", "luong": "Luong", "pooled": "pooled",
}  # fmt: skip
EXTRA = "#56B4E9"  # sky blue: a second series that is not a model (float32 against float64, ...)
CHANCE = "#555555"  # reference lines: chance level, targets


def style_path():
    """Path of ``course.mplstyle`` inside the installed package (a str, for plt.style.use)."""
    return str(resources.files("s2s_ref") / "course.mplstyle")


def model_color(name):
    """The colour of a model by its short name (a key of MODEL_COLORS), e.g. "luong"."""
    key = name.lower()
    if key not in MODEL_COLORS:
        raise ValueError(
            f"model_color: unknown model {name!r}; expected one of {sorted(MODEL_COLORS)}"
        )
    return MODEL_COLORS[key]


def use(svg=True):
    """Apply the course style; in a Jupyter kernel with svg=True, draw inline figures as SVG.

    Call it after importing matplotlib.pyplot (the inline backend sets its own defaults when
    pyplot is imported; the style must come after them). Returns the style file's path.
    """
    import matplotlib.pyplot as plt

    path = style_path()
    plt.style.use(path)
    if svg and _in_kernel():
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")
    return path


def _in_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def scientific(x, digits=0):
    """A number in scientific notation as prose shows it: scientific(9.2e-19) -> "9 × 10⁻¹⁹".

    digits: decimals of the mantissa. Pages glue this string instead of a float formatted with
    ``:.0e``, which would read "9e-19".
    """
    mantissa, exponent = f"{float(x):.{digits}e}".split("e")
    power = str(int(exponent)).translate(_SUPERSCRIPT)
    return f"{mantissa} \u00d7 10{power}"
