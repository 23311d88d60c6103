"""Graded tests of exercise ex02: the LSTM and GRU, step and sequence, forward and backward.

Declarative (see ``grading.spec``): every test draws fresh random inputs of distinct sizes (N, T,
D, H all different, and D, 4H, 3H too), runs fixed edge cases (N = 1, T = 1, T = 21), compares
with the reference (the solution's own code, which the mistakes below patch) and names the typical
mistakes: gates swapped or in the wrong order, no tanh on the cell, the reset gate before Wh (the
original GRU, not PyTorch's), the forget gate missing from dc_prev, gradients from later steps
dropped.
Book: chapter 2; notebook: ex02_gated.ipynb.
"""

from s2s_ref.grading.registry import Exercise
from s2s_ref.grading.spec import Case, Spec

EXERCISE = Exercise(
    key="ex02",
    title="Gated cells: the LSTM and the GRU",
    notebook="ex02_gated.ipynb",
    functions=tuple(
        f"{cell}_{part}"
        for cell in ("lstm", "gru")
        for part in ("step_forward", "step_backward", "forward", "backward")
    ),
    hidden_modules=("s2s_ref.numpy_nn.lstm", "s2s_ref.numpy_nn.gru", "s2s_ref.numpy_nn.fused"),
)
LSTM_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
LSTM_SEQ_GRADS = ("dx", "dh0", "dc0", "dWx", "dWh", "db")
GRU_STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")
GRU_SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")
SPEC = Spec(
    EXERCISE,
    references=("s2s_ref.numpy_nn.lstm", "s2s_ref.numpy_nn.gru"),
    returns={
        "lstm_step_forward": ("h_next", "c_next", "cache"),
        "lstm_step_backward": LSTM_STEP_GRADS,
        "lstm_forward": ("h", "cache"),
        "lstm_backward": LSTM_SEQ_GRADS,
        "gru_step_forward": ("h_next", "cache"),
        "gru_step_backward": GRU_STEP_GRADS,
        "gru_forward": ("h", "cache"),
        "gru_backward": GRU_SEQ_GRADS,
    },
)
N, T, D, H = 3, 5, 7, 6
STEP_CASES = (Case(sizes=dict(n=N)), Case("with N = 1", dict(n=1)))
SEQ_CASES = (
    Case(sizes=dict(n=N, t=T)),
    Case("with N = 1, T = 1", dict(n=1, t=1)),
    Case("with N = 2, T = 21", dict(n=2, t=21)),
)
GATES = {"lstm": 4, "gru": 3}


def _shapes(cell, names, seq):
    g = GATES[cell]
    shapes = {"dx": "(N, T, D)" if seq else "(N, D)", "dWx": f"(D, {g}H)", "dWh": f"(H, {g}H)"}
    shapes |= {"db": f"({g}H,)", "dbx": f"({g}H,)", "dbh": f"({g}H,)"}
    return {name: shapes.get(name, "(N, H)") for name in names}


def sequence_inputs(rng, cell, n, t, last_step_only=False):
    """x (n, t, D), h0 (n, H), c0 for the LSTM, the weights, dh (n, t, H) and dc (n, H)."""
    g = GATES[cell]
    p = dict(x=rng.normal(size=(n, t, D)), h0=rng.normal(size=(n, H)) * 0.5)
    if cell == "lstm":
        p["c0"] = rng.normal(size=(n, H)) * 0.5
    p |= dict(Wx=rng.normal(size=(D, g * H)) * 0.5, Wh=rng.normal(size=(H, g * H)) * 0.5)
    if cell == "lstm":
        p["b"] = rng.normal(size=g * H) * 0.5
    else:
        p |= dict(bx=rng.normal(size=g * H) * 0.5, bh=rng.normal(size=g * H) * 0.5)
    p["dh"], p["dc"] = rng.normal(size=(n, t, H)), rng.normal(size=(n, H))
    if last_step_only:
        p["dh"][:, :-1] = 0
    return p


def _step_args(p):
    """The arguments of one step (the first of the sequence)."""
    states = (p["h0"], p["c0"]) if "c0" in p else (p["h0"],)
    biases = (p["b"],) if "b" in p else (p["bx"], p["bh"])
    return (p["x"][:, 0], *states, p["Wx"], p["Wh"], *biases)


def _sequence_args(p):
    return {k: v for k, v in p.items() if k not in ("dh", "dc")}


def _register(cell):
    """The five graded tests of one cell (step forward and backward, sequence forward and two
    backward tests)."""
    step_forward, step_backward = f"{cell}_step_forward", f"{cell}_step_backward"
    forward, backward = f"{cell}_forward", f"{cell}_backward"
    lstm = cell == "lstm"

    def step_inputs(rng, n):
        return sequence_inputs(rng, cell, n, 1)

    def seq_inputs(rng, n, t):
        return sequence_inputs(rng, cell, n, t)

    def last_only(rng, n, t):
        return sequence_inputs(rng, cell, n, t, last_step_only=True)

    def step(F, p):
        return getattr(F, step_forward)(*_step_args(p))

    def run_step_forward(F, p):
        return step(F, p)[:-1]

    def run_step_backward(F, p):
        upstream = (p["dh"][:, 0], p["dc"]) if lstm else (p["dh"][:, 0],)
        return getattr(F, step_backward)(*upstream, step(F, p)[-1])

    def run_forward(F, p):
        return getattr(F, forward)(**_sequence_args(p))[:1]

    def run_backward(F, p):
        return getattr(F, backward)(p["dh"], getattr(F, forward)(**_sequence_args(p))[1])

    states = {"h_next": "(N, H)", "c_next": "(N, H)"} if lstm else {"h_next": "(N, H)"}
    steps = LSTM_STEP_GRADS if lstm else GRU_STEP_GRADS
    seqs = LSTM_SEQ_GRADS if lstm else GRU_SEQ_GRADS
    run_step_forward.__doc__ = (
        "h_next and c_next equal the reference"
        if lstm
        else "h_next equals the reference (PyTorch's form of the GRU)"
    )
    run_step_backward.__doc__ = (
        "every gradient of one step equals the reference (upstream gradients on h and c)"
        if lstm
        else "every gradient of one step equals the reference"
    )
    run_forward.__doc__ = "h stacks every hidden state, shape (N, T, H)"
    run_backward.__doc__ = (
        "every gradient of the sequence equals the reference (upstream gradient on every step)"
    )
    SPEC.test(
        points=2, function=step_forward, inputs=step_inputs, cases=STEP_CASES, outputs=states
    )(run_step_forward)
    SPEC.test(
        points=3,
        function=step_backward,
        inputs=step_inputs,
        cases=STEP_CASES,
        outputs=_shapes(cell, steps, seq=False),
    )(run_step_backward)
    SPEC.test(
        points=2, function=forward, inputs=seq_inputs, cases=SEQ_CASES, outputs={"h": "(N, T, H)"}
    )(run_forward)
    SPEC.test(
        points=3,
        function=backward,
        inputs=seq_inputs,
        cases=SEQ_CASES,
        outputs=_shapes(cell, seqs, seq=True),
    )(run_backward)

    def through_time(F, p):
        return run_backward(F, p)

    through_time.__doc__ = (
        "a loss on the last step only reaches every earlier step, h0 and c0"
        if lstm
        else "a loss on the last step only reaches every earlier step and h0"
    )
    SPEC.test(
        points=1,
        function=backward,
        inputs=last_only,
        cases=SEQ_CASES,
        outputs=_shapes(cell, seqs, seq=True),
    )(through_time)


_register("lstm")
_register("gru")
# the registration order above is LSTM's five tests, then GRU's: the gradebook's order


# The catalogue: each patch goes into the reference (numpy_nn/lstm.py, gru.py: the solution's
# own code) to simulate the mistake and into solutions/ex02_gated.ipynb by the mutation suite;
# the book's appendix "Feedback catalogue" lists them.
ORDER = "the blocks of a are the gates i, f, g, o in this order (PyTorch's)"
SPEC.mistake(
    "forget and input gates swapped",
    ("lstm_step_forward", "lstm_forward"),
    {
        "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H : 2 * H])": (
            "    f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H : 2 * H])"
        )
    },
    f"the input and forget gates are swapped: {ORDER}, so i is a[:, :H], f a[:, H:2H].",
)
SPEC.mistake(
    "gates in the wrong order (i, f, o, g)",
    ("lstm_step_forward", "lstm_forward"),
    {
        "    g = np.tanh(a[:, 2 * H : 3 * H])\n    o = sigmoid(a[:, 3 * H :])": (
            "    g = np.tanh(a[:, 3 * H :])\n    o = sigmoid(a[:, 2 * H : 3 * H])"
        )
    },
    f"the gates are read in the order i, f, o, g; {ORDER}.",
)
SPEC.mistake(
    "no tanh on the cell before the output gate",
    ("lstm_step_forward", "lstm_forward"),
    {"tanh_c = np.tanh(c_next)": "tanh_c = c_next"},
    "no tanh on the cell before the output gate: h_next = o * tanh(c_next).",
)
SPEC.mistake(
    "dc_prev missing the forget gate",
    ("lstm_step_backward", "lstm_backward"),
    {"dc_prev = dc * f": "dc_prev = dc"},
    "dc_prev misses the forget gate: c_next = f * c_prev + ..., so dc_prev = dc * f.",
)
SPEC.mistake(
    "every LSTM step starts from h0 and c0",
    "lstm_forward",
    {
        "lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)": (
            "lstm_step_forward(x[:, t], h0, c0, Wx, Wh, b)"
        )
    },
    "every step starts from h0 and c0: feed each new state into the next step.",
)
SPEC.mistake(
    "LSTM BPTT drops dh from later steps",
    "lstm_backward",
    {"dh[:, t] + dh_prev, dc_prev, step_caches[t]": "dh[:, t], dc_prev, step_caches[t]"},
    "the gradient flowing back from later steps is dropped: at step t, add the dh_prev returned "
    "by step t+1 to dh[:, t].",
)
SPEC.mistake(
    "LSTM BPTT does not pass dc back",
    "lstm_backward",
    {"dh_prev, dc_prev, step_caches[t]": "dh_prev, 0 * dc_prev, step_caches[t]"},
    "dc_prev is not passed back: step t receives the dc_prev returned by step t+1.",
)
SPEC.mistake(
    "GRU reset gate applied before Wh (Cho form)",
    ("gru_step_forward", "gru_forward"),
    {
        "n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])": (
            "n = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])"
        )
    },
    "the reset gate is applied to h_prev before Wh (the original GRU of Cho et al.); PyTorch's "
    "form, asked here, is n = tanh(ax_n + r * (h_prev @ Wh_n + bh_n)).",
)
SPEC.mistake(
    "GRU z and 1 - z swapped",
    ("gru_step_forward", "gru_forward"),
    {"= (1 - z) * n + z * h_prev\n    cache": "= z * n + (1 - z) * h_prev\n    cache"},
    "z and 1 - z are swapped: h_next = (1 - z) * n + z * h_prev (PyTorch's convention).",
)
SPEC.mistake(
    "GRU r and z swapped",
    ("gru_step_forward", "gru_forward"),
    {
        "    r = sigmoid(ax[:, :H]": "    z = sigmoid(ax[:, :H]",
        "    z = sigmoid(ax[:, H ": "    r = sigmoid(ax[:, H ",
    },
    "r and z are swapped: the blocks are r, z, n in this order (PyTorch's).",
)
SPEC.mistake(
    "every GRU step starts from h0",
    "gru_forward",
    {
        "gru_step_forward(x[:, t], h_prev, Wx, Wh, bx, bh)": (
            "gru_step_forward(x[:, t], h0, Wx, Wh, bx, bh)"
        )
    },
    "every step starts from h0: feed each new state into the next step.",
)
SPEC.mistake(
    "GRU dh_prev without the direct path",
    ("gru_step_backward", "gru_backward"),
    {"dh_prev = dh_next * z + dah @ Wh.T": "dh_prev = dah @ Wh.T"},
    "dh_prev misses the direct path: h_next = ... + z * h_prev adds dh_next * z.",
)
SPEC.mistake(
    "GRU backward ignores the reset in dah",
    ("gru_step_backward", "gru_backward"),
    {"[da_r, da_z, da_n * r]": "[da_r, da_z, da_n]"},
    "the n block of dah misses r: ah_n enters n as r * ah_n, so its gradient is da_n * r.",
)
SPEC.mistake(
    "GRU BPTT drops dh from later steps",
    "gru_backward",
    {
        "gru_step_backward(dh[:, t] + dh_prev, step_caches[t])": (
            "gru_step_backward(dh[:, t], step_caches[t])"
        )
    },
    "the GRU's gradient flowing back from later steps is dropped: at step t, add the dh_prev "
    "returned by step t+1 to dh[:, t].",
)
