"""Graded tests of exercise ex08: layer normalisation, the causal mask and multi-head attention.

Every test draws fresh random inputs of distinct sizes (N, T, S, D, heads, head size all
different, so a transposed matrix or a swapped axis cannot pass), runs fixed edge cases (N = 1,
T = 1, S != T, a long T, padded keys with huge values behind the mask), compares with the
reference and names known mistakes.

One source per mistake: each entry of the catalogue is a patch of the reference code, which the
solution notebook holds verbatim. The mutation suite applies the patch to the solution; this
module applies the same patch to the reference function to simulate the mistake, and a learner
whose output equals the simulation reads the mistake's words.
Book: chapter 8; notebook: ex08_transformer.ipynb.
"""

import inspect

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
    key="ex08",
    title="Layer normalisation and multi-head attention, forward and backward",
    notebook="ex08_transformer.ipynb",
    functions=(
        "layer_norm_forward", "layer_norm_backward", "causal_mask",
        "multi_head_attention_forward", "multi_head_attention_backward",
    ),
    hidden_modules=(
        "s2s_ref.numpy_nn.layer_norm", "s2s_ref.numpy_nn.multihead",
        "s2s_ref.numpy_nn.transformer", "s2s_ref.torch_nn.transformer",
    ),
)  # fmt: skip
REFERENCES = {
    "layer_norm_forward": load_private("s2s_ref.numpy_nn.layer_norm"),
    "layer_norm_backward": load_private("s2s_ref.numpy_nn.layer_norm"),
    "causal_mask": load_private("s2s_ref.numpy_nn.multihead"),
    "multi_head_attention_forward": load_private("s2s_ref.numpy_nn.multihead"),
    "multi_head_attention_backward": load_private("s2s_ref.numpy_nn.multihead"),
}
N, T, S, D, HEADS = 2, 5, 7, 12, 3  # one head has d = 4 columns
LONG = 24
GRADS = ("dq", "dkv", "dWq", "dWk", "dWv", "dWo", "dbq", "dbk", "dbv", "dbo")
SHAPES = {"dx": "the shape of x", "dgamma": "(D,)", "dbeta": "(D,)", "y": "the shape of x",
          "out": "(N, T, D)", "weights": "(N, n_heads, T, S)", "dq": "(N, T, D)",
          "dkv": "(N, S, D)", "mask": "(T, T)"}  # fmt: skip


def reference(name):
    """The reference function a learner's function is compared with."""
    return getattr(REFERENCES[name], name)


# The catalogue: (function, name, {reference text: buggy text}, label, explanation). The label is
# what the feedback must contain (the mutation suite checks it, and that no other label shows);
# the explanation follows it in the feedback.
CATALOGUE = [
    ("layer_norm_forward", "unbiased variance",
     {"var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)":
      "var = ((x - mu) ** 2).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1)"},
     "the variance divides by D - 1",
     "(unbiased): layer normalisation divides by D, as torch.nn.LayerNorm does."),
    ("layer_norm_forward", "eps outside the square root",
     {"inv_std = 1 / np.sqrt(var + eps)": "inv_std = 1 / (np.sqrt(var) + eps)"},
     "eps is outside the square root",
     ": divide by sqrt(var + eps); it matters when the variance is small."),
    ("layer_norm_forward", "statistics over the wrong axis",
     {".mean(axis=-1, keepdims=True)  # (..., 1)": ".mean(axis=0, keepdims=True)  # (..., 1)"},
     "the mean and variance run over the wrong axis",
     ": layer normalisation averages the D features of one position, the last axis."),
    ("layer_norm_backward", "layer-norm backward without the mean terms",
     {"dx = inv_std * (g - mean_g - x_hat * mean_gx)": "dx = inv_std * g"},
     "dx lacks both mean terms",
     ": every x_i moves the mean and the variance, dx = inv_std * (g - mean(g) - x_hat * "
     "mean(g * x_hat)) with g = dy * gamma."),
    ("layer_norm_backward", "layer-norm backward without the variance path",
     {"dx = inv_std * (g - mean_g - x_hat * mean_gx)": "dx = inv_std * (g - mean_g)"},
     "dx lacks the path through the variance",
     ": subtract x_hat * mean(g * x_hat) too."),
    ("layer_norm_backward", "gamma forgotten in dx",
     {"g = dy * gamma": "g = dy"},
     "dx forgets gamma",
     ": y = gamma * x_hat + beta, so the gradient reaching x_hat is dy * gamma."),
    ("causal_mask", "causal mask without its diagonal",
     {"np.tril(np.ones((T, T), dtype=bool))": "np.tril(np.ones((T, T), dtype=bool), k=-1)"},
     "the diagonal is missing",
     ": query t may attend to key t itself (np.tril with k=0), or the first row has no key."),
    ("causal_mask", "causal mask one step into the future",
     {"np.tril(np.ones((T, T), dtype=bool))": "np.tril(np.ones((T, T), dtype=bool), k=1)"},
     "query t may read key t + 1",
     ", the next token, which it must predict: the mask is off by one (np.tril with k=0)."),
    ("causal_mask", "causal mask upside down",
     {"np.tril(np.ones((T, T), dtype=bool))": "np.triu(np.ones((T, T), dtype=bool))"},
     "the mask is True above the diagonal",
     ": query t would read every later key; np.tril keeps keys 0..t."),
    ("multi_head_attention_forward", "softmax over the wrong axis",
     {"scores.max(axis=-1, keepdims=True)": "scores.max(axis=-2, keepdims=True)",
      "e.sum(axis=-1, keepdims=True)": "e.sum(axis=-2, keepdims=True)"},
     "the softmax runs over the queries",
     ": normalise over the keys, the last axis of the scores (N, n_heads, T, S)."),
    ("multi_head_attention_forward", "scaled by sqrt(D) instead of sqrt(D / n_heads)",
     {"/ d**0.5  # (N, n_heads, T, S)": "/ D**0.5  # (N, n_heads, T, S)"},
     "the scores are divided by sqrt(D)",
     ": one head's dot product has d = D / n_heads terms, so divide by sqrt(d)."),
    ("multi_head_attention_forward", "heads split along the wrong axis",
     {".reshape(N, T, n_heads, d).transpose(0, 2, 1, 3)": ".reshape(N, n_heads, T, d)",
      ".reshape(N, S, n_heads, d).transpose(0, 2, 1, 3)": ".reshape(N, n_heads, S, d)",
      "(weights @ V).transpose(0, 2, 1, 3).reshape(N, T, D)": "(weights @ V).reshape(N, T, D)"},
     "the heads are split along the wrong axis",
     ": head h is the columns h*d .. (h+1)*d - 1; reshape (N, T, D) to (N, T, n_heads, d), then "
     "transpose to (N, n_heads, T, d) (and back for the concatenation)."),
    ("multi_head_attention_forward", "mask applied after the softmax",
     {"    scores = np.where(allowed, scores, -np.inf)  # a masked key never enters the softmax\n":
      "",
      "weights = e / e.sum(axis=-1, keepdims=True)  #":
      "weights = e / e.sum(axis=-1, keepdims=True) * allowed  #"},
     "the mask is applied after the softmax",
     ": masked keys still took probability mass, so the rows no longer sum to 1; set their "
     "scores to -inf before normalising."),
    ("multi_head_attention_forward", "mask ignored",
     {"    scores = np.where(allowed, scores, -np.inf)  # a masked key never enters the softmax\n":
      ""},
     "the mask is ignored",
     ": a key where the mask is False must get weight exactly 0."),
    ("multi_head_attention_forward", "Wo forgotten",
     {"out = context @ Wo + bo": "out = context + bo"},
     "the output projection Wo is missing",
     ": out = concat(heads) @ Wo + bo mixes what the heads found."),
    ("multi_head_attention_backward", "softmax backward without the -(a . g) term",
     {"dscores = weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))":
      "dscores = weights * dweights"},
     "the softmax backward lacks the -(a . g) term",
     ": dscore = a * (g - sum(a * g)) over the keys, because raising one score lowers every "
     "other weight."),
    ("multi_head_attention_backward", "scale forgotten in the backward",
     {"    dscores = dscores / d**0.5  # 0 where the mask is False: the weights are 0 there\n": ""},
     "the backward forgets the 1 / sqrt(d)",
     ": the scores were divided by sqrt(d), so their gradient is too."),
    ("multi_head_attention_backward", "dkv without the keys' path",
     {"dkv = dK @ Wk.T + dV @ Wv.T": "dkv = dV @ Wv.T"},
     "dkv lacks the keys' term",
     ": kv feeds both the keys and the values, dkv = dK @ Wk.T + dV @ Wv.T."),
    ("multi_head_attention_backward", "dWo transposed",
     {"dWo = context.reshape(-1, D).T @ dout.reshape(-1, D)":
      "dWo = dout.reshape(-1, D).T @ context.reshape(-1, D)"},
     "dWo is transposed",
     ": it has the shape of Wo, (D, D) used as context @ Wo, so dWo = context^T @ dout."),
]  # fmt: skip


def _simulate(function, replace):
    """The reference function with the mistake's replacements made: what the mistake returns."""
    module = REFERENCES[function]
    source = inspect.getsource(getattr(module, function))
    for old, new in replace.items():
        if old not in source:
            raise ValueError(f"ex08 catalogue: {old!r} does not occur in the reference {function}")
        source = source.replace(old, new)
    namespace = dict(vars(module))
    exec(compile(source, f"<ex08 mistake in {function}>", "exec"), namespace)
    return namespace[function]


SIMULATIONS = {
    function: [] for function in EXERCISE.functions
}  # function -> [(description, simulated function)]
for _function, _name, _replace, _label, _explanation in CATALOGUE:
    EXERCISE.mistakes.append(Mistake(_name, _function, _replace, _label))
    SIMULATIONS[_function].append((_label + _explanation, _simulate(_function, _replace)))


def _mistakes(function, pick, *args):
    """{description: producer} of the simulated mistakes of `function` on these arguments; pick
    takes the simulated function's result to the array being checked."""
    return {
        description: (lambda f=simulated: pick(f(*args)))
        for description, simulated in SIMULATIONS[function]
    }


def _key_mask(rng, n, s):
    """(n, s) bool: row 0 has a random number of real keys, the others all (row 2 just one)."""
    lengths = np.full(n, s)
    lengths[0] = rng.integers(2, s) if s > 2 else s
    if n > 2:
        lengths[2] = 1
    return np.arange(s)[None, :] < lengths[:, None]


def _params(rng):
    return [rng.normal(size=(D, D)) / np.sqrt(D) for _ in range(4)] + [
        rng.normal(size=D) * 0.1 for _ in range(4)
    ]


def _attention_cases(rng):
    """(label, q, kv, mask) of every forward and backward test, the random case first."""
    q, kv = rng.normal(size=(N, T, D)), rng.normal(size=(N, S, D))
    yield "", q, kv, np.ones((N, T, S), dtype=bool)
    keys = _key_mask(rng, 3, S)
    kv = rng.normal(size=(3, S, D))
    kv[~keys] = 1e4 * rng.normal(size=(int((~keys).sum()), D))  # huge values behind the mask
    yield (
        "with padded keys holding values of 1e4",
        rng.normal(size=(3, T, D)),
        kv,
        np.broadcast_to(keys[:, None, :], (3, T, S)).copy(),
    )
    x = rng.normal(size=(N, T, D))
    causal = np.tril(np.ones((T, T), dtype=bool))[None] & _key_mask(rng, N, T)[:, None, :]
    causal[:, :, 0] = True  # every query keeps a key
    yield "in causal self-attention (kv = q) with padding", x, x, causal
    yield (
        "with N = 1, T = 1",
        rng.normal(size=(1, 1, D)),
        rng.normal(size=(1, S, D)),
        (np.ones((1, 1, S), dtype=bool)),
    )
    x = rng.normal(size=(1, LONG, D))
    yield f"with a long T = {LONG}", x, x, np.tril(np.ones((LONG, LONG), dtype=bool))[None]


def _layer_norm_cases(rng):
    yield "", rng.normal(size=(N, T, D)) * 2 + 1
    yield "with x of scale 1e-3, where eps matters", rng.normal(size=(N, T, D)) * 1e-3
    yield "with N = 1, T = 1", rng.normal(size=(1, 1, D)) * 3
    yield "with a 2-D x (N, D)", rng.normal(size=(3, D)) - 2
    yield f"with a long T = {LONG}", rng.normal(size=(N, LONG, D))


@EXERCISE.test(points=2, function="layer_norm_forward")
def layer_norm_forward_matches_reference(learner):
    """y is the normalised x, scaled by gamma and shifted by beta, over the last axis"""
    rng = test_rng()
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    for label, x in _layer_norm_cases(rng):
        with case(label):
            args = (x, gamma, beta, 1e-5)
            got = unpack(learner.layer_norm_forward(*args), "layer_norm_forward", ("y", "cache"))
            mistakes = _mistakes("layer_norm_forward", lambda r: r[0], *args)
            want = reference("layer_norm_forward")(*args)[0]
            check_array("y", got[0], want, shape_hint="the shape of x", mistakes=mistakes)


@EXERCISE.test(points=3, function="layer_norm_backward")
def layer_norm_backward_matches_reference(learner):
    """dx, dgamma, dbeta equal the reference (through both mean terms)"""
    rng = test_rng()
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    names = ("dx", "dgamma", "dbeta")
    for label, x in _layer_norm_cases(rng):
        with case(label):
            cache = forward_for_cache(learner.layer_norm_forward, ("y", "cache"), x, gamma, beta)[1]
            dy = rng.normal(size=x.shape)
            grads = unpack(learner.layer_norm_backward(dy, cache), "layer_norm_backward", names)
            ref_cache = reference("layer_norm_forward")(x, gamma, beta)[1]
            want = reference("layer_norm_backward")(dy, ref_cache)
            found = Findings()
            for i, (name, got) in enumerate(zip(names, grads, strict=True)):
                mistakes = _mistakes("layer_norm_backward", lambda r, i=i: r[i], dy, ref_cache)
                found.check(name, got, want[i], shape_hint=SHAPES[name], mistakes=mistakes)
            found.raise_any()


@EXERCISE.test(points=1, function="causal_mask")
def causal_mask_matches_reference(learner):
    """True on and below the diagonal, boolean, also for T = 1 and T = 0"""
    for length in (T, 1, 0, LONG):
        with case(f"with T = {length}" if length != T else ""):
            got = learner.causal_mask(length)
            if got is not None and not (isinstance(got, np.ndarray) and got.dtype == np.bool_):
                raise Feedback(
                    f"the mask has dtype {getattr(got, 'dtype', type(got).__name__)}; it must be "
                    "boolean (True = may attend), e.g. np.ones((T, T), dtype=bool)."
                )
            mistakes = _mistakes("causal_mask", lambda r: r, length)
            check_array("mask", got, reference("causal_mask")(length), shape_hint="(T, T)",
                        mistakes=mistakes)  # fmt: skip


def _forward(fn, q, kv, mask, params):
    return fn(q, kv, mask, *params, HEADS)


@EXERCISE.test(points=3, function="multi_head_attention_forward")
def attention_forward_matches_reference(learner):
    """weights and out equal the reference; masked keys get exactly 0"""
    rng = test_rng()
    params = _params(rng)
    ref_forward = reference("multi_head_attention_forward")
    for label, q, kv, mask in _attention_cases(rng):
        with case(label), np.errstate(all="ignore"):
            got = unpack(
                _forward(learner.multi_head_attention_forward, q, kv, mask, params),
                "multi_head_attention_forward",
                ("out", "weights", "cache"),
            )
            out, weights, _ = _forward(ref_forward, q, kv, mask, params)
            args = (q, kv, mask, *params, HEADS)
            for i, (name, want) in ((1, ("weights", weights)), (0, ("out", out))):
                mistakes = _mistakes("multi_head_attention_forward", lambda r, i=i: r[i], *args)
                check_array(name, got[i], want, shape_hint=SHAPES[name], mistakes=mistakes)
            allowed = np.broadcast_to(mask[:, None], weights.shape)
            if np.any(np.asarray(got[1])[~allowed] != 0):
                raise Feedback(
                    "a key where the mask is False must get weight exactly 0, not merely a tiny "
                    "one: set its score to -inf before the softmax."
                )


@EXERCISE.test(points=4, function="multi_head_attention_backward")
def attention_backward_matches_reference(learner):
    """the ten gradients equal the reference; 0 for keys that no query may attend to"""
    rng = test_rng()
    params = _params(rng)
    ref_forward = reference("multi_head_attention_forward")
    ref_backward = reference("multi_head_attention_backward")
    for label, q, kv, mask in _attention_cases(rng):
        with case(label), np.errstate(all="ignore"):
            cache = forward_for_cache(
                learner.multi_head_attention_forward,
                ("out", "weights", "cache"),
                q, kv, mask, *params, HEADS,
            )[2]  # fmt: skip
            dout = rng.normal(size=q.shape)
            grads = unpack(
                learner.multi_head_attention_backward(dout, cache),
                "multi_head_attention_backward",
                GRADS,
            )
            ref_cache = _forward(ref_forward, q, kv, mask, params)[2]
            want = ref_backward(dout, ref_cache)
            found = Findings()
            for i, (name, got) in enumerate(zip(GRADS, grads, strict=True)):
                mistakes = _mistakes(
                    "multi_head_attention_backward", lambda r, i=i: r[i], dout, ref_cache
                )
                found.check(name, got, want[i], shape_hint=SHAPES.get(name, "(D, D)" if "W"
                            in name else "(D,)"), mistakes=mistakes)  # fmt: skip
            found.raise_any()
            unread = ~mask.any(axis=1)  # (N, S): keys that no query may attend to
            if q is not kv and np.any(np.asarray(grads[1])[unread] != 0):
                raise Feedback("dkv must be exactly 0 for keys that no query may attend to.")
