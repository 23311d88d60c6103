"""Graded tests of exercise ex01: the RNN step and sequence, forward and backward.

Every test draws fresh random inputs of distinct sizes (N, T, D, H all different, so a transposed
matrix cannot pass), compares with the reference and names known mistakes.
Book: chapter 1; notebook: ex01_rnn.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Findings, case, check_array, forward_for_cache, unpack
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex01",
    title="The recurrent cell and backpropagation through time",
    notebook="ex01_rnn.ipynb",
    functions=("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    hidden_modules=("s2s_ref.numpy_nn.rnn",),
)
ref = load_private("s2s_ref.numpy_nn.rnn")
N, T, D, H = 3, 6, 4, 5
# (N, T) of every test: the random case first, then fixed edge cases (one sequence of one step, and
# a long one, so that a squeeze, a lost batch axis or a truncated backpropagation shows)
CASES = ((N, T), (1, 1), (2, 24))


def _label(n, t):
    return "" if (n, t) == (N, T) else f"with N = {n}, T = {t}"


def _inputs(rng, T=T, N=N):
    return dict(
        x=rng.normal(size=(N, T, D)),
        h0=rng.normal(size=(N, H)) * 0.5,
        Wx=rng.normal(size=(D, H)) * 0.5,
        Wh=rng.normal(size=(H, H)) * 0.5,
        b=rng.normal(size=H) * 0.5,
    )


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _step_forward_mistakes(x, h_prev, Wx, Wh, b):
    return {
        "sigmoid instead of tanh: the vanilla RNN squashes with np.tanh.": lambda: _sigmoid(
            x @ Wx + h_prev @ Wh + b
        ),
        "the bias b is missing.": lambda: np.tanh(x @ Wx + h_prev @ Wh),
        "Wh is transposed: the recurrent term is h_prev @ Wh (weights are (in, out)).": lambda: (
            np.tanh(x @ Wx + h_prev @ Wh.T + b)
        ),
        "no nonlinearity: apply np.tanh to x @ Wx + h_prev @ Wh + b.": lambda: (
            x @ Wx + h_prev @ Wh + b
        ),
        "the previous state is ignored: add h_prev @ Wh.": lambda: np.tanh(x @ Wx + b),
    }


def _step_backward_mistakes(dh, x, h_prev, Wx, Wh, h_next):
    da = dh * (1 - h_next**2)
    return {
        "dWh": {
            "dWh is transposed: it is h_prev.T @ da, shaped like Wh.": lambda: da.T @ h_prev,
            "the tanh derivative (1 - h_next**2) is missing.": lambda: h_prev.T @ dh,
            "the derivative uses the sigmoid's h(1 - h), not tanh's 1 - h**2.": lambda: (
                h_prev.T @ (dh * h_next * (1 - h_next))
            ),
        },
        "dWx": {
            "dWx is transposed: it is x.T @ da, shaped like Wx.": lambda: (da.T @ x).T,
            "the tanh derivative (1 - h_next**2) is missing.": lambda: x.T @ dh,
            "the derivative uses the sigmoid's h(1 - h), not tanh's 1 - h**2.": lambda: (
                x.T @ (dh * h_next * (1 - h_next))
            ),
        },
        "dx": {
            "the tanh derivative (1 - h_next**2) is missing.": lambda: dh @ Wx.T,
            "the derivative uses the sigmoid's h(1 - h), not tanh's 1 - h**2.": lambda: (
                (dh * h_next * (1 - h_next)) @ Wx.T
            ),
        },
        "dh_prev": {
            "the tanh derivative (1 - h_next**2) is missing.": lambda: dh @ Wh.T,
            "dh_prev uses Wh instead of Wh.T.": lambda: da @ Wh,
        },
        "db": {
            "the tanh derivative (1 - h_next**2) is missing.": lambda: dh.sum(axis=0),
        },
    }


def _dropped_later_steps(dh, x, h0, Wx, Wh, b):
    """What rnn_backward returns when each step sees only its own upstream gradient."""
    h, _ = ref.rnn_forward(x, h0, Wx, Wh, b)
    prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    da = dh * (1 - h**2)
    return {
        "dx": da @ Wx.T,
        "dh0": da[:, 0] @ Wh.T,
        "dWx": np.einsum("ntd,nth->dh", x, da),
        "dWh": np.einsum("ntk,nth->kh", prev, da),
        "db": da.sum(axis=(0, 1)),
    }


STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")
SHAPES = {
    "dx": "(N, D)",
    "dh_prev": "(N, H)",
    "dh0": "(N, H)",
    "dWx": "(D, H)",
    "dWh": "(H, H)",
    "db": "(H,)",
}


@EXERCISE.test(points=2, function="rnn_step_forward")
def step_forward_matches_reference(learner):
    """h_next equals tanh(x @ Wx + h_prev @ Wh + b)"""
    rng = test_rng()
    for n, _ in CASES[:2]:
        p = _inputs(rng, N=n)
        args = (p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["b"])
        with case("" if n == N else f"with N = {n}"):
            result = learner.rnn_step_forward(*args)
            h_next = unpack(result, "rnn_step_forward", ("h_next", "cache"))[0]
            expected, _ = ref.rnn_step_forward(*args)
            check_array("h_next", h_next, expected, shape_hint="(N, H)",
                        mistakes=_step_forward_mistakes(*args))  # fmt: skip


@EXERCISE.test(points=3, function="rnn_step_backward")
def step_backward_matches_reference(learner):
    """every gradient of one step equals the reference"""
    rng = test_rng()
    for n, _ in CASES[:2]:
        p = _inputs(rng, N=n)
        args = (p["x"][:, 0], p["h0"], p["Wx"], p["Wh"], p["b"])
        dh = rng.normal(size=(n, H))
        with case("" if n == N else f"with N = {n}"):
            _, cache = forward_for_cache(learner.rnn_step_forward, ("h_next", "cache"), *args)
            grads = unpack(learner.rnn_step_backward(dh, cache), "rnn_step_backward", STEP_GRADS)
            h_next, ref_cache = ref.rnn_step_forward(*args)
            expected = ref.rnn_step_backward(dh, ref_cache)
            mistakes = _step_backward_mistakes(dh, args[0], args[1], args[2], args[3], h_next)
            found = Findings()
            for name, got, want in zip(STEP_GRADS, grads, expected, strict=True):
                found.check(name, got, want, shape_hint=SHAPES[name], mistakes=mistakes.get(name))
            found.raise_any()


@EXERCISE.test(points=2, function="rnn_forward")
def forward_matches_reference(learner):
    """h stacks every hidden state, shape (N, T, H)"""
    rng = test_rng()
    for n, t in CASES:
        p = _inputs(rng, T=t, N=n)
        with case(_label(n, t)):
            h = unpack(learner.rnn_forward(**p), "rnn_forward", ("h", "cache"))[0]
            expected, _ = ref.rnn_forward(**p)
            check_array("h", h, expected, shape_hint="(N, T, H)",
                        mistakes=_forward_mistakes(p, expected))  # fmt: skip


def _forward_mistakes(p, expected):
    x, h0, Wx, Wh, b = p["x"], p["h0"], p["Wx"], p["Wh"], p["b"]
    return {
        "h[:, t] holds the state before reading x[:, t] (h0 first): store the new state.":
        lambda: np.concatenate([h0[:, None], expected[:, :-1]], axis=1),
        "every step starts from h0: feed each new state into the next step.": lambda: np.stack(
            [ref.rnn_step_forward(x[:, t], h0, Wx, Wh, b)[0] for t in range(x.shape[1])], axis=1),
    }  # fmt: skip


@EXERCISE.test(points=3, function="rnn_backward")
def backward_matches_reference(learner):
    """every gradient of the sequence equals the reference (upstream gradient on every step)"""
    _check_backward(learner, last_step_only=False)


@EXERCISE.test(points=2, function="rnn_backward")
def backward_carries_gradient_through_time(learner):
    """a loss on the last step only reaches every earlier step and h0"""
    _check_backward(learner, last_step_only=True)


def _check_backward(learner, last_step_only):
    rng = test_rng()
    for n, t in CASES:
        with case(_label(n, t)):
            _check_backward_case(learner, last_step_only, rng, n, t)


def _check_backward_case(learner, last_step_only, rng, n, t):
    p = _inputs(rng, T=t, N=n)
    dh = rng.normal(size=(n, t, H))
    if last_step_only:
        dh[:, :-1] = 0
    _, cache = forward_for_cache(learner.rnn_forward, ("h", "cache"), **p)
    grads = unpack(learner.rnn_backward(dh, cache), "rnn_backward", SEQ_GRADS)
    _, ref_cache = ref.rnn_forward(**p)
    expected = ref.rnn_backward(dh, ref_cache)
    dropped = _dropped_later_steps(dh, **p)
    found = Findings()
    for name, got, want in zip(SEQ_GRADS, grads, expected, strict=True):
        mistakes = {DROPPED: lambda name=name: dropped[name]}
        if name == "dh0":
            mistakes["dh0 is zero: return the dh_prev of the first step."] = lambda want=want: (
                0 * want
            )
        shape = "(N, T, D)" if name == "dx" else SHAPES[name]
        found.check(name, got, want, shape_hint=shape, mistakes=mistakes)
    found.raise_any()


DROPPED = (
    "the gradient flowing back from later steps is dropped: at step t, add the dh_prev returned "
    "by step t+1 to dh[:, t]."
)


# The typical mistakes this grader names: each is put into solutions/ex01_rnn.ipynb by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points with this
# feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "sigmoid instead of tanh",
        "rnn_step_forward",
        {"h_next = np.tanh(x @ Wx + h_prev @ Wh + b)":
         "h_next = 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))"},
        "sigmoid instead of tanh",
    ),
    Mistake(
        "the bias is left out",
        "rnn_step_forward",
        {"h_next = np.tanh(x @ Wx + h_prev @ Wh + b)": "h_next = np.tanh(x @ Wx + h_prev @ Wh)"},
        "the bias b is missing",
    ),
    Mistake(
        "dWh transposed",
        "rnn_step_backward",
        {"dWh = h_prev.T @ da": "dWh = da.T @ h_prev"},
        "dWh is transposed",
    ),
    Mistake(
        "the tanh derivative 1 - h² is forgotten",
        "rnn_step_backward",
        {"da = dh_next * (1 - h_next**2)": "da = dh_next"},
        "the tanh derivative (1 - h_next**2) is missing",
    ),
    Mistake(
        "BPTT drops the gradient flowing back from later steps",
        "rnn_backward",
        {"dh_t = dh[:, t] + dh_prev": "dh_t = dh[:, t]"},
        "the gradient flowing back from later steps is dropped",
    ),
    Mistake(
        "db summed over the wrong axis",
        "rnn_step_backward",
        {"db = da.sum(axis=0)": "db = da.sum(axis=1)"},
        "db has shape (3,), expected (H,) = (5,)",
    ),
    Mistake(
        "each state is stored before its step",
        "rnn_forward",
        {"        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)\n"
         "        h[:, t] = h_prev":
         "        h[:, t] = h_prev\n"
         "        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)"},
        "holds the state before reading x[:, t]",
    ),
]  # fmt: skip
