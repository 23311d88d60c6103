"""Graded tests of exercise ex05: masked softmax and dot, general, additive attention.

Declarative (see ``grading.spec``): every test draws fresh random inputs of distinct sizes (N, S,
Hq, Hk, Hv, A all different, so a transposed matrix cannot pass), pads some keys (one row with a
single real key), puts huge scores behind the mask, compares with the reference and names the
typical mistakes of the catalogue below.
Book: chapter 5; notebook: ex05_attention.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Feedback, check_array
from s2s_ref.grading.registry import Exercise, test_rng
from s2s_ref.grading.spec import Case, Spec

EXERCISE = Exercise(
    key="ex05",
    title="Attention: dot, general and additive, forward and backward",
    notebook="ex05_attention.ipynb",
    functions=(
        "masked_softmax",
        "masked_softmax_backward",
        "dot_attention_forward",
        "dot_attention_backward",
        "general_attention_forward",
        "general_attention_backward",
        "additive_attention_forward",
        "additive_attention_backward",
    ),
    hidden_modules=("s2s_ref.numpy_nn.attention", "s2s_ref.torch_nn.attention"),
)
READ = ("context", "weights", "cache")
SPEC = Spec(
    EXERCISE,
    references=("s2s_ref.numpy_nn.attention",),
    returns={
        **{f"{kind}_attention_forward": READ for kind in ("dot", "general", "additive")},
        "dot_attention_backward": ("dq", "dk", "dv"),
        "general_attention_backward": ("dq", "dk", "dv", "dW"),
        "additive_attention_backward": ("dq", "dk", "dv", "dWq", "dWk", "dw"),
    },
)
N, S, HQ, HK, HV, A = 3, 7, 5, 4, 6, 8
SHAPES = {
    "dq": "(N, Hq)",
    "dk": "(N, S, Hk)",
    "dv": "(N, S, Hv)",
    "dW": "(Hq, Hk)",
    "dWq": "(Hq, A)",
    "dWk": "(Hk, A)",
    "dw": "(A,)",
}  # fmt: skip  (a table)
READS = {"weights": "(N, S)", "context": "(N, Hv)"}


def _mask(rng):
    """Row 0: a random number of real keys; row 1: all real; row 2: one real key."""
    lengths = np.array([rng.integers(2, S), S, 1])
    return np.arange(S)[None, :] < lengths[:, None]


def softmax_inputs(rng, behind=False):
    """scores (N, S), mask (N, S), g (N, S) upstream; ``behind``: scores of 1e4 on the padding."""
    scores, mask = rng.normal(size=(N, S)) * 3, _mask(rng)
    scores = np.where(mask, scores, 1e4) if behind else scores
    return dict(scores=scores, mask=mask, g=rng.normal(size=(N, S)))


def attention_inputs(rng, kind="dot", scale=False):
    """q, k, v, mask, the scorer's parameters, dcontext (N, Hv) upstream."""
    hk = HQ if kind == "dot" else HK
    p = dict(
        q=rng.normal(size=(N, HQ)), k=rng.normal(size=(N, S, hk)), v=rng.normal(size=(N, S, HV))
    )
    p["mask"] = _mask(rng)
    if kind == "dot":
        p["scale"] = scale
    elif kind == "general":
        p["W"] = rng.normal(size=(HQ, HK)) * 0.5
    else:
        p |= dict(Wq=rng.normal(size=(HQ, A)) * 0.5, Wk=rng.normal(size=(HK, A)) * 0.5)
        p["w"] = rng.normal(size=A)
    p["dcontext"] = rng.normal(size=(N, HV))
    return p


def _forward(F, kind, p):
    return getattr(F, f"{kind}_attention_forward")(
        **{k: v for k, v in p.items() if k != "dcontext"}
    )


def _backward(F, kind, p):
    return getattr(F, f"{kind}_attention_backward")(p["dcontext"], _forward(F, kind, p)[2])


def _zero_on_padding(names):
    """A test's own check: these gradients are exactly 0 on padded keys."""

    def check(got, p):
        for name, value in zip(names, got, strict=False):
            if name in ("dk", "dv", "weights") and np.any(np.asarray(value)[~p["mask"]] != 0):
                raise Feedback(f"{name} must be exactly 0 on padded keys, not merely tiny.")

    return check


@SPEC.test(
    points=2,
    function="masked_softmax",
    inputs=softmax_inputs,
    cases=(Case(), Case("with scores of 1e4 on the padded keys", dict(behind=True))),
    outputs={"weights": "(N, S)"},
    also=_zero_on_padding(("weights",)),
)
def softmax_matches_reference(F, p):
    """weights are a softmax over each row's real keys, exactly 0 on padding"""
    return (F.masked_softmax(p["scores"], p["mask"]),)


@EXERCISE.test(points=1, function="masked_softmax")
def softmax_is_stable(learner):
    """huge scores (1000s) give finite weights: subtract the row maximum first"""
    rng = test_rng()
    offsets = np.array([[1000.0], [-1000.0], [800.0]])  # exp overflows, or underflows to 0/0
    scores, mask = rng.normal(size=(N, S)) * 100 + offsets, _mask(rng)
    with np.errstate(all="ignore"):
        got = learner.masked_softmax(scores, mask)
    if got is not None and not np.all(np.isfinite(np.asarray(got, dtype=float))):
        raise Feedback(SPEC.message("no max subtraction"))
    check_array("weights", got, SPEC.reference.masked_softmax(scores, mask), shape_hint="(N, S)")


@EXERCISE.test(points=1, function="masked_softmax")
def softmax_rejects_rows_without_real_keys(learner):
    """a row whose mask is all False raises ValueError (not NaN)"""
    rng = test_rng()
    scores, mask = rng.normal(size=(N, S)), _mask(rng)
    mask[1] = False
    try:
        with np.errstate(all="ignore"):
            got = learner.masked_softmax(scores, mask)
    except Feedback as exc:
        if "ValueError" in str(exc):
            return
        raise
    if got is not None and np.any(np.isnan(np.asarray(got, dtype=float))):
        raise Feedback(SPEC.message("fully padded row gives NaN"))
    raise Feedback("a row with no real key returned weights: raise ValueError instead.")


@SPEC.test(
    points=2,
    function="masked_softmax_backward",
    inputs=softmax_inputs,
    outputs={"dscores": "(N, S)"},
)
def softmax_backward_matches_reference(F, p):
    """dscores = a * (g - sum(a * g)) over each row"""
    weights = SPEC.reference.masked_softmax(p["scores"], p["mask"])
    return (F.masked_softmax_backward(p["g"], weights),)


@SPEC.test(
    points=1,
    function="dot_attention_forward",
    inputs=attention_inputs,
    cases=(Case(), Case("with scale=True", dict(scale=True))),
    outputs=READS,
)
def dot_forward_matches_reference(F, p):
    """context and weights of score = q . k_s, and of the scaled score / sqrt(Hk)"""
    context, weights, _ = _forward(F, "dot", p)
    return weights, context


@SPEC.test(
    points=2,
    function="dot_attention_backward",
    inputs=attention_inputs,
    cases=(Case(), Case("with scale=True", dict(scale=True))),
    outputs={name: SHAPES[name] for name in ("dq", "dk", "dv")},
    also=_zero_on_padding(("dq", "dk", "dv")),
)
def dot_backward_matches_reference(F, p):
    """dq, dk, dv equal the reference, with and without scale"""
    return _backward(F, "dot", p)


@SPEC.test(
    points=1,
    function="general_attention_forward",
    inputs=lambda rng: attention_inputs(rng, "general"),
    outputs=READS,
)
def general_forward_matches_reference(F, p):
    """context and weights of score = q W k_s"""
    context, weights, _ = _forward(F, "general", p)
    return weights, context


@SPEC.test(
    points=2,
    function="general_attention_backward",
    inputs=lambda rng: attention_inputs(rng, "general"),
    outputs={name: SHAPES[name] for name in ("dq", "dk", "dv", "dW")},
    also=_zero_on_padding(("dq", "dk", "dv")),
)
def general_backward_matches_reference(F, p):
    """dq, dk, dv, dW equal the reference"""
    return _backward(F, "general", p)


@SPEC.test(
    points=1,
    function="additive_attention_forward",
    inputs=lambda rng: attention_inputs(rng, "additive"),
    outputs=READS,
)
def additive_forward_matches_reference(F, p):
    """context and weights of score = w . tanh(q Wq + k_s Wk)"""
    context, weights, _ = _forward(F, "additive", p)
    return weights, context


@SPEC.test(
    points=3,
    function="additive_attention_backward",
    inputs=lambda rng: attention_inputs(rng, "additive"),
    outputs={name: SHAPES[name] for name in ("dq", "dk", "dv", "dWq", "dWk", "dw")},
    also=_zero_on_padding(("dq", "dk", "dv")),
)
def additive_backward_matches_reference(F, p):
    """dq, dk, dv, dWq, dWk, dw equal the reference"""
    return _backward(F, "additive", p)


# The catalogue: each patch goes into the reference to simulate the mistake (the attention
# functions read the weights through the module's masked_softmax, so a softmax mistake shows in
# them too) and into solutions/ex05_attention.ipynb by the mutation suite; ``simulate`` where
# the reference's attention functions are not the solution's code. The book's appendix
# "Feedback catalogue" lists them.
SPEC.mistake(
    "softmax over the wrong axis",
    "masked_softmax",
    {
        "-np.inf).max(axis=1, keepdims=True)": "-np.inf).max(axis=0, keepdims=True)",
        "e / e.sum(axis=1, keepdims=True)": "e / e.sum(axis=0, keepdims=True)",
    },
    "the softmax runs over the wrong axis (the batch): normalise over the keys, axis=1.",
)
EXP = "e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)"
SPEC.mistake(
    "mask applied after the softmax",
    "masked_softmax",
    {
        EXP: "e = np.exp(scores - scores.max(axis=1, keepdims=True))",
        "e / e.sum(axis=1, keepdims=True)": "e / e.sum(axis=1, keepdims=True) * mask",
    },
    "the mask is applied after the softmax: padded keys still took probability mass, so the "
    "rows no longer sum to 1. Exclude them before normalising.",
)
SPEC.mistake(
    "mask ignored",
    "masked_softmax",
    {EXP: "e = np.exp(scores - scores.max(axis=1, keepdims=True))"},
    "the mask is ignored: padded keys get weight. They must get exactly 0.",
)


def _without_row_check(F):
    def masked_softmax(scores, mask):
        row_max = np.where(mask, scores, -np.inf).max(axis=1, keepdims=True)
        e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)
        return e / e.sum(axis=1, keepdims=True)

    return {"masked_softmax": masked_softmax}


SPEC.mistake(
    "fully padded row gives NaN",
    "masked_softmax",
    {
        "    if not np.all(mask.any(axis=1)):\n"
        '        raise ValueError("masked_softmax: a row has no real key (its mask is all '
        'False)")\n': ""
    },
    "a fully padded row gives NaN (0/0 or -inf - -inf): check for rows without a real key and "
    "raise ValueError saying so.",
    simulate=_without_row_check,
)
SPEC.mistake(
    "no max subtraction",
    "masked_softmax",
    {"np.exp(np.where(mask, scores - row_max, 0))": "np.exp(np.where(mask, scores, 0))"},
    "NaN or inf for large scores: np.exp overflows (or -inf - -inf appears). Subtract the maximum "
    "over the real keys before np.exp, and never compute with -inf.",
)
SPEC.mistake(
    "softmax backward without the -(a . g) term",
    "masked_softmax_backward",
    {
        "weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))": (
            "weights * dweights"
        )
    },
    "the softmax backward lacks the -(a . g) term: dscore = a * (g - sum(a * g)) along the keys, "
    "because raising one score lowers every other weight.",
)
SPEC.mistake(
    "softmax backward sums over the wrong axis",
    "masked_softmax_backward",
    {"dweights).sum(axis=1, keepdims=True)": "dweights).sum(axis=0, keepdims=True)"},
    "the sum runs over the wrong axis: sum(a * g) is over the keys, axis=1.",
)
SPEC.mistake(
    "tanh missing in the additive score",
    "additive_attention_forward",
    {"hidden = np.tanh((q @ Wq)[:, None, :] + k @ Wk)": "hidden = (q @ Wq)[:, None, :] + k @ Wk"},
    "the tanh is missing in the additive score: w . tanh(q Wq + k_s Wk).",
)
SPEC.mistake(
    "dW transposed",
    "general_attention_backward",
    {"q.T @ dqW": "dqW.T @ q"},
    "dW is transposed: it must have the shape of the weight, (Hq, Hk).",
)


def _scale(forward=None, backward=None):
    """Dot attention whose forward always (or never) scales, or whose backward ignores c."""

    def simulate(F):
        if backward is not None:
            return {
                "dot_attention_backward": lambda dcontext, cache: F.dot_attention_backward(
                    dcontext, (*cache[:4], 1.0)
                )
            }
        return {
            "dot_attention_forward": lambda q, k, v, mask, scale=False: F.dot_attention_forward(
                q, k, v, mask, scale=forward
            )
        }

    return simulate


SPEC.mistake(
    "scale ignored",
    "dot_attention_forward",
    {"c = 1 / np.sqrt(k.shape[2]) if scale else 1.0": "c = 1.0"},
    "scale=True must divide the scores by sqrt(Hk).",
    simulate=_scale(forward=False),
)
SPEC.mistake(
    "dot backward forgets the scale",
    "dot_attention_backward",
    {
        "dscores = masked_softmax_backward(dweights, weights) * c": (
            "dscores = masked_softmax_backward(dweights, weights)"
        )
    },
    "the backward ignores the scale: the scores were multiplied by c = 1 / sqrt(Hk), so dscores "
    "is too.",
    simulate=_scale(backward=True),
)
