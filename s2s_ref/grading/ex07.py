"""Graded tests of exercise ex07: masked softmax, batched general attention and a fused Luong
decoder in PyTorch, compared with the reference (shapes, masks, gradients) and trained briefly.

The reference attention is loaded privately; the reference decoder is rebuilt here from it and
``torch.nn`` layers carrying the learner's own weights, so that only the learner's wiring differs.
Book: chapter 7; notebook: ex07_torch_attention.ipynb.
"""

import numpy as np
import torch
import torch.nn.functional as F

from s2s_ref.grading.ex07_training import (
    TRAIN_TARGET,
    WithEncoder,
    reversal,
    teacher_forced_accuracy,
)
from s2s_ref.grading.feedback import Feedback, call_learner, check_array
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex07",
    title="Attention in PyTorch",
    notebook="ex07_torch_attention.ipynb",
    functions=("batched_masked_softmax", "general_attention", "LuongDecoder"),
    hidden_modules=(
        "s2s_ref.torch_nn.attention",
        "s2s_ref.torch_nn.attention_decoder",
        "s2s_ref.torch_nn.attention_seq2seq",
    ),
    in_worker=True,
)
ref = load_private("s2s_ref.torch_nn.attention")
N, T, S, Hq, Hk, Hv = 3, 4, 6, 5, 7, 2
V, E, H, C = 11, 8, 9, 10
LENGTHS = (S, 3, 1)  # the third source has a single real key


def _mask(lengths=LENGTHS, S=S):
    return torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]


def _np(what, t):
    if not isinstance(t, torch.Tensor):
        raise Feedback(f"{what} should be a torch.Tensor, got {type(t).__name__}.")
    return t.detach().double().numpy()


def _pair(result, func, names):
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise Feedback(f"`{func}` should return a tuple ({', '.join(names)}), got {got}.")
    return result


def _softmax_mistakes(scores, mask):
    m = mask[:, None, :]
    return {
        "the mask is ignored: padded keys get weight. Fill their scores with -inf first.": lambda: (
            torch.softmax(scores, -1)
        ),
        "padded scores are set to 0, not -inf: exp(0) = 1 still gives them weight.": lambda: (
            torch.softmax(scores.masked_fill(~m, 0.0), -1)
        ),
        "the weights are zeroed after the softmax without renormalising: rows no longer sum "
        "to 1. Mask the scores before the softmax.": lambda: torch.softmax(scores, -1) * m,
        "the softmax runs over the wrong axis: normalise over the keys (the last axis).": lambda: (
            torch.softmax(scores.masked_fill(~m, -float("inf")), 1)
        ),
        "the mask is inverted: True means a real key.": lambda: torch.softmax(
            scores.masked_fill(m, -float("inf")), -1
        ),
    }


@EXERCISE.test(points=2, function="batched_masked_softmax")
def softmax_matches_reference(learner):
    """weights equal the reference; padded keys get exactly 0"""
    g = torch.Generator().manual_seed(int(test_rng().integers(2**31)))
    scores = torch.randn(N, T, S, dtype=torch.float64, generator=g) * 3
    mask = _mask()
    got = _np("weights", learner.batched_masked_softmax(scores.clone(), mask))
    if got.shape == (N, T, S) and np.allclose(np.nansum(got, axis=1)[mask.numpy()], 1):
        raise Feedback("the softmax runs over the wrong axis (the queries): normalise over the "
                       "keys, the last axis, dim=-1.")  # fmt: skip
    check_array("weights", got, ref.masked_softmax(scores, mask), shape_hint="(N, T, S)",
                mistakes=_softmax_mistakes(scores, mask))  # fmt: skip
    if np.any(got[~np.broadcast_to(mask[:, None, :].numpy(), got.shape)] != 0):
        raise Feedback("padded keys must get exactly 0 weight (use -inf, not a large negative).")


def _attention_inputs(g):
    q = torch.randn(N, T, Hq, dtype=torch.float64, generator=g)
    k = torch.randn(N, S, Hk, dtype=torch.float64, generator=g)
    v = torch.randn(N, S, Hv, dtype=torch.float64, generator=g)
    W = torch.randn(Hq, Hk, dtype=torch.float64, generator=g) * 0.5
    return q, k, v, _mask(), W


def _reference_attention(q, k, v, mask, W):
    return ref.masked_softmax(torch.bmm(q @ W, k.transpose(1, 2)), mask)


@EXERCISE.test(points=3, function="general_attention")
def attention_matches_reference(learner):
    """context (N, T, Hv) and weights (N, T, S) equal the reference, padding included"""
    g = torch.Generator().manual_seed(int(test_rng().integers(2**31)))
    q, k, v, mask, W = _attention_inputs(g)
    ctx, w = _pair(learner.general_attention(q, k, v, mask, W), "general_attention",
                   ("context", "weights"))  # fmt: skip
    w_ref = _reference_attention(q, k, v, mask, W)
    if isinstance(ctx, torch.Tensor) and tuple(ctx.shape) == (N, T, Hk):
        raise Feedback(
            f"context has shape {tuple(ctx.shape)} = (N, T, Hk): it averages the keys k; it "
            f"must average the values v, (N, T, Hv) = ({N}, {T}, {Hv})."
        )
    check_array("weights", _np("weights", w), w_ref, shape_hint="(N, T, S)", mistakes={
        "the mask is ignored: padded keys get weight.": lambda: torch.softmax(
            torch.bmm(q @ W, k.transpose(1, 2)), -1),
    })  # fmt: skip
    check_array("context", _np("context", ctx), torch.bmm(w_ref, v), shape_hint="(N, T, Hv)",
                mistakes={"the context averages the keys k; it must average the values v.":
                          lambda: torch.bmm(w_ref, k)})  # fmt: skip


@EXERCISE.test(points=2, function="general_attention")
def attention_gradients_match_reference(learner):
    """gradients with respect to q, k, v and W equal the reference's (autograd on both)"""
    g = torch.Generator().manual_seed(int(test_rng().integers(2**31)))
    inputs = _attention_inputs(g)
    dctx = torch.randn(N, T, Hv, dtype=torch.float64, generator=g)
    grads = []
    for fn in (learner.general_attention, None):
        leaves = [x.clone().requires_grad_() if x.dtype != torch.bool else x for x in inputs]
        if fn is None:
            ctx = torch.bmm(_reference_attention(*leaves), leaves[2])
        else:
            ctx = _pair(fn(*leaves), "general_attention", ("context", "weights"))[0]
            if not isinstance(ctx, torch.Tensor) or not ctx.requires_grad:
                raise Feedback("context does not depend on the inputs through autograd: use "
                               "torch operations only (no .numpy(), no .detach()).")  # fmt: skip
        ctx.backward(dctx)
        grads.append([x.grad for i, x in enumerate(leaves) if i != 3])
    for name, got, want, shape in zip(("dq", "dk", "dv", "dW"), grads[0], grads[1],
                                      ("(N, T, Hq)", "(N, S, Hk)", "(N, S, Hv)", "(Hq, Hk)"),
                                      strict=True):  # fmt: skip
        if got is None:
            raise Feedback(f"{name} is None: {name[1:]} does not reach the context.")
        check_array(name, _np(name, got), want, shape_hint=shape)


def _decoder(learner, g):
    """The learner's decoder with random weights, in float64, and its checked parts."""
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
    dec = call_learner("LuongDecoder", learner.LuongDecoder, V, E, H, C)
    parts = {"embedding": torch.nn.Embedding, "rnn": torch.nn.GRU, "combine": torch.nn.Linear,
             "out": torch.nn.Linear}  # fmt: skip
    for name, cls in parts.items():
        if not isinstance(getattr(dec, name, None), cls):
            raise Feedback(f"LuongDecoder needs an attribute `{name}` that is a {cls.__name__}.")
    if not isinstance(getattr(dec, "W", None), torch.nn.Parameter) or dec.W.shape != (H, C):
        raise Feedback(f"LuongDecoder needs a parameter `W` of shape (H, C) = ({H}, {C}).")
    return dec.double()


def _reference_decoder(dec, tgt_in, enc, mask, h0, variant=None):
    """The reference Luong decoder computed with the learner's weights (and known mistakes)."""
    s, _ = dec.rnn(F.embedding(tgt_in, dec.embedding.weight), h0)  # the learner's own nn.GRU
    if variant == "previous state":
        s = torch.cat([h0.transpose(0, 1), s[:, :-1]], dim=1)
    w = ref.masked_softmax(torch.bmm(s @ dec.W, enc.transpose(1, 2)), mask)
    c = torch.bmm(w, enc)
    sc = torch.cat([c, s], -1) if variant == "order" else torch.cat([s, c], -1)
    o = F.linear(sc, dec.combine.weight)
    o = o if variant == "no tanh" else torch.tanh(o)
    return dec.out(o), w


def _decoder_inputs(g):
    tgt_in = torch.randint(0, V, (N, T), generator=g)
    enc = torch.randn(N, S, C, dtype=torch.float64, generator=g)
    h0 = torch.randn(1, N, H, dtype=torch.float64, generator=g) * 0.5
    return tgt_in, enc, _mask(), h0


DECODER_MISTAKES = {
    "previous state": "attention uses the state before the step (that is Bahdanau's query); "
    "Luong attends with the new state s_t.",
    "order": "the concatenation is [c_t; s_t]; it must be [s_t; c_t].",
    "no tanh": "the combined layer misses its tanh: o_t = tanh([s_t; c_t] Wc).",
}


@EXERCISE.test(points=3, function="LuongDecoder")
def decoder_matches_reference(learner):
    """logits (N, T, V) and weights (N, T, S) equal the reference with your weights"""
    g = torch.Generator().manual_seed(int(test_rng().integers(2**31)))
    dec = _decoder(learner, g)
    args = _decoder_inputs(g)
    logits, w = _pair(call_learner("LuongDecoder.forward", dec, *args), "LuongDecoder.forward",
                      ("logits", "weights"))  # fmt: skip
    with torch.no_grad():
        want_logits, want_w = _reference_decoder(dec, *args)
        variants = {text: _reference_decoder(dec, *args, variant=v)
                    for v, text in DECODER_MISTAKES.items()}  # fmt: skip
    check_array("weights", _np("weights", w), want_w, shape_hint="(N, T, S)",
                mistakes={t: (lambda r=r: r[1]) for t, r in variants.items()})  # fmt: skip
    check_array("logits", _np("logits", logits), want_logits, shape_hint="(N, T, V)",
                mistakes={t: (lambda r=r: r[0]) for t, r in variants.items()})  # fmt: skip


@EXERCISE.test(points=2, function="LuongDecoder")
def decoder_gradients_and_padding(learner):
    """gradients equal the reference's; padded encoder states get no gradient and change nothing"""
    g = torch.Generator().manual_seed(int(test_rng().integers(2**31)))
    dec = _decoder(learner, g)
    tgt_in, enc, mask, h0 = _decoder_inputs(g)
    dlogits = torch.randn(N, T, V, dtype=torch.float64, generator=g)
    grads = []
    for use_reference in (False, True):
        dec.zero_grad()
        leaf = enc.clone().requires_grad_()
        if use_reference:
            logits = _reference_decoder(dec, tgt_in, leaf, mask, h0)[0]
        else:
            logits = _pair(call_learner("LuongDecoder.forward", dec, tgt_in, leaf, mask, h0),
                           "LuongDecoder.forward", ("logits", "weights"))[0]  # fmt: skip
        logits.backward(dlogits)
        params = {n: p.grad.clone() for n, p in dec.named_parameters() if p.grad is not None}
        grads.append((leaf.grad, params))
    (denc, ours), (denc_ref, theirs) = grads
    if denc is None:
        raise Feedback("the encoder states get no gradient: the context must come from enc.")
    check_array("d enc", _np("d enc", denc), denc_ref, shape_hint="(N, S, C)")
    for name, want in theirs.items():
        if name not in ours:
            raise Feedback(f"parameter `{name}` gets no gradient: is it used in forward?")
        check_array(f"d {name}", _np(name, ours[name]), want)
    garbage = enc.masked_fill(~mask[:, :, None], 1e3)
    changed = call_learner("LuongDecoder.forward", dec, tgt_in, garbage, mask, h0)[0]
    with torch.no_grad():
        original = dec(tgt_in, enc, mask, h0)[0]
    if not torch.allclose(changed, original, atol=1e-9):
        raise Feedback("changing encoder states behind the mask changes the logits: padded keys "
                       "must get exactly 0 weight.")  # fmt: skip


@EXERCISE.test(points=3, function="LuongDecoder")
def decoder_learns_reversal(learner):
    """trained on reversal for at most 200 steps, it predicts >= 90 % of held-out tokens"""
    from s2s_ref.torch_nn.training import TrainConfig, train

    torch.manual_seed(0)
    Hd = 32
    decoder = call_learner("LuongDecoder", learner.LuongDecoder, 3 + 6, 16, Hd, Hd)
    model = WithEncoder(decoder, 3 + 6, 16, Hd)
    test = reversal(300, seed=2)
    config = TrainConfig(lr=2e-2, batch_size=64, max_steps=200, warmup_steps=10, seed=0,
                         eval_every=25, target=TRAIN_TARGET, device="cpu", cpu_threads=1,
                         progress=False)  # fmt: skip
    result = call_learner("training with your LuongDecoder", train, model, reversal(1024, seed=1),
                          config, lambda m: teacher_forced_accuracy(m, test))  # fmt: skip
    if result.best_metric < TRAIN_TARGET:
        raise Feedback(f"after {result.step} training steps your decoder predicts "
                       f"{result.best_metric:.1%} of held-out tokens; the reference reaches "
                       f"{TRAIN_TARGET:.0%} in about 100.")  # fmt: skip


EXERCISE.mistakes += [
    Mistake(
        "mask ignored",
        "batched_masked_softmax",
        {'scores.masked_fill(~mask[:, None, :], float("-inf"))': "scores"},
        "the mask is ignored",
    ),
    Mistake(
        "padded scores set to 0",
        "batched_masked_softmax",
        {'float("-inf"))': "0.0)"},
        "padded scores are set to 0, not -inf",
    ),
    Mistake(
        "softmax over the wrong axis",
        "batched_masked_softmax",
        {"weights = torch.softmax(scores, dim=-1)": "weights = torch.softmax(scores, dim=1)"},
        "softmax runs over the wrong axis",
    ),
    Mistake(
        "context from the keys",
        "general_attention",
        {"context = torch.bmm(weights, v)": "context = torch.bmm(weights, k)"},
        "averages the keys k",
    ),
    Mistake(
        "attention weights detached",
        "general_attention",
        {"context = torch.bmm(weights, v)": "context = torch.bmm(weights.detach(), v)"},
        "does not reach the context",
    ),
    Mistake(
        "Luong attends with the previous state",
        "LuongDecoder",
        {
            "context, weights = general_attention(s, enc, enc, mask, self.W)": (
                "context, weights = general_attention("
                "torch.cat([h0.transpose(0, 1), s[:, :-1]], 1), enc, enc, mask, self.W)"
            )
        },
        "state before the step",
    ),
    Mistake(
        "combined layer without tanh",
        "LuongDecoder",
        {
            "o = torch.tanh(self.combine(torch.cat([s, context], dim=-1)))": (
                "o = self.combine(torch.cat([s, context], dim=-1))"
            )
        },
        "misses its tanh",
    ),
    Mistake(
        "concatenation in the wrong order",
        "LuongDecoder",
        {"torch.cat([s, context], dim=-1)": "torch.cat([context, s], dim=-1)"},
        "concatenation is [c_t; s_t]",
    ),
]
