"""Graded tests of exercise ex05: masked softmax and dot, general, additive attention.

Every test draws fresh random inputs of distinct sizes (N, S, Hq, Hk, Hv, A all different, so a
transposed matrix cannot pass), pads some keys, compares with the reference and names known
mistakes: softmax over the wrong axis, the mask applied after the softmax, NaN from -inf
arithmetic or fully padded rows, the tanh missing, dW transposed, the softmax backward without
its -(a . g) term.
Book: chapter 5; notebook: ex05_attention.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import (
    Feedback,
    Findings,
    case,
    check_array,
    forward_for_cache,
    unpack,
)
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex05",
    title="Attention: dot, general and additive, forward and backward",
    notebook="ex05_attention.ipynb",
    functions=(
        "masked_softmax", "masked_softmax_backward",
        "dot_attention_forward", "dot_attention_backward",
        "general_attention_forward", "general_attention_backward",
        "additive_attention_forward", "additive_attention_backward",
    ),
    hidden_modules=("s2s_ref.numpy_nn.attention", "s2s_ref.torch_nn.attention"),
)  # fmt: skip
ref = load_private("s2s_ref.numpy_nn.attention")
N, S, HQ, HK, HV, A = 3, 7, 5, 4, 6, 8
SHAPES = {"dq": "(N, Hq)", "dk": "(N, S, Hk)", "dv": "(N, S, Hv)", "dW": "(Hq, Hk)",
          "dWq": "(Hq, A)", "dWk": "(Hk, A)", "dw": "(A,)"}  # fmt: skip
NO_MINUS_TERM = (
    "the softmax backward lacks the -(a . g) term: dscore = a * (g - sum(a * g)) along the keys, "
    "because raising one score lowers every other weight."
)


def _mask(rng):
    """Row 0: a random number of real keys; row 1: all real; row 2: one real key."""
    lengths = np.array([rng.integers(2, S), S, 1])
    return np.arange(S)[None, :] < lengths[:, None]


def _inputs(rng, hk=HK):
    return dict(
        q=rng.normal(size=(N, HQ)),
        k=rng.normal(size=(N, S, hk)),
        v=rng.normal(size=(N, S, HV)),
        mask=_mask(rng),
    )


def _plain_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_mistakes(scores, mask):
    return {
        "the softmax runs over the wrong axis (the batch): normalise over the keys, axis=1.":
            lambda: np.where(mask, _plain_softmax(np.where(mask, scores, -1e9), 0), 0),
        "the mask is applied after the softmax: padded keys still took probability mass, so the "
        "rows no longer sum to 1. Exclude them before normalising.":
            lambda: _plain_softmax(scores, 1) * mask,
        "the mask is ignored: padded keys get weight. They must get exactly 0.":
            lambda: _plain_softmax(scores, 1),
    }  # fmt: skip


def _read_mistakes(weights_mistakes, v):
    """Contexts that the softmax mistakes produce."""
    return {d: (lambda f=f: np.einsum("ns,nsv->nv", f(), v)) for d, f in weights_mistakes.items()}


def _check_transposed(name, got, want):
    got = np.asarray(got) if got is not None else got
    if got is not None and got.shape == want.T.shape and np.allclose(got.T, want, atol=1e-8):
        raise Feedback(
            f"{name} is transposed: it must have the shape of the weight, {SHAPES[name]}."
        )


@EXERCISE.test(points=2, function="masked_softmax")
def softmax_matches_reference(learner):
    """weights are a softmax over each row's real keys, exactly 0 on padding"""
    rng = test_rng()
    scores, mask = rng.normal(size=(N, S)) * 3, _mask(rng)
    behind = np.where(mask, scores, 1e4)  # a fixed edge case: large scores on the padding
    for label, x in (("", scores), ("with scores of 1e4 on the padded keys", behind)):
        with case(label), np.errstate(all="ignore"):
            got = learner.masked_softmax(x, mask)
            expected = ref.masked_softmax(x, mask)
            mistakes = _softmax_mistakes(x, mask)
            check_array("weights", got, expected, shape_hint="(N, S)", mistakes=mistakes)
            if np.any(np.asarray(got)[~mask] != 0):
                raise Feedback("padded keys must get exactly 0 weight, not merely a tiny one.")


@EXERCISE.test(points=1, function="masked_softmax")
def softmax_is_stable(learner):
    """huge scores (1000s) give finite weights: subtract the row maximum first"""
    rng = test_rng()
    offsets = np.array([[1000.0], [-1000.0], [800.0]])  # exp overflows, or underflows to 0/0
    scores, mask = rng.normal(size=(N, S)) * 100 + offsets, _mask(rng)
    with np.errstate(all="ignore"):
        got = learner.masked_softmax(scores, mask)
    if got is not None and not np.all(np.isfinite(np.asarray(got, dtype=float))):
        raise Feedback(
            "NaN or inf for large scores: np.exp overflows (or -inf - -inf appears). Subtract the "
            "maximum over the real keys before np.exp, and never compute with -inf."
        )
    check_array("weights", got, ref.masked_softmax(scores, mask), shape_hint="(N, S)")


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
        raise Feedback(
            "a fully padded row gives NaN (0/0 or -inf - -inf): check for rows without a real key "
            "and raise ValueError saying so."
        )
    raise Feedback("a row with no real key returned weights: raise ValueError instead.")


@EXERCISE.test(points=2, function="masked_softmax_backward")
def softmax_backward_matches_reference(learner):
    """dscores = a * (g - sum(a * g)) over each row"""
    rng = test_rng()
    weights = ref.masked_softmax(rng.normal(size=(N, S)), _mask(rng))
    g = rng.normal(size=(N, S))
    got = learner.masked_softmax_backward(g, weights)
    wrong_axis = "the sum runs over the wrong axis: sum(a * g) is over the keys, axis=1."
    mistakes = {
        NO_MINUS_TERM: lambda: weights * g,
        wrong_axis: lambda: weights * (g - (weights * g).sum(axis=0, keepdims=True)),
    }
    expected = ref.masked_softmax_backward(g, weights)
    check_array("dscores", got, expected, shape_hint="(N, S)", mistakes=mistakes)


def _forward_test(learner, name, kwargs, scores, extra_mistakes=None):
    """Compare context and weights with the reference; scores: the reference's scores (N, S)."""
    got = unpack(getattr(learner, name)(**kwargs), name, ("context", "weights", "cache"))
    context, weights, _ = getattr(ref, name)(**kwargs)
    mistakes = {**(extra_mistakes or {}), **_softmax_mistakes(scores, kwargs["mask"])}
    check_array("weights", got[1], weights, shape_hint="(N, S)", mistakes=mistakes)
    reads = _read_mistakes(mistakes, kwargs["v"])
    check_array("context", got[0], context, shape_hint="(N, Hv)", mistakes=reads)


def _unscaled_context(kw):
    return ref.dot_attention_forward(**kw)[0]


def _backward_test(learner, name, kwargs, grad_names):
    rng = test_rng()
    forward = name.replace("backward", "forward")
    cache = forward_for_cache(getattr(learner, forward), ("context", "weights", "cache"), **kwargs)[
        2
    ]
    dcontext = rng.normal(size=(N, HV))
    grads = unpack(getattr(learner, name)(dcontext, cache), name, grad_names)
    _, _, ref_cache = getattr(ref, forward)(**kwargs)
    expected = getattr(ref, name)(dcontext, ref_cache)
    no_minus = _without_minus_term(name, dcontext, ref_cache)
    found = Findings()
    for i, (gname, got, want) in enumerate(zip(grad_names, grads, expected, strict=True)):
        if gname.startswith("dW"):
            _check_transposed(gname, got, want)
        mistakes = {NO_MINUS_TERM: lambda i=i: no_minus[i]} if gname != "dv" else {}
        found.check(gname, got, want, shape_hint=SHAPES[gname], mistakes=mistakes)
    found.raise_any()
    mask = kwargs["mask"]
    for gname, got in zip(grad_names[1:3], grads[1:3], strict=True):
        if np.any(np.asarray(got)[~mask] != 0):
            raise Feedback(f"{gname} must be exactly 0 on padded keys.")


def _without_minus_term(name, dcontext, ref_cache):
    """The reference gradients when the softmax backward returns a * g (the known mistake)."""
    right = ref.masked_softmax_backward
    ref.masked_softmax_backward = lambda g, a: a * g  # the reference looks it up at call time
    try:
        return getattr(ref, name)(dcontext, ref_cache)
    finally:
        ref.masked_softmax_backward = right


@EXERCISE.test(points=1, function="dot_attention_forward")
def dot_forward_matches_reference(learner):
    """context and weights of score = q . k_s, and of the scaled score / sqrt(Hk)"""
    rng = test_rng()
    kw = _inputs(rng, hk=HQ)
    _forward_test(learner, "dot_attention_forward", kw, np.einsum("nh,nsh->ns", kw["q"], kw["k"]))
    result = learner.dot_attention_forward(**kw, scale=True)
    got = unpack(result, "dot_attention_forward", ("context", "weights", "cache"))
    expected = ref.dot_attention_forward(**kw, scale=True)[0]
    unscaled = {"scale=True must divide the scores by sqrt(Hk).": lambda: _unscaled_context(kw)}
    check_array(
        "context with scale=True", got[0], expected, shape_hint="(N, Hv)", mistakes=unscaled
    )


@EXERCISE.test(points=2, function="dot_attention_backward")
def dot_backward_matches_reference(learner):
    """dq, dk, dv equal the reference, with and without scale"""
    for scale in (False, True):
        kw = {**_inputs(test_rng(), hk=HQ), "scale": scale}
        _backward_test(learner, "dot_attention_backward", kw, ("dq", "dk", "dv"))


@EXERCISE.test(points=1, function="general_attention_forward")
def general_forward_matches_reference(learner):
    """context and weights of score = q W k_s"""
    rng = test_rng()
    kw = {**_inputs(rng), "W": rng.normal(size=(HQ, HK)) * 0.5}
    scores = np.einsum("nh,hk,nsk->ns", kw["q"], kw["W"], kw["k"])
    _forward_test(learner, "general_attention_forward", kw, scores)


@EXERCISE.test(points=2, function="general_attention_backward")
def general_backward_matches_reference(learner):
    """dq, dk, dv, dW equal the reference"""
    rng = test_rng()
    kw = {**_inputs(rng), "W": rng.normal(size=(HQ, HK)) * 0.5}
    _backward_test(learner, "general_attention_backward", kw, ("dq", "dk", "dv", "dW"))


def _additive_params(rng):
    return dict(
        Wq=rng.normal(size=(HQ, A)) * 0.5, Wk=rng.normal(size=(HK, A)) * 0.5, w=rng.normal(size=A)
    )


@EXERCISE.test(points=1, function="additive_attention_forward")
def additive_forward_matches_reference(learner):
    """context and weights of score = w . tanh(q Wq + k_s Wk)"""
    rng = test_rng()
    kw = {**_inputs(rng), **_additive_params(rng)}
    pre = (kw["q"] @ kw["Wq"])[:, None, :] + kw["k"] @ kw["Wk"]  # (N, S, A)
    no_tanh = ref.masked_softmax(pre @ kw["w"], kw["mask"])
    missing = "the tanh is missing in the additive score: w . tanh(q Wq + k_s Wk)."
    scores = np.tanh(pre) @ kw["w"]
    _forward_test(learner, "additive_attention_forward", kw, scores, {missing: lambda: no_tanh})


@EXERCISE.test(points=3, function="additive_attention_backward")
def additive_backward_matches_reference(learner):
    """dq, dk, dv, dWq, dWk, dw equal the reference"""
    rng = test_rng()
    kw = {**_inputs(rng), **_additive_params(rng)}
    _backward_test(
        learner, "additive_attention_backward", kw, ("dq", "dk", "dv", "dWq", "dWk", "dw")
    )


# The typical mistakes this grader names: each is put into the solution notebook by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points in the
# function(s) named, with this feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "softmax over the wrong axis",
        ("masked_softmax", "dot_attention_forward", "additive_attention_forward"),
        {
            (
                "    row_max = np.where(mask, scores, -np.inf).max(axis=1, "
                "keepdims=True)\n"
                "    e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)\n"
                "    weights = e / e.sum(axis=1, keepdims=True)\n"
            ): (
                "    row_max = np.where(mask, scores, -np.inf).max(axis=0, "
                "keepdims=True)\n"
                "    e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)\n"
                "    weights = e / e.sum(axis=0, keepdims=True)\n"
            ),
        },
        "softmax runs over the wrong axis",
    ),
    Mistake(
        "mask applied after the softmax",
        ("masked_softmax", "general_attention_forward"),
        {
            (
                "    row_max = np.where(mask, scores, -np.inf).max(axis=1, "
                "keepdims=True)\n"
                "    e = np.where(mask, np.exp(np.where(mask, scores - row_max, 0)), 0)\n"
                "    weights = e / e.sum(axis=1, keepdims=True)\n"
            ): (
                "    e = np.exp(scores - scores.max(axis=1, keepdims=True))\n"
                "    weights = e / e.sum(axis=1, keepdims=True) * mask\n"
            ),
        },
        "mask is applied after the softmax",
    ),
    Mistake(
        "fully padded row gives NaN",
        "masked_softmax",
        {
            (
                "    if not np.all(mask.any(axis=1)):\n"
                '        raise ValueError("masked_softmax: a row has no real key (its '
                'mask is all False)")\n'
            ): (""),
        },
        "a fully padded row gives NaN",
    ),
    Mistake(
        "-inf arithmetic",
        "masked_softmax",
        {
            (
                "    if not np.all(mask.any(axis=1)):\n"
                '        raise ValueError("masked_softmax: a row has no real key (its '
                'mask is all False)")\n'
            ): (""),
            "np.exp(np.where(mask, scores - row_max, 0))": (
                "np.exp(np.where(mask, scores, -np.inf) - row_max)"
            ),
        },
        "a fully padded row gives NaN",
    ),
    Mistake(
        "no max subtraction",
        "masked_softmax",
        {
            "np.exp(np.where(mask, scores - row_max, 0))": "np.exp(np.where(mask, scores, 0))",
        },
        "NaN or inf for large scores",
    ),
    Mistake(
        "tanh missing in the additive score",
        "additive_attention_forward",
        {
            "hidden = np.tanh((q @ Wq)[:, None, :] + k @ Wk)": (
                "hidden = (q @ Wq)[:, None, :] + k @ Wk"
            ),
        },
        "tanh is missing in the additive score",
    ),
    Mistake(
        "dW transposed",
        "general_attention_backward",
        {
            "dW = q.T @ dqW": "dW = dqW.T @ q",
        },
        "dW is transposed",
    ),
    Mistake(
        "softmax backward without the -(a . g) term",
        (
            "masked_softmax_backward",
            "dot_attention_backward",
            "general_attention_backward",
            "additive_attention_backward",
        ),
        {
            ("dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))"): (
                "dscores = weights * dweights"
            ),
        },
        "lacks the -(a . g) term",
    ),
    Mistake(
        "dot backward forgets the scale",
        "dot_attention_backward",
        {
            "dscores = masked_softmax_backward(dweights, weights) * c": (
                "dscores = masked_softmax_backward(dweights, weights)"
            ),
        },
        "dq is wrong",
    ),
]
