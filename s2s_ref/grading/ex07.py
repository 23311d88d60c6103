"""Graded tests of exercise ex07: masked softmax, batched general attention and a fused Luong
decoder in PyTorch, compared with the reference (shapes, masks, gradients) and trained briefly.

The learner's code runs where the learner's code runs (``torch_remote``: the grading worker, or a
check cell's kernel) and sends back outputs and gradients as arrays. Here, on the checker's side,
the reference attention is loaded privately and the reference decoder is rebuilt from it and
``torch.nn`` layers holding the weights the learner's decoder is given, so that only the
learner's wiring differs; the training test's held-out set never leaves this process (the
learner-side loop sends its weights to be evaluated, see ``ex07_training``).
Book: chapter 7; notebook: ex07_torch_attention.ipynb.
"""

import numpy as np
import torch
import torch.nn.functional as F

from s2s_ref.grading import ex07_training
from s2s_ref.grading.ex07_training import TRAIN_TARGET, WithEncoder, reversal
from s2s_ref.grading.feedback import Feedback, case, check_array
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng
from s2s_ref.grading.simulated import Simulated
from s2s_ref.grading.torch_remote import torch_side

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
)
ref = load_private("s2s_ref.torch_nn.attention")
N, T, S, Hq, Hk, Hv = 3, 4, 6, 5, 7, 2
V, E, H, C = 11, 8, 9, 10
# (label, lengths of the sources, T): the third source of the first has a single real key; N = 1
# with T = 1; S >= 20 with every row padded differently, one of length 1 and none full
CASES = [
    ("", (S, 3, 1), T),
    ("with N = 1 and T = 1", (5,), 1),
    ("with S = 21, every row padded differently", (13, 1, 20, 6), 3),
]
HIDDEN = 1e30  # what padded encoder states hold in the padding test: exactly 0 weight or it shows


def _mask(lengths, width=None):
    width = max(lengths) if width is None else width
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


def _generator():
    return torch.Generator().manual_seed(int(test_rng().integers(2**31)))


def _cases():
    """(label, mask (n, S), t) per case; S is the longest length but for the last case (21)."""
    return [(label, _mask(lengths, 21 if len(lengths) == 4 else None), t)
            for label, lengths, t in CASES]  # fmt: skip


MASK_IGNORED = Simulated(
    "the mask is ignored: padded keys get weight. Fill their scores with -inf first.",
    lambda scores, m: torch.softmax(scores, -1),
)
ZERO_NOT_INF = Simulated(
    "padded scores are set to 0, not -inf: exp(0) = 1 still gives them weight.",
    lambda scores, m: torch.softmax(scores.masked_fill(~m[:, None], 0.0), -1),
)
ZEROED_AFTER = Simulated(
    "the weights are zeroed after the softmax without renormalising: rows no longer sum "
    "to 1. Mask the scores before the softmax.",
    lambda scores, m: torch.softmax(scores, -1) * m[:, None],
)
WRONG_AXIS = Simulated(
    "the softmax runs over the wrong axis: normalise over the keys (the last axis).",
    lambda scores, m: torch.softmax(scores.masked_fill(~m[:, None], -float("inf")), 1),
)
INVERTED = Simulated(
    "the mask is inverted: True means a real key.",
    lambda scores, m: torch.softmax(scores.masked_fill(m[:, None], -float("inf")), -1),
)
SOFTMAX_MISTAKES = (MASK_IGNORED, ZERO_NOT_INF, ZEROED_AFTER, WRONG_AXIS, INVERTED)
WRONG_AXIS_QUERIES = (
    "the softmax runs over the wrong axis (the queries): normalise over the keys, the last axis, "
    "dim=-1."
)


@EXERCISE.test(points=2, function="batched_masked_softmax")
def softmax_matches_reference(learner):
    """weights equal the reference; padded keys get exactly 0"""
    side, g = torch_side(learner), _generator()
    for label, mask, t in _cases():
        with case(label):
            n, s = mask.shape
            scores = torch.randn(n, t, s, dtype=torch.float64, generator=g) * 3
            called = side.call("batched_masked_softmax", "batched_masked_softmax", scores, mask)
            (got,) = called.tensors("batched_masked_softmax", ("weights",))
            if (t > 1 and got.shape == (n, t, s)
                    and np.allclose(np.nansum(got, axis=1)[mask.numpy()], 1)):  # fmt: skip
                raise Feedback(WRONG_AXIS_QUERIES)
            check_array("weights", got, ref.masked_softmax(scores, mask), shape_hint="(N, T, S)",
                        mistakes=Simulated.arrays(SOFTMAX_MISTAKES, scores, mask))  # fmt: skip
            if np.any(got[~np.broadcast_to(mask[:, None, :].numpy(), got.shape)] != 0):
                raise Feedback("padded keys must get exactly 0 weight (use -inf, not a large "
                               "negative).")  # fmt: skip


def _attention_inputs(g, mask, t):
    n, s = mask.shape
    q = torch.randn(n, t, Hq, dtype=torch.float64, generator=g)
    k = torch.randn(n, s, Hk, dtype=torch.float64, generator=g)
    v = torch.randn(n, s, Hv, dtype=torch.float64, generator=g)
    W = torch.randn(Hq, Hk, dtype=torch.float64, generator=g) * 0.5
    return q, k, v, mask, W


def _reference_attention(q, k, v, mask, W):
    return ref.masked_softmax(torch.bmm(q @ W, k.transpose(1, 2)), mask)


ATTENTION_MASK_IGNORED = Simulated(
    "the mask is ignored: padded keys get weight.",
    lambda q, k, v, mask, W: torch.softmax(torch.bmm(q @ W, k.transpose(1, 2)), -1),
)
CONTEXT_FROM_KEYS = Simulated(
    "the context averages the keys k; it must average the values v.",
    lambda q, k, v, mask, W: torch.bmm(_reference_attention(q, k, v, mask, W), k),
)


@EXERCISE.test(points=3, function="general_attention")
def attention_matches_reference(learner):
    """context (N, T, Hv) and weights (N, T, S) equal the reference, padding included"""
    side, g = torch_side(learner), _generator()
    for label, mask, t in _cases():
        with case(label):
            inputs = _attention_inputs(g, mask, t)
            called = side.call("general_attention", "general_attention", *inputs)
            ctx, w = called.tensors("general_attention", ("context", "weights"))
            n = mask.shape[0]
            if ctx.shape == (n, t, Hk):
                raise Feedback(
                    f"context has shape {ctx.shape} = (N, T, Hk): {CONTEXT_FROM_KEYS.message} "
                    f"Its shape is (N, T, Hv) = ({n}, {t}, {Hv})."
                )
            w_ref = _reference_attention(*inputs)
            check_array("weights", w, w_ref, shape_hint="(N, T, S)",
                        mistakes=Simulated.arrays((ATTENTION_MASK_IGNORED,), *inputs))  # fmt: skip
            check_array("context", ctx, torch.bmm(w_ref, inputs[2]), shape_hint="(N, T, Hv)",
                        mistakes=Simulated.arrays((CONTEXT_FROM_KEYS,), *inputs))  # fmt: skip


@EXERCISE.test(points=2, function="general_attention")
def attention_gradients_match_reference(learner):
    """gradients with respect to q, k, v and W equal the reference's (autograd on both)"""
    side, g = torch_side(learner), _generator()
    for label, mask, t in _cases():
        with case(label):
            inputs = _attention_inputs(g, mask, t)
            dctx = torch.randn(mask.shape[0], t, Hv, dtype=torch.float64, generator=g)
            called = side.call("general_attention", "general_attention", *inputs,
                               grad=(0, 1, 2, 4), upstream=[dctx, None])  # fmt: skip
            called.tensors("general_attention", ("context", "weights"))
            if not called.outputs[0].requires_grad:
                raise Feedback("context does not depend on the inputs through autograd: use "
                               "torch operations only (no .numpy(), no .detach()).")  # fmt: skip
            leaves = [x.clone().requires_grad_() if x.dtype != torch.bool else x for x in inputs]
            torch.bmm(_reference_attention(*leaves), leaves[2]).backward(dctx)
            names = ("dq", "dk", "dv", "dW")
            shapes = ("(N, T, Hq)", "(N, S, Hk)", "(N, S, Hv)", "(Hq, Hk)")
            theirs = [called.input_grads[i] for i in (0, 1, 2, 4)]
            ours = [leaves[i].grad for i in (0, 1, 2, 4)]
            for name, got, want, shape in zip(names, theirs, ours, shapes, strict=True):
                if got is None:
                    raise Feedback(f"{name} is None: {name[1:]} does not reach the context.")
                check_array(name, got, want, shape_hint=shape)


class ReferenceLuong(torch.nn.Module):
    """The parts a LuongDecoder has (names and shapes as the exercise asks), computing the
    reference decoder from its weights: the learner's module gets the same weights."""

    def __init__(self, V, E, H, C):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.GRU(E, H, batch_first=True)
        self.W = torch.nn.Parameter(torch.randn(H, C) / C**0.5)
        self.combine = torch.nn.Linear(H + C, H, bias=False)
        self.out = torch.nn.Linear(H, V)

    def forward(self, tgt_in, enc, mask, h0):
        return _reference_decoder(self, tgt_in, enc, mask, h0)


def _reference_decoder(dec, tgt_in, enc, mask, h0, variant=None):
    """The reference Luong decoder computed with ``dec``'s weights (and known mistakes)."""
    s, _ = dec.rnn(F.embedding(tgt_in, dec.embedding.weight), h0)
    if variant == "previous state":
        s = torch.cat([h0.transpose(0, 1), s[:, :-1]], dim=1)
    w = ref.masked_softmax(torch.bmm(s @ dec.W, enc.transpose(1, 2)), mask)
    c = torch.bmm(w, enc)
    sc = torch.cat([c, s], -1) if variant == "order" else torch.cat([s, c], -1)
    o = F.linear(sc, dec.combine.weight)
    o = o if variant == "no tanh" else torch.tanh(o)
    return dec.out(o), w


PARTS = {"embedding": "nn.Embedding", "rnn": "nn.GRU", "combine": "nn.Linear", "out": "nn.Linear"}


def _decoder(side, g, sizes=(V, E, H, C)):
    """The learner's decoder, given random weights (float64), and the reference holding them."""
    built = side.build("LuongDecoder", *sizes)
    if not built.module:
        raise Feedback(
            f"`LuongDecoder(...)` should build a torch.nn.Module, got {built.type_name}."
        )
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
        reference = ReferenceLuong(*sizes).double()
    ours = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    theirs = built.shapes
    for name, kind in PARTS.items():
        if not any(k.startswith(f"{name}.") for k in theirs):
            raise Feedback(f"LuongDecoder needs an attribute `{name}` that is a {kind}.")
    if theirs.get("W") != ours["W"]:
        raise Feedback(f"LuongDecoder needs a parameter `W` of shape (H, C) = ({H}, {C}).")
    if theirs != ours:
        raise Feedback(f"LuongDecoder's parameters should be {ours}, got {theirs}: a one-layer GRU "
                       "with batch_first=True, combine without a bias.")  # fmt: skip
    side.load(built, reference.state_dict())
    return built, reference


def _decoder_inputs(g, mask, t):
    n, s = mask.shape
    tgt_in = torch.randint(0, V, (n, t), generator=g)
    enc = torch.randn(n, s, C, dtype=torch.float64, generator=g)
    h0 = torch.randn(1, n, H, dtype=torch.float64, generator=g) * 0.5
    return tgt_in, enc, mask, h0


DECODER_MISTAKES = {
    "previous state": "attention uses the state before the step (that is Bahdanau's query); "
    "Luong attends with the new state s_t.",
    "order": "the concatenation is [c_t; s_t]; it must be [s_t; c_t].",
    "no tanh": "the combined layer misses its tanh: o_t = tanh([s_t; c_t] Wc).",
}
DECODER_SIMULATED = {
    variant: (
        Simulated(text, lambda dec, *a, v=variant: _reference_decoder(dec, *a, variant=v)[1]),
        Simulated(text, lambda dec, *a, v=variant: _reference_decoder(dec, *a, variant=v)[0]),
    )
    for variant, text in DECODER_MISTAKES.items()
}  # (weights, logits) each mistake gives


@EXERCISE.test(points=3, function="LuongDecoder")
def decoder_matches_reference(learner):
    """logits (N, T, V) and weights (N, T, S) equal the reference with your weights"""
    side, g = torch_side(learner), _generator()
    dec, reference = _decoder(side, g)
    for label, mask, t in _cases():
        with case(label):
            args = _decoder_inputs(g, mask, t)
            called = side.call("LuongDecoder.forward", dec, *args)
            logits, w = called.tensors("LuongDecoder.forward", ("logits", "weights"))
            with torch.no_grad():
                want_logits, want_w = reference(*args)
            weights_wrong = [pair[0] for pair in DECODER_SIMULATED.values()]
            logits_wrong = [pair[1] for pair in DECODER_SIMULATED.values()]
            check_array("weights", w, want_w, shape_hint="(N, T, S)",
                        mistakes=Simulated.arrays(weights_wrong, reference, *args))  # fmt: skip
            check_array("logits", logits, want_logits, shape_hint="(N, T, V)",
                        mistakes=Simulated.arrays(logits_wrong, reference, *args))  # fmt: skip


@EXERCISE.test(points=2, function="LuongDecoder")
def decoder_gradients_and_padding(learner):
    """gradients equal the reference's; padded encoder states get no gradient and change nothing"""
    side, g = torch_side(learner), _generator()
    dec, reference = _decoder(side, g)
    for label, mask, t in _cases():
        with case(label):
            tgt_in, enc, mask, h0 = _decoder_inputs(g, mask, t)
            dlogits = torch.randn(mask.shape[0], t, V, dtype=torch.float64, generator=g)
            called = side.call("LuongDecoder.forward", dec, tgt_in, enc, mask, h0, grad=(1,),
                               upstream=[dlogits, None])  # fmt: skip
            called.tensors("LuongDecoder.forward", ("logits", "weights"))
            reference.zero_grad()
            leaf = enc.clone().requires_grad_()
            reference(tgt_in, leaf, mask, h0)[0].backward(dlogits)
            denc = called.input_grads[1]
            if denc is None:
                raise Feedback("the encoder states get no gradient: the context must come from "
                               "enc.")  # fmt: skip
            check_array("d enc", denc, leaf.grad, shape_hint="(N, S, C)")
            for name, p in reference.named_parameters():
                if name not in called.param_grads:
                    raise Feedback(f"parameter `{name}` gets no gradient: is it used in forward?")
                check_array(f"d {name}", called.param_grads[name], p.grad)
            hidden = enc.masked_fill(~mask[:, :, None], HIDDEN)
            changed = side.call("LuongDecoder.forward", dec, tgt_in, hidden, mask, h0)
            changed = changed.tensors("LuongDecoder.forward", ("logits", "weights"))[0]
            with torch.no_grad():
                original = reference(tgt_in, enc, mask, h0)[0].numpy()
            if changed.shape != original.shape or not np.allclose(changed, original, atol=1e-9):
                raise Feedback("changing encoder states behind the mask changes the logits: padded "
                               "keys must get exactly 0 weight.")  # fmt: skip


def _evaluator(held_out):
    """The checker's metric of the training test: teacher-forced token accuracy, on the held-out
    set, of the reference decoder holding the weights the learner-side loop sends; the best
    value seen is kept in ``best``."""
    model = WithEncoder(ReferenceLuong(ex07_training.V, ex07_training.E, ex07_training.H,
                                       ex07_training.H), ex07_training.V, ex07_training.E,
                        ex07_training.H)  # fmt: skip
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    scores: list[float] = []

    def evaluate(weights):
        theirs = {k: tuple(np.shape(v)) for k, v in weights.items()}
        if theirs != ours:
            raise Feedback(f"the trained model's parameters should be {ours}, got {theirs}.")
        model.load_state_dict({k: torch.as_tensor(np.asarray(v, dtype=np.float32))
                               for k, v in weights.items()})  # fmt: skip
        metric = ex07_training.teacher_forced_accuracy(model, held_out)
        scores.append(metric)
        return metric

    return evaluate, scores


@EXERCISE.test(points=3, function="LuongDecoder")
def decoder_learns_reversal(learner):
    """trained on reversal for at most 200 steps, it predicts >= 90 % of held-out tokens"""
    rng = test_rng()
    seeds = [int(x) for x in rng.integers(2**31, size=3)]
    data, held_out = reversal(1024, seed=seeds[0]), reversal(300, seed=seeds[1])
    evaluate, scores = _evaluator(held_out)
    arrays = {k: getattr(data, k) for k in ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")}
    evaluations = ex07_training.STEPS // ex07_training.EVAL_EVERY
    torch_side(learner).train("training with your LuongDecoder", "ex07", arrays,
                              {"seed": seeds[2]}, evaluate, evaluations)  # fmt: skip
    best = max(scores, default=0.0)
    if best < TRAIN_TARGET:
        raise Feedback(f"after {len(scores) * ex07_training.EVAL_EVERY} training steps your "
                       f"decoder predicts {best:.1%} of held-out tokens; the reference reaches "
                       f"{TRAIN_TARGET:.0%} in about 100.")  # fmt: skip


EXERCISE.mistakes += [
    Mistake(
        "mask ignored",
        "batched_masked_softmax",
        {'scores.masked_fill(~mask[:, None, :], float("-inf"))': "scores"},
        MASK_IGNORED.message,
    ),
    Mistake(
        "padded scores set to 0",
        "batched_masked_softmax",
        {'float("-inf"))': "0.0)"},
        ZERO_NOT_INF.message,
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
        CONTEXT_FROM_KEYS.message,
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
        DECODER_MISTAKES["previous state"],
    ),
    Mistake(
        "combined layer without tanh",
        "LuongDecoder",
        {
            "o = torch.tanh(self.combine(torch.cat([s, context], dim=-1)))": (
                "o = self.combine(torch.cat([s, context], dim=-1))"
            )
        },
        DECODER_MISTAKES["no tanh"],
    ),
    Mistake(
        "concatenation in the wrong order",
        "LuongDecoder",
        {"torch.cat([s, context], dim=-1)": "torch.cat([context, s], dim=-1)"},
        DECODER_MISTAKES["order"],
    ),
]
