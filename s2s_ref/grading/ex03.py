"""Graded tests of exercise ex03: embedding, masked loss, decoder shifting, encoder, decoder.

Declarative (see ``grading.spec``): fresh random inputs of distinct sizes on every run (N, S, T,
E, H, Vs, Vt all different), fixed edge cases (one sequence of one token, long sequences, a fully
padded row in the loss), compared with the reference; the typical mistakes of the catalogue below
are named in the feedback.
Book: chapter 3; notebook: ex03_encdec.ipynb.
"""

import numpy as np

from s2s_ref.grading.feedback import Feedback, check_array, unpack
from s2s_ref.grading.registry import Exercise, test_rng
from s2s_ref.grading.spec import Case, Spec

EXERCISE = Exercise(
    key="ex03",
    title="The encoder-decoder: embeddings, masked loss, encoder and decoder",
    notebook="ex03_encdec.ipynb",
    functions=(
        "embedding_forward",
        "embedding_backward",
        "softmax_cross_entropy",
        "shift_for_decoder",
        "encoder_forward",
        "encoder_backward",
        "decoder_forward",
        "decoder_backward",
    ),
    hidden_modules=(
        "s2s_ref.numpy_nn.embedding",
        "s2s_ref.numpy_nn.loss",
        "s2s_ref.data.batching",
        "s2s_ref.numpy_nn.encoder",
        "s2s_ref.numpy_nn.decoder",
        "s2s_ref.numpy_nn.seq2seq",
        "s2s_ref.numpy_nn.training",
        "s2s_ref.torch_nn.loss",
    ),
)
GRU_GRADS = ("dWx", "dWh", "dbx", "dbh")


def _teacher_forced(decoder_forward):
    def forward(*args):
        logits, _, cache = decoder_forward(*args)
        return logits, cache

    return forward


SPEC = Spec(
    EXERCISE,
    # in the order they import each other (the encoder imports the embedding)
    references=(
        "s2s_ref.numpy_nn.embedding",
        "s2s_ref.numpy_nn.loss",
        "s2s_ref.data.batching",
        "s2s_ref.numpy_nn.encoder",
        "s2s_ref.numpy_nn.decoder",
    ),
    returns={
        "embedding_forward": ("out", "cache"),
        "softmax_cross_entropy": ("loss", "dlogits"),
        "shift_for_decoder": ("dec_in", "dec_out", "mask"),
        "encoder_forward": ("enc", "context", "cache"),
        "encoder_backward": ("dW_emb", *GRU_GRADS),
        "decoder_forward": ("logits", "cache"),
        "decoder_backward": ("dcontext", "dW_emb", *GRU_GRADS, "dWo", "dbo"),
    },
    # the reference decoder also does scheduled sampling and returns the tokens it fed
    adapt={"decoder_forward": lambda module: _teacher_forced(module.decoder_forward)},
)
N, S, T, E, H, VS, VT = 3, 6, 4, 7, 5, 9, 8
SOS, EOS = 1, 2
SHAPES = {"dW_emb": "(V, E)", "dWx": "(D, 3H)", "dWh": "(H, 3H)", "dbx": "(3H,)", "dbh": "(3H,)"}


def _cases(long):
    """The random case, one sequence of one token, and a long one (length ``long``)."""
    return (
        Case(sizes=dict(n=N)),
        Case("with N = 1 and one token", dict(n=1, length=1)),
        Case(f"with N = 2 and sequences of up to {long} tokens", dict(n=2, length=long)),
    )


def _lengths(rng, n, longest):
    """n lengths in [1, longest], one of them ``longest`` (the others padded)."""
    lengths = rng.integers(1, longest + 1, size=n)
    lengths[rng.integers(n)] = longest
    return lengths


def _padded(rng, lengths, V, width):
    """ids (n, width) with real ids in [4, V) and padding 0; mask (n, width)."""
    mask = np.arange(width) < lengths[:, None]
    return np.where(mask, rng.integers(4, V, size=(len(lengths), width)), 0), mask


def _gru(rng, D):
    return dict(
        Wx=rng.normal(size=(D, 3 * H)) * 0.5,
        Wh=rng.normal(size=(H, 3 * H)) * 0.5,
        bx=rng.normal(size=3 * H) * 0.3,
        bh=rng.normal(size=3 * H) * 0.3,
    )


def embedding_inputs(rng, n, length=T, repeated=False):
    """ids (n, length) (only 4 distinct ids when ``repeated``), W (Vt, E), dout (n, length, E)."""
    ids = rng.integers(0, 4 if repeated else VT, size=(n, length))
    return dict(ids=ids, W=rng.normal(size=(VT, E)), dout=rng.normal(size=(n, length, E)))


def loss_inputs(rng, n, length=T, scale=1.0, padded_row=False):
    """logits (n, length, Vt) * scale, targets (n, length) (ids on padding too: a trap), mask;
    ``padded_row``: one row has no real token (the contract allows it while others have some)."""
    lengths = _lengths(rng, n, length)
    if padded_row:
        lengths[np.argmin(lengths)] = 0
    return dict(
        logits=rng.normal(size=(n, length, VT)) * scale,
        targets=rng.integers(0, VT, size=(n, length)),
        mask=np.arange(length) < lengths[:, None],
    )


def shift_inputs(rng, n, length=T):
    return dict(targets=[rng.integers(4, VT, size=k) for k in _lengths(rng, n, length)])


def encoder_inputs(rng, n, length=S):
    src, mask = _padded(rng, _lengths(rng, n, length), VS, length)
    p = dict(src=src, src_mask=mask, W_emb=rng.normal(size=(VS, E)), **_gru(rng, E))
    p["denc"], p["dcontext"] = rng.normal(size=(n, length, H)), rng.normal(size=(n, H))
    return p


def decoder_inputs(rng, n, length=T):
    y_in, _ = _padded(rng, _lengths(rng, n, length), VT, length)
    y_in[:, 0] = SOS
    p = dict(y_in=y_in, context=rng.normal(size=(n, H)), W_emb=rng.normal(size=(VT, E)))
    p |= _gru(rng, E + H)
    p |= dict(Wo=rng.normal(size=(2 * H, VT)) * 0.5, bo=rng.normal(size=VT) * 0.3)
    p["dlogits"] = rng.normal(size=(n, length, VT))
    return p


def _embed(F, p):
    return F.embedding_forward(p["ids"], p["W"])


def _encode(F, p):
    return F.encoder_forward(p["src"], p["src_mask"], p["W_emb"], *_gru_of(p))


def _decode(F, p):
    return F.decoder_forward(p["y_in"], p["context"], p["W_emb"], *_gru_of(p), p["Wo"], p["bo"])


def _gru_of(p):
    return p["Wx"], p["Wh"], p["bx"], p["bh"]


@SPEC.test(
    points=1,
    function="embedding_forward",
    inputs=embedding_inputs,
    cases=_cases(24),
    outputs={"out": "(N, T, E)"},
)
def embedding_forward_matches(F, p):
    """out[n, t] is row ids[n, t] of W"""
    return _embed(F, p)[:1]


@SPEC.test(
    points=2,
    function="embedding_backward",
    inputs=lambda rng, **sizes: embedding_inputs(rng, repeated=True, **sizes),
    cases=_cases(24),
    outputs={"dW": "(V, E)"},
)
def embedding_backward_matches(F, p):
    """dW adds the gradient of every use of a token, repeated tokens included"""
    return (F.embedding_backward(p["dout"], _embed(F, p)[1]),)


@SPEC.test(
    points=3,
    function="softmax_cross_entropy",
    inputs=loss_inputs,
    cases=(
        *_cases(24)[:2],
        Case("with T = 24 and a row without real tokens", dict(n=N, length=24, padded_row=True)),
    ),
    outputs={"loss": "(a float)", "dlogits": "(N, T, V)"},
)
def loss_matches(F, p):
    """loss and dlogits equal the mean over real tokens of -log softmax"""
    return F.softmax_cross_entropy(p["logits"], p["targets"], p["mask"])


@EXERCISE.test(points=1, function="softmax_cross_entropy")
def loss_is_stable(learner):
    """huge logits (1e4) give a finite loss"""
    p = loss_inputs(test_rng(), N, scale=1e4)
    with np.errstate(all="ignore"):
        result = learner.softmax_cross_entropy(p["logits"], p["targets"], p["mask"])
    loss, dlogits = unpack(result, "softmax_cross_entropy", ("loss", "dlogits"))
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(dlogits))):
        raise Feedback(f"with logits of size 1e4 the result is inf or NaN: {NO_MAX}")
    want = SPEC.reference.softmax_cross_entropy(p["logits"], p["targets"], p["mask"])[0]
    check_array("loss", loss, want, rtol=1e-5)


@SPEC.test(
    points=2,
    function="shift_for_decoder",
    inputs=shift_inputs,
    cases=_cases(21),
    outputs={name: "(N, max len + 1)" for name in ("dec_in", "dec_out", "mask")},
    integers=("dec_in", "dec_out"),
)
def shift_matches(F, p):
    """decoder inputs are SOS + y, targets y + EOS, with a mask"""
    return F.shift_for_decoder(p["targets"], SOS, EOS)


@SPEC.test(
    points=2,
    function="encoder_forward",
    inputs=encoder_inputs,
    cases=_cases(22),
    outputs={"enc": "(N, S, H)", "context": "(N, H)"},
)
def encoder_forward_matches(F, p):
    """every state and the context (the state at each source's last real token)"""
    return _encode(F, p)[:2]


@SPEC.test(
    points=3,
    function="encoder_backward",
    inputs=encoder_inputs,
    cases=_cases(22),
    outputs={"dW_emb": "(V, E)"} | {name: SHAPES[name] for name in GRU_GRADS},
)
def encoder_backward_matches(F, p):
    """gradients of the embedding table and the GRU, from every state and the context"""
    return F.encoder_backward(p["denc"], p["dcontext"], _encode(F, p)[2])


@SPEC.test(
    points=2,
    function="decoder_forward",
    inputs=decoder_inputs,
    cases=_cases(21),
    outputs={"logits": "(N, T, V)"},
)
def decoder_forward_matches(F, p):
    """teacher-forced logits from the context, shape (N, T, V)"""
    return _decode(F, p)[:1]


@SPEC.test(
    points=3,
    function="decoder_backward",
    inputs=decoder_inputs,
    cases=_cases(21),
    outputs={"dcontext": "(N, H)", "dW_emb": "(V, E)"}
    | {name: SHAPES[name] for name in GRU_GRADS}
    | {"dWo": "(2H, V)", "dbo": "(V,)"},
)
def decoder_backward_matches(F, p):
    """every gradient, the context's three uses (inputs, outputs, s_0) included"""
    return F.decoder_backward(p["dlogits"], _decode(F, p)[1])


# The catalogue: each patch goes into solutions/ex03_encdec.ipynb by the mutation suite
# (tests/test_grading_mistakes.py) and, where the reference has the solution's code, into the
# reference to simulate the mistake; elsewhere ``simulate`` computes it from the reference (whose
# loss, batching and encoder also validate their inputs and keep float32: not the solution's
# code). The book's appendix "Feedback catalogue" lists them.


def _plain_loss(masked=True, denominator="real", grad_masked=True, divided=True):
    """softmax_cross_entropy as a mistake computes it (``denominator``: "real" or "all")."""

    def loss(logits, targets, mask):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
        grad = np.exp(logp) - np.eye(logits.shape[-1])[targets]
        if not masked:
            return nll.mean(), grad / mask.size
        n = mask.sum() if denominator == "real" else mask.size
        grad = grad * mask[..., None] if grad_masked else grad
        return nll[mask].sum() / n, grad / n if divided else grad

    return lambda F: {"softmax_cross_entropy": loss}


NO_MAX = "np.exp overflows. Subtract each row's maximum from the logits first (it cancels out)."
SPEC.mistake(
    "loss not masked",
    "softmax_cross_entropy",
    {
        "loss = -(picked * mask).sum() / n_real": "loss = -picked.mean()",
        "dlogits = (np.exp(logp) - one_hot) * mask[..., None] / n_real": (
            "dlogits = (np.exp(logp) - one_hot) / mask.size"
        ),
    },
    "the loss is not masked: padded positions count as targets. Average -log p only over the "
    "positions where mask is True.",
    simulate=_plain_loss(masked=False),
)
SPEC.mistake(
    "mean over all positions instead of real tokens",
    "softmax_cross_entropy",
    {"n_real = mask.sum()": "n_real = mask.size"},
    "the sum over real tokens is divided by N * T (all positions) instead of by the number of "
    "real tokens, mask.sum().",
    simulate=_plain_loss(denominator="all"),
)
SPEC.mistake(
    "padded positions get a gradient",
    "softmax_cross_entropy",
    {"(np.exp(logp) - one_hot) * mask[..., None] / n_real": "(np.exp(logp) - one_hot) / n_real"},
    "padded positions get a gradient: multiply dlogits by the mask.",
    simulate=_plain_loss(grad_masked=False),
)
SPEC.mistake(
    "dlogits not divided by the number of real tokens",
    "softmax_cross_entropy",
    {"* mask[..., None] / n_real": "* mask[..., None]"},
    "dlogits is not divided by the number of real tokens.",
    simulate=_plain_loss(divided=False),
)
SPEC.mistake(
    "no max subtraction",
    "softmax_cross_entropy",
    {"shifted = logits - logits.max(axis=-1, keepdims=True)": "shifted = logits"},
    NO_MAX,
    simulate=lambda F: {"softmax_cross_entropy": _unstable_loss},
)


def _unstable_loss(logits, targets, mask):
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    grad = np.exp(logp) - np.eye(logits.shape[-1])[targets]
    return -(picked * mask).sum() / mask.sum(), grad * mask[..., None] / mask.sum()


def _shifted(change):
    """shift_for_decoder whose (dec_in, dec_out, mask) ``change`` alters."""
    return lambda F: {"shift_for_decoder": lambda *args: change(*F.shift_for_decoder(*args))}


SPEC.mistake(
    "decoder inputs and targets not shifted by one",
    "shift_for_decoder",
    {"dec_in[n, : len(y) + 1] = [sos_id, *y]": "dec_in[n, : len(y) + 1] = [*y, eos_id]"},
    "decoder inputs and targets are not shifted by one: the decoder reads SOS + y and must "
    "predict y + EOS, so the target at step t is the input at step t + 1.",
    simulate=_shifted(lambda dec_in, dec_out, mask: (dec_out, dec_out, mask)),
)
SPEC.mistake(
    "the mask leaves out EOS",
    "shift_for_decoder",
    {"mask[n, : len(y) + 1] = True": "mask[n, : len(y)] = True"},
    "the mask leaves out the EOS position: it is a real target too.",
    simulate=_shifted(lambda dec_in, dec_out, mask: (dec_in, dec_out, mask & (dec_out != EOS))),
)
SPEC.mistake(
    "W indexed by column",
    "embedding_forward",
    {"out = W[ids]": "out = W.T[ids % W.shape[1]]"},
    "W is indexed by column: the rows of W are the embeddings, W[ids].",
)
SPEC.mistake(
    "repeated tokens keep one gradient",
    "embedding_backward",
    {"np.add.at(dW, ids, dout)": "dW[ids] = dout"},
    "a repeated token keeps only its last gradient (dW[ids] = dout): add them all, with "
    "np.add.at(dW, ids, dout).",
)


def _context_after_padding(F):
    def encoder_forward(*args):
        enc, _, cache = F.encoder_forward(*args)
        return enc, enc[:, -1], cache

    return {"encoder_forward": encoder_forward}


SPEC.mistake(
    "context read after the padding",
    "encoder_forward",
    {"context = enc[np.arange(src.shape[0]), last]": "context = enc[:, -1]"},
    "the context is read after the padding (enc[:, -1]): take each sequence's state at its "
    "last real token, enc[n, length_n - 1].",
    simulate=_context_after_padding,
)


def _dcontext(at_end):
    """encoder_backward adding dcontext at the last position (or not at all)."""

    def simulate(F):
        def encoder_backward(denc, dcontext, cache):
            denc = denc.copy()
            if at_end:
                denc[:, -1] += dcontext
            return F.encoder_backward(denc, np.zeros_like(dcontext), cache)

        return {"encoder_backward": encoder_backward}

    return simulate


SPEC.mistake(
    "dcontext at the last position",
    "encoder_backward",
    {"dh[np.arange(dh.shape[0]), last] += dcontext": "dh[:, -1] += dcontext"},
    "dcontext is added at the last position, not at each sequence's last real token.",
    simulate=_dcontext(at_end=True),
)
SPEC.mistake(
    "dcontext ignored",
    "encoder_backward",
    {"    dh[np.arange(dh.shape[0]), last] += dcontext\n": ""},
    "dcontext is ignored: add it to the gradient of the state it was read from.",
    simulate=_dcontext(at_end=False),
)
SPEC.mistake(
    "decoder starts from zeros",
    "decoder_forward",
    {"steps, s = [], context": "steps, s = [], np.zeros_like(context)"},
    "the decoder starts from zeros: its initial state s_0 is the context.",
)
USES = (
    "the context is used three times (each step's input, each step's output layer, and as s_0), "
    "and its gradient is the sum over all uses."
)
SPEC.mistake(
    "dcontext misses s_0",
    "decoder_backward",
    {"    dcontext += ds_next": "    dcontext += 0 * ds_next"},
    f"dcontext misses its use as the initial state s_0: {USES}",
)
SPEC.mistake(
    "dcontext misses the outputs",
    "decoder_backward",
    {"dcontext += do[:, H:] + dx[:, E:]": "dcontext += dx[:, E:]"},
    f"dcontext misses its use in each output: {USES}",
)
SPEC.mistake(
    "dcontext misses the inputs",
    "decoder_backward",
    {"dcontext += do[:, H:] + dx[:, E:]": "dcontext += do[:, H:]"},
    f"dcontext misses its use in each input: {USES}",
)
