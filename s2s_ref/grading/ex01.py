"""Graded tests of exercise ex01: the RNN step and sequence, forward and backward.

Declarative (see ``grading.spec``): every test draws fresh random inputs of distinct sizes (N, T, D,
H all different, so a transposed matrix cannot pass), runs fixed edge cases too, compares with the
reference and names the typical mistakes of the catalogue below.
Book: chapter 1; notebook: ex01_rnn.ipynb.
"""

from s2s_ref.grading.registry import Exercise
from s2s_ref.grading.spec import Case, Spec

EXERCISE = Exercise(
    key="ex01",
    title="The recurrent cell and backpropagation through time",
    notebook="ex01_rnn.ipynb",
    functions=("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    hidden_modules=("s2s_ref.numpy_nn.rnn",),
)
STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
SPEC = Spec(
    EXERCISE,
    references=("s2s_ref.numpy_nn.rnn",),
    returns={
        "rnn_step_forward": ("h_next", "cache"),
        "rnn_step_backward": STEP_GRADS,
        "rnn_forward": ("h", "cache"),
        "rnn_backward": SEQ_GRADS,
    },
)
N, T, D, H = 3, 6, 4, 5
# the random case first, then fixed edge cases: one sequence of one step, and a long one, so that
# a squeeze, a lost batch axis or a truncated backpropagation shows
STEP_CASES = (Case(sizes=dict(n=N)), Case("with N = 1", dict(n=1)))
SEQ_CASES = (
    Case(sizes=dict(n=N, t=T)),
    Case("with N = 1, T = 1", dict(n=1, t=1)),
    Case("with N = 2, T = 24", dict(n=2, t=24)),
)


def sequence_inputs(rng, n, t, last_step_only=False):
    """x (n, t, D), h0 (n, H), Wx (D, H), Wh (H, H), b (H,), dh (n, t, H) upstream."""
    p = dict(
        x=rng.normal(size=(n, t, D)),
        h0=rng.normal(size=(n, H)) * 0.5,
        Wx=rng.normal(size=(D, H)) * 0.5,
        Wh=rng.normal(size=(H, H)) * 0.5,
        b=rng.normal(size=H) * 0.5,
    )
    p["dh"] = rng.normal(size=(n, t, H))
    if last_step_only:
        p["dh"][:, :-1] = 0
    return p


def step_inputs(rng, n):
    """One step: x (n, D), h_prev (n, H), the weights, dh (n, H) upstream."""
    p = sequence_inputs(rng, n, 1)
    return dict(x=p["x"][:, 0], h_prev=p["h0"], Wx=p["Wx"], Wh=p["Wh"], b=p["b"], dh=p["dh"][:, 0])


def _step(F, p):
    return F.rnn_step_forward(p["x"], p["h_prev"], p["Wx"], p["Wh"], p["b"])


def _sequence(F, p):
    return F.rnn_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])


STEP_SHAPES = {"dx": "(N, D)", "dh_prev": "(N, H)", "dWx": "(D, H)", "dWh": "(H, H)", "db": "(H,)"}
SEQ_SHAPES = {**STEP_SHAPES, "dx": "(N, T, D)", "dh0": "(N, H)"}
SEQ_SHAPES = {name: SEQ_SHAPES[name] for name in SEQ_GRADS}


@SPEC.test(
    points=2,
    function="rnn_step_forward",
    inputs=step_inputs,
    cases=STEP_CASES,
    outputs={"h_next": "(N, H)"},
)
def step_forward_matches_reference(F, p):
    """h_next equals tanh(x @ Wx + h_prev @ Wh + b)"""
    return _step(F, p)[:1]


@SPEC.test(
    points=3,
    function="rnn_step_backward",
    inputs=step_inputs,
    cases=STEP_CASES,
    outputs=STEP_SHAPES,
)
def step_backward_matches_reference(F, p):
    """every gradient of one step equals the reference"""
    return F.rnn_step_backward(p["dh"], _step(F, p)[1])


@SPEC.test(
    points=2,
    function="rnn_forward",
    inputs=sequence_inputs,
    cases=SEQ_CASES,
    outputs={"h": "(N, T, H)"},
)
def forward_matches_reference(F, p):
    """h stacks every hidden state, shape (N, T, H)"""
    return _sequence(F, p)[:1]


@SPEC.test(
    points=3, function="rnn_backward", inputs=sequence_inputs, cases=SEQ_CASES, outputs=SEQ_SHAPES
)
def backward_matches_reference(F, p):
    """every gradient of the sequence equals the reference (upstream gradient on every step)"""
    return F.rnn_backward(p["dh"], _sequence(F, p)[1])


@SPEC.test(
    points=2,
    function="rnn_backward",
    cases=SEQ_CASES,
    outputs=SEQ_SHAPES,
    inputs=lambda rng, n, t: sequence_inputs(rng, n, t, last_step_only=True),
)
def backward_carries_gradient_through_time(F, p):
    """a loss on the last step only reaches every earlier step and h0"""
    return F.rnn_backward(p["dh"], _sequence(F, p)[1])


# The catalogue: each patch is put into the reference to simulate the mistake, and into
# solutions/ex01_rnn.ipynb by the mutation suite (tests/test_grading_mistakes.py); the book's
# appendix "Feedback catalogue" lists them.
FORWARD = "h_next = np.tanh(x @ Wx + h_prev @ Wh + b)"
SPEC.mistake(
    "sigmoid instead of tanh",
    "rnn_step_forward",
    {FORWARD: "h_next = 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))"},
    "sigmoid instead of tanh: the vanilla RNN squashes with np.tanh.",
)
SPEC.mistake(
    "the bias is left out",
    "rnn_step_forward",
    {FORWARD: "h_next = np.tanh(x @ Wx + h_prev @ Wh)"},
    "the bias b is missing.",
)
SPEC.mistake(
    "Wh transposed in the forward",
    "rnn_step_forward",
    {FORWARD: "h_next = np.tanh(x @ Wx + h_prev @ Wh.T + b)"},
    "Wh is transposed: the recurrent term is h_prev @ Wh (weights are (in, out)).",
)
SPEC.mistake(
    "no nonlinearity",
    "rnn_step_forward",
    {FORWARD: "h_next = x @ Wx + h_prev @ Wh + b"},
    "no nonlinearity: apply np.tanh to x @ Wx + h_prev @ Wh + b.",
)
SPEC.mistake(
    "the previous state is ignored",
    "rnn_step_forward",
    {FORWARD: "h_next = np.tanh(x @ Wx + b)"},
    "the previous state is ignored: add h_prev @ Wh.",
)
SPEC.mistake(
    "dWh transposed",
    "rnn_step_backward",
    {"dWh = h_prev.T @ da": "dWh = da.T @ h_prev"},
    "dWh is transposed: it is h_prev.T @ da, shaped like Wh.",
)
SPEC.mistake(
    "dWx transposed",
    "rnn_step_backward",
    {"dWx = x.T @ da": "dWx = da.T @ x"},
    "dWx is transposed: it is x.T @ da, shaped like Wx.",
)
SPEC.mistake(
    "the tanh derivative 1 - h² is forgotten",
    "rnn_step_backward",
    {"da = dh_next * (1 - h_next**2)": "da = dh_next"},
    "the tanh derivative (1 - h_next**2) is missing.",
)
SPEC.mistake(
    "the sigmoid's derivative instead of tanh's",
    "rnn_step_backward",
    {"da = dh_next * (1 - h_next**2)": "da = dh_next * h_next * (1 - h_next)"},
    "the derivative uses the sigmoid's h(1 - h), not tanh's 1 - h**2.",
)
SPEC.mistake(
    "dh_prev through Wh instead of Wh.T",
    "rnn_step_backward",
    {"dh_prev = da @ Wh.T": "dh_prev = da @ Wh"},
    "dh_prev uses Wh instead of Wh.T.",
)
SPEC.mistake(
    "db summed over the wrong axis",
    "rnn_step_backward",
    {"db = da.sum(axis=0)": "db = da.sum(axis=1)"},
    "db is summed over the wrong axis: da.sum(axis=0) sums over the batch.",
)
STEP = "        h_prev, _ = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)"
SPEC.mistake(
    "each state is stored before its step",
    "rnn_forward",
    {STEP + "\n        h[:, t] = h_prev": "        h[:, t] = h_prev\n" + STEP},
    "h[:, t] holds the state before reading x[:, t] (h0 first): store the new state.",
)
SPEC.mistake(
    "every step starts from h0",
    "rnn_forward",
    {"rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)": "rnn_step_forward(x[:, t], h0, Wx, Wh, b)"},
    "every step starts from h0: feed each new state into the next step.",
)
SPEC.mistake(
    "BPTT drops the gradient flowing back from later steps",
    "rnn_backward",
    {"(dh[:, t] + dh_prev, step_cache)": "(dh[:, t], step_cache)"},
    "the gradient flowing back from later steps is dropped: at step t, add the dh_prev returned "
    "by step t+1 to dh[:, t].",
)
SPEC.mistake(
    "dh0 left at zero",
    "rnn_backward",
    {"dh0 = dh_prev": "dh0 = 0 * dh_prev"},
    "dh0 is zero: return the dh_prev of the first step.",
)
