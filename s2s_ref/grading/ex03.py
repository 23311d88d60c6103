"""Graded tests of exercise ex03: embedding, masked loss, decoder shifting, encoder, decoder.

Fresh random inputs of distinct sizes on every run (N, S, T, E, H, Vs, Vt all different), compared
with the reference; known mistakes (unmasked loss, mean over all positions, unshifted decoder
inputs, context read after the padding, ...) are named in the feedback.
Book: chapter 3; notebook: ex03_encdec.ipynb.
"""

import sys

import numpy as np

from s2s_ref.grading.feedback import Feedback, Findings, check_array, forward_for_cache, unpack
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex03",
    title="The encoder-decoder: embeddings, masked loss, encoder and decoder",
    notebook="ex03_encdec.ipynb",
    functions=(
        "embedding_forward", "embedding_backward", "softmax_cross_entropy", "shift_for_decoder",
        "encoder_forward", "encoder_backward", "decoder_forward", "decoder_backward",
    ),
    hidden_modules=(
        "s2s_ref.numpy_nn.embedding", "s2s_ref.numpy_nn.loss", "s2s_ref.data.batching",
        "s2s_ref.numpy_nn.encoder", "s2s_ref.numpy_nn.decoder", "s2s_ref.numpy_nn.seq2seq",
        "s2s_ref.numpy_nn.training", "s2s_ref.torch_nn.loss",
    ),
)  # fmt: skip
N, S, T, E, H, VS, VT = 3, 6, 4, 7, 5, 9, 8
SOS, EOS = 1, 2


def _load_references():
    emb = load_private("s2s_ref.numpy_nn.embedding")
    # encoder.py imports the embedding by its public name, which must stay unimported while a
    # notebook is graded (the worker refuses to start otherwise): the private copy stands in
    public = "s2s_ref.numpy_nn.embedding"
    stand_in = public not in sys.modules
    if stand_in:
        sys.modules[public] = emb
    try:
        enc = load_private("s2s_ref.numpy_nn.encoder")
        dec = load_private("s2s_ref.numpy_nn.decoder")
    finally:
        if stand_in:
            del sys.modules[public]
    return (
        emb,
        load_private("s2s_ref.numpy_nn.loss"),
        load_private("s2s_ref.data.batching"),
        enc,
        dec,
    )


emb_ref, loss_ref, batching_ref, enc_ref, dec_ref = _load_references()


def _lengths(rng, n, longest):
    """n lengths in [1, longest]: one fills the array, the others are padded (n >= 2)."""
    lengths = rng.integers(1, longest, size=n)
    lengths[rng.integers(n)] = longest
    return lengths


def _padded(rng, lengths, V, width):
    """ids (n, width) with real ids in [4, V) and padding 0; mask (n, width)."""
    mask = np.arange(width) < lengths[:, None]
    return np.where(mask, rng.integers(4, V, size=(len(lengths), width)), 0), mask


def _gru(rng, D):
    return [rng.normal(size=(D, 3 * H)) * 0.5, rng.normal(size=(H, 3 * H)) * 0.5,
            rng.normal(size=3 * H) * 0.3, rng.normal(size=3 * H) * 0.3]  # fmt: skip


def _encoder_args(rng):
    src, mask = _padded(rng, _lengths(rng, N, S), VS, S)
    return [src, mask, rng.normal(size=(VS, E)), *_gru(rng, E)]


def _decoder_args(rng):
    y_in, _ = _padded(rng, _lengths(rng, N, T), VT, T)
    y_in[:, 0] = SOS
    return [y_in, rng.normal(size=(N, H)), rng.normal(size=(VT, E)), *_gru(rng, E + H),
            rng.normal(size=(2 * H, VT)) * 0.5, rng.normal(size=VT) * 0.3]  # fmt: skip


@EXERCISE.test(points=1, function="embedding_forward")
def embedding_forward_matches(learner):
    """out[n, t] is row ids[n, t] of W"""
    rng = test_rng()
    ids, W = rng.integers(0, VT, size=(N, T)), rng.normal(size=(VT, E))
    out = unpack(learner.embedding_forward(ids, W), "embedding_forward", ("out", "cache"))[0]
    check_array("out", out, W[ids], shape_hint="(N, T, E)",
                mistakes={"W is indexed by column: the rows of W are the embeddings, W[ids].":
                          lambda: W.T[ids % E]})  # fmt: skip


@EXERCISE.test(points=2, function="embedding_backward")
def embedding_backward_matches(learner):
    """dW adds the gradient of every use of a token, repeated tokens included"""
    rng = test_rng()
    ids, W = rng.integers(0, 4, size=(N, T)), rng.normal(size=(VT, E))  # ids repeat for sure
    dout = rng.normal(size=(N, T, E))
    cache = forward_for_cache(learner.embedding_forward, ("out", "cache"), ids, W)[-1]
    dW = learner.embedding_backward(dout, cache)
    expected = emb_ref.embedding_backward(dout, emb_ref.embedding_forward(ids, W)[1])

    def last_wins():
        wrong = np.zeros_like(W)
        wrong[ids] = dout
        return wrong

    check_array("dW", dW, expected, shape_hint="(V, E)", mistakes={
        "a repeated token keeps only its last gradient (dW[ids] = dout): add them all, with "
        "np.add.at(dW, ids, dout).": last_wins})  # fmt: skip


def _loss_inputs(rng, scale=1.0):
    lengths = _lengths(rng, N, T)
    mask = np.arange(T) < lengths[:, None]
    targets = rng.integers(0, VT, size=(N, T))  # padded positions hold ids too: a trap
    return rng.normal(size=(N, T, VT)) * scale, targets, mask


def _loss_mistakes(logits, targets, mask):
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    grad = np.exp(logp) - np.eye(logits.shape[-1])[targets]
    n_real = mask.sum()
    return {
        "loss": {
            LOSS_NOT_MASKED: lambda: nll.mean(),
            MEAN_OVER_ALL: lambda: nll[mask].sum() / mask.size,
        },
        "dlogits": {
            LOSS_NOT_MASKED: lambda: grad / mask.size,
            MEAN_OVER_ALL: lambda: grad * mask[..., None] / mask.size,
            "padded positions get a gradient: multiply dlogits by the mask.": lambda: grad / n_real,
            "dlogits is not divided by the number of real tokens.": lambda: grad * mask[..., None],
        },
    }


LOSS_NOT_MASKED = (
    "the loss is not masked: padded positions count as targets. Average -log p only over the "
    "positions where mask is True."
)
MEAN_OVER_ALL = (
    "the sum over real tokens is divided by N * T (all positions) instead of by the number of "
    "real tokens, mask.sum()."
)


@EXERCISE.test(points=3, function="softmax_cross_entropy")
def loss_matches(learner):
    """loss and dlogits equal the mean over real tokens of -log softmax"""
    logits, targets, mask = _loss_inputs(test_rng())
    result = learner.softmax_cross_entropy(logits, targets, mask)
    loss, dlogits = unpack(result, "softmax_cross_entropy", ("loss", "dlogits"))
    want_loss, want_d = loss_ref.softmax_cross_entropy(logits, targets, mask)
    mistakes = _loss_mistakes(logits, targets, mask)
    check_array("loss", loss, want_loss, shape_hint="(a float)", mistakes=mistakes["loss"])
    check_array("dlogits", dlogits, want_d, shape_hint="(N, T, V)", mistakes=mistakes["dlogits"])


@EXERCISE.test(points=1, function="softmax_cross_entropy")
def loss_is_stable(learner):
    """huge logits (1e4) give a finite loss"""
    logits, targets, mask = _loss_inputs(test_rng(), scale=1e4)
    with np.errstate(all="ignore"):
        result = learner.softmax_cross_entropy(logits, targets, mask)
    loss, dlogits = unpack(result, "softmax_cross_entropy", ("loss", "dlogits"))
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(dlogits))):
        raise Feedback(
            "with logits of size 1e4 the result is inf or NaN: np.exp overflows. "
            "Subtract each row's maximum from the logits first (it cancels out)."
        )
    want = loss_ref.softmax_cross_entropy(logits, targets, mask)[0]
    mistakes = _loss_mistakes(logits, targets, mask)["loss"]
    check_array("loss", loss, want, rtol=1e-5, mistakes=mistakes)


@EXERCISE.test(points=2, function="shift_for_decoder")
def shift_matches(learner):
    """decoder inputs are SOS + y, targets y + EOS, with a mask"""
    rng = test_rng()
    targets = [rng.integers(4, VT, size=k) for k in _lengths(rng, N, T)]
    result = learner.shift_for_decoder(targets, SOS, EOS)
    dec_in, dec_out, mask = unpack(result, "shift_for_decoder", ("dec_in", "dec_out", "mask"))
    want_in, want_out, want_mask = batching_ref.shift_for_decoder(targets, SOS, EOS)
    unshifted = (
        "decoder inputs and targets are not shifted by one: the decoder reads SOS + y and must "
        "predict y + EOS, so the target at step t is the input at step t + 1."
    )
    check_array("dec_in", dec_in, want_in, shape_hint="(N, max len + 1)",
                mistakes={unshifted: lambda: want_out})  # fmt: skip
    check_array("dec_out", dec_out, want_out, shape_hint="(N, max len + 1)",
                mistakes={unshifted: lambda: want_in})  # fmt: skip
    check_array("mask", np.asarray(mask, dtype=float), want_mask, shape_hint="(N, max len + 1)",
                mistakes={"the mask leaves out the EOS position: it is a real target too.":
                          lambda: want_mask & (want_out != EOS)})  # fmt: skip


@EXERCISE.test(points=2, function="encoder_forward")
def encoder_forward_matches(learner):
    """every state and the context (the state at each source's last real token)"""
    args = _encoder_args(test_rng())
    result = learner.encoder_forward(*args)
    enc, context, _ = unpack(result, "encoder_forward", ("enc", "context", "cache"))
    want_enc, want_context, _ = enc_ref.encoder_forward(*args)
    check_array("enc", enc, want_enc, shape_hint="(N, S, H)")
    check_array("context", context, want_context, shape_hint="(N, H)", mistakes={
        "the context is read after the padding (enc[:, -1]): take each sequence's state at its "
        "last real token, enc[n, length_n - 1].": lambda: want_enc[:, -1]})  # fmt: skip


@EXERCISE.test(points=3, function="encoder_backward")
def encoder_backward_matches(learner):
    """gradients of the embedding table and the GRU, from every state and the context"""
    rng = test_rng()
    args = _encoder_args(rng)
    cache = forward_for_cache(learner.encoder_forward, ("enc", "context", "cache"), *args)[-1]
    denc, dcontext = rng.normal(size=(N, S, H)), rng.normal(size=(N, H))
    names = ("dW_emb", "dWx", "dWh", "dbx", "dbh")
    grads = unpack(learner.encoder_backward(denc, dcontext, cache), "encoder_backward", names)
    _, _, ref_cache = enc_ref.encoder_forward(*args)
    expected = enc_ref.encoder_backward(denc, dcontext, ref_cache)
    at_end = denc.copy()
    at_end[:, -1] += dcontext
    wrong_end = enc_ref.encoder_backward(at_end, np.zeros_like(dcontext), ref_cache)
    no_context = enc_ref.encoder_backward(denc, np.zeros_like(dcontext), ref_cache)
    found = Findings()
    for i, (name, got, want) in enumerate(zip(names, grads, expected, strict=True)):
        found.check(name, got, want, shape_hint=SHAPES[name], mistakes={
            "dcontext is added at the last position, not at each sequence's last real token.":
            lambda i=i: wrong_end[i],
            "dcontext is ignored: add it to the gradient of the state it was read from.":
            lambda i=i: no_context[i]})  # fmt: skip
    found.raise_any()


SHAPES = {"dW_emb": "(V, E)", "dWx": "(D, 3H)", "dWh": "(H, 3H)", "dbx": "(3H,)", "dbh": "(3H,)",
          "dcontext": "(N, H)", "dWo": "(2H, V)", "dbo": "(V,)"}  # fmt: skip


@EXERCISE.test(points=2, function="decoder_forward")
def decoder_forward_matches(learner):
    """teacher-forced logits from the context, shape (N, T, V)"""
    args = _decoder_args(test_rng())
    logits = unpack(learner.decoder_forward(*args), "decoder_forward", ("logits", "cache"))[0]
    want, _, _ = dec_ref.decoder_forward(*args)

    def from_zero():
        # s_0 = 0 is what a forgotten initial state gives: emulate it by a step from zeros
        s, out = np.zeros((N, H)), []
        for t in range(T):
            x = np.concatenate([args[2][args[0][:, t]], args[1]], axis=1)
            s = _gru_step(x, s, *args[3:7])
            out.append(np.concatenate([s, args[1]], axis=1) @ args[7] + args[8])
        return np.stack(out, 1)

    check_array("logits", logits, want, shape_hint="(N, T, V)", mistakes={
        "the decoder starts from zeros: its initial state s_0 is the context.": from_zero,
    })  # fmt: skip


def _gru_step(x, h, Wx, Wh, bx, bh):
    a, b = x @ Wx + bx, h @ Wh + bh
    r = 1 / (1 + np.exp(-(a[:, :H] + b[:, :H])))
    z = 1 / (1 + np.exp(-(a[:, H : 2 * H] + b[:, H : 2 * H])))
    n = np.tanh(a[:, 2 * H :] + r * b[:, 2 * H :])
    return (1 - z) * n + z * h


@EXERCISE.test(points=3, function="decoder_backward")
def decoder_backward_matches(learner):
    """every gradient, the context's three uses (inputs, outputs, s_0) included"""
    rng = test_rng()
    args = _decoder_args(rng)
    cache = forward_for_cache(learner.decoder_forward, ("logits", "cache"), *args)[-1]
    dlogits = rng.normal(size=(N, T, VT))
    names = ("dcontext", "dW_emb", "dWx", "dWh", "dbx", "dbh", "dWo", "dbo")
    grads = unpack(learner.decoder_backward(dlogits, cache), "decoder_backward", names)
    _, _, ref_cache = dec_ref.decoder_forward(*args)
    expected = dec_ref.decoder_backward(dlogits, ref_cache)
    dcontext_parts = _dcontext_parts(args, dlogits)
    found = Findings()
    for name, got, want in zip(names, grads, expected, strict=True):
        mistakes = {}
        if name == "dcontext":
            mistakes = {
                f"dcontext misses its use as {part}: the context is used three times (each "
                "step's input, each step's output layer, and as s_0), and its gradient is the "
                "sum over all uses.": lambda want=want, value=value: want - value
                for part, value in dcontext_parts.items()
            }
        found.check(name, got, want, shape_hint=SHAPES.get(name, "(V, E)"), mistakes=mistakes)
    found.raise_any()


def _dcontext_parts(args, dlogits):
    """The three contributions to dcontext (through the outputs, the inputs, s_0)."""
    _, _, cache = dec_ref.decoder_forward(*args)
    steps, fed, context, _, Wo = cache
    out_part, in_part, ds = np.zeros((N, H)), np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        do = dlogits[:, t] @ Wo.T
        dx, ds, *_ = dec_ref.gru_step_backward(do[:, :H] + ds, steps[t][0])
        out_part += do[:, H:]
        in_part += dx[:, E:]
    return {"the initial state s_0": ds, "an output": out_part, "an input": in_part}


# The typical mistakes this grader names: each is put into the solution notebook by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points in the
# function(s) named, with this feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "loss not masked",
        "softmax_cross_entropy",
        {
            "loss = -(picked * mask).sum() / n_real": "loss = -picked.mean()",
            "dlogits = (np.exp(logp) - one_hot) * mask[..., None] / n_real": (
                "dlogits = (np.exp(logp) - one_hot) / mask.size"
            ),
        },
        "the loss is not masked",
    ),
    Mistake(
        "mean over all positions instead of real tokens",
        "softmax_cross_entropy",
        {
            "n_real = mask.sum()": "n_real = mask.size",
        },
        "divided by N * T (all positions)",
    ),
    Mistake(
        "no max subtraction",
        "softmax_cross_entropy",
        {
            "shifted = logits - logits.max(axis=-1, keepdims=True)": "shifted = logits",
        },
        "Subtract each row's maximum",
    ),
    Mistake(
        "decoder inputs and targets not shifted by one",
        "shift_for_decoder",
        {
            "dec_in[n, : len(y) + 1] = [sos_id, *y]": "dec_in[n, : len(y) + 1] = [*y, eos_id]",
        },
        "not shifted by one",
    ),
    Mistake(
        "repeated tokens keep one gradient",
        "embedding_backward",
        {
            "np.add.at(dW, ids, dout)": "dW[ids] = dout",
        },
        "keeps only its last gradient",
    ),
    Mistake(
        "context read after the padding",
        "encoder_forward",
        {
            "context = enc[np.arange(src.shape[0]), last]": "context = enc[:, -1]",
        },
        "the context is read after the padding",
    ),
    Mistake(
        "dcontext at the last position",
        "encoder_backward",
        {
            "dh[np.arange(dh.shape[0]), last] += dcontext": "dh[:, -1] += dcontext",
        },
        "not at each sequence's last real token",
    ),
    Mistake(
        "decoder starts from zeros",
        "decoder_forward",
        {
            "steps, s = [], context": "steps, s = [], np.zeros_like(context)",
        },
        "starts from zeros",
    ),
    Mistake(
        "dcontext misses s_0",
        "decoder_backward",
        {
            "    dcontext += ds_next\n": "\n",
        },
        "misses its use as the initial state s_0",
    ),
]
