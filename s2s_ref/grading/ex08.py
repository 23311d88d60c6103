"""Graded tests of exercise ex08: layer normalisation, the causal mask and multi-head attention.

Declarative (see ``grading.spec``): every test draws fresh random inputs of distinct sizes (N, T,
S, D, heads, head size all different, so a transposed matrix or a swapped axis cannot pass), runs
fixed edge cases (N = 1, T = 1, S != T, a long T, padded keys with huge values behind the mask),
compares with the reference and names the typical mistakes of the catalogue below.
Book: chapter 8; notebook: ex08_transformer.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Feedback
from s2s_ref.grading.registry import Exercise
from s2s_ref.grading.spec import Case, Spec

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
GRADS = ("dq", "dkv", "dWq", "dWk", "dWv", "dWo", "dbq", "dbk", "dbv", "dbo")
SPEC = Spec(
    EXERCISE,
    references=("s2s_ref.numpy_nn.layer_norm", "s2s_ref.numpy_nn.multihead"),
    returns={
        "layer_norm_forward": ("y", "cache"),
        "layer_norm_backward": ("dx", "dgamma", "dbeta"),
        "multi_head_attention_forward": ("out", "weights", "cache"),
        "multi_head_attention_backward": GRADS,
    },
)
N, T, S, D, HEADS = 2, 5, 7, 12, 3  # one head has d = 4 columns
LONG = 24

# The catalogue: (function, name, {reference text: buggy text}, label, explanation); the feedback
# shows the label and its explanation when a wrong output equals the mistake's simulation.
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
     {"mu = x.mean(axis=-1, keepdims=True)": "mu = x.mean(axis=0, keepdims=True)",
      "var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)":
      "var = ((x - mu) ** 2).mean(axis=0, keepdims=True)"},
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
     {"    g = dy * gamma\n": "    g = dy\n"},
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
     {"(q @ Wq + bq).reshape(N, T, n_heads, d).transpose(0, 2, 1, 3)":
      "(q @ Wq + bq).reshape(N, n_heads, T, d)",
      "(kv @ Wk + bk).reshape(N, S, n_heads, d).transpose(0, 2, 1, 3)":
      "(kv @ Wk + bk).reshape(N, n_heads, S, d)",
      "(kv @ Wv + bv).reshape(N, S, n_heads, d).transpose(0, 2, 1, 3)":
      "(kv @ Wv + bv).reshape(N, n_heads, S, d)",
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


for _function, _name, _replace, _label, _explanation in CATALOGUE:
    SPEC.mistake(_name, _function, _replace, _label + _explanation)


# ---- layer normalisation ----

LAYER_NORM_CASES = (
    Case(sizes=dict(shape=(N, T, D), scale=2.0, shift=1.0)),
    Case("with x of scale 1e-3, where eps matters", dict(shape=(N, T, D), scale=1e-3)),
    Case("with N = 1, T = 1", dict(shape=(1, 1, D), scale=3.0)),
    Case("with a 2-D x (N, D)", dict(shape=(3, D), shift=-2.0)),
    Case(f"with a long T = {LONG}", dict(shape=(N, LONG, D))),
)


def layer_norm_inputs(rng, shape, scale=1.0, shift=0.0):
    """x of ``shape`` (..., D), gamma and beta (D,), dy upstream (the shape of x)."""
    return dict(
        x=rng.normal(size=shape) * scale + shift,
        gamma=rng.normal(size=D),
        beta=rng.normal(size=D),
        dy=rng.normal(size=shape),
    )


@SPEC.test(
    points=2,
    function="layer_norm_forward",
    inputs=layer_norm_inputs,
    cases=LAYER_NORM_CASES,
    outputs={"y": "the shape of x"},
)
def layer_norm_forward_matches_reference(F, p):
    """y is the normalised x, scaled by gamma and shifted by beta, over the last axis"""
    return F.layer_norm_forward(p["x"], p["gamma"], p["beta"], 1e-5)[:1]


@SPEC.test(
    points=3,
    function="layer_norm_backward",
    inputs=layer_norm_inputs,
    cases=LAYER_NORM_CASES,
    outputs={"dx": "the shape of x", "dgamma": "(D,)", "dbeta": "(D,)"},
)
def layer_norm_backward_matches_reference(F, p):
    """dx, dgamma, dbeta equal the reference (through both mean terms)"""
    cache = F.layer_norm_forward(p["x"], p["gamma"], p["beta"])[1]
    return F.layer_norm_backward(p["dy"], cache)


# ---- the causal mask ----


def _boolean(got, p):
    mask = got[0]
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_):
        raise Feedback(
            f"the mask has dtype {getattr(mask, 'dtype', type(mask).__name__)}; it must be "
            "boolean (True = may attend), e.g. np.ones((T, T), dtype=bool)."
        )


@SPEC.test(
    points=1,
    function="causal_mask",
    inputs=lambda rng, t: dict(t=t),
    cases=(Case(sizes=dict(t=T)), *(Case(f"with T = {t}", dict(t=t)) for t in (1, 0, LONG))),
    outputs={"mask": "(T, T)"},
    also=_boolean,
)
def causal_mask_matches_reference(F, p):
    """True on and below the diagonal, boolean, also for T = 1 and T = 0"""
    return (F.causal_mask(p["t"]),)


# ---- multi-head attention ----


def _key_mask(rng, n, s):
    """(n, s) bool: row 0 has a random number of real keys, the others all (row 2 just one)."""
    lengths = np.full(n, s)
    lengths[0] = rng.integers(2, s) if s > 2 else s
    if n > 2:
        lengths[2] = 1
    return np.arange(s)[None, :] < lengths[:, None]


def attention_inputs(rng, kind):
    """q (n, t, D), kv (n, s, D), mask (n, t, s) bool, the weights Wq, Wk, Wv, Wo (D, D) and
    biases (D,), dout (n, t, D) upstream; ``kind`` picks the case."""
    p = {f"W{k}": rng.normal(size=(D, D)) / np.sqrt(D) for k in "qkvo"}
    p |= {f"b{k}": rng.normal(size=D) * 0.1 for k in "qkvo"}
    if kind == "random":
        q, kv, mask = (
            rng.normal(size=(N, T, D)),
            rng.normal(size=(N, S, D)),
            np.ones((N, T, S), bool),
        )
    elif kind == "padded":  # huge values behind the mask
        keys = _key_mask(rng, 3, S)
        q, kv = rng.normal(size=(3, T, D)), rng.normal(size=(3, S, D))
        kv[~keys] = 1e4 * rng.normal(size=(int((~keys).sum()), D))
        mask = np.broadcast_to(keys[:, None, :], (3, T, S)).copy()
    elif kind == "causal":  # self-attention, kv is q
        q = kv = rng.normal(size=(N, T, D))
        mask = np.tril(np.ones((T, T), dtype=bool))[None] & _key_mask(rng, N, T)[:, None, :]
        mask[:, :, 0] = True  # every query keeps a key
    elif kind == "one":
        q, kv, mask = (
            rng.normal(size=(1, 1, D)),
            rng.normal(size=(1, S, D)),
            np.ones((1, 1, S), bool),
        )
    else:  # long causal self-attention
        q = kv = rng.normal(size=(1, LONG, D))
        mask = np.tril(np.ones((LONG, LONG), dtype=bool))[None]
    return p | dict(q=q, kv=kv, mask=mask, dout=rng.normal(size=q.shape))


ATTENTION_CASES = (
    Case(sizes=dict(kind="random")),
    Case("with padded keys holding values of 1e4", dict(kind="padded")),
    Case("in causal self-attention (kv = q) with padding", dict(kind="causal")),
    Case("with N = 1, T = 1", dict(kind="one")),
    Case(f"with a long T = {LONG}", dict(kind="long")),
)


def _attention(F, p):
    """F's multi_head_attention_forward on the inputs p: (out, weights, cache)."""
    weights = [p[k] for k in ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")]
    with np.errstate(all="ignore"):
        return F.multi_head_attention_forward(p["q"], p["kv"], p["mask"], *weights, HEADS)


def _masked_keys_get_zero(got, p):
    allowed = np.broadcast_to(p["mask"][:, None], np.shape(got[0]))
    if np.any(np.asarray(got[0])[~allowed] != 0):
        raise Feedback(
            "a key where the mask is False must get weight exactly 0, not merely a tiny "
            "one: set its score to -inf before the softmax."
        )


@SPEC.test(
    points=3,
    function="multi_head_attention_forward",
    inputs=attention_inputs,
    cases=ATTENTION_CASES,
    outputs={"weights": "(N, n_heads, T, S)", "out": "(N, T, D)"},
    also=_masked_keys_get_zero,
)
def attention_forward_matches_reference(F, p):
    """weights and out equal the reference; masked keys get exactly 0"""
    out, weights, _ = _attention(F, p)
    return weights, out


def _unread_keys_get_zero(got, p):
    unread = ~p["mask"].any(axis=1)  # (N, S): keys that no query may attend to
    if p["q"] is not p["kv"] and np.any(np.asarray(got[1])[unread] != 0):
        raise Feedback("dkv must be exactly 0 for keys that no query may attend to.")


@SPEC.test(
    points=4,
    function="multi_head_attention_backward",
    inputs=attention_inputs,
    cases=ATTENTION_CASES,
    outputs={
        "dq": "(N, T, D)",
        "dkv": "(N, S, D)",
        **{name: "(D, D)" for name in GRADS[2:6]},
        **{name: "(D,)" for name in GRADS[6:]},
    },
    also=_unread_keys_get_zero,
)
def attention_backward_matches_reference(F, p):
    """the ten gradients equal the reference; 0 for keys that no query may attend to"""
    cache = _attention(F, p)[2]
    with np.errstate(all="ignore"):
        return F.multi_head_attention_backward(p["dout"], cache)
