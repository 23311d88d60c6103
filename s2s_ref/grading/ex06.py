"""Graded tests of exercise ex06: a PyTorch encoder and decoder, checked against the reference
on shapes, masks and gradients, then trained briefly to a target accuracy.

The learner's modules run where the learner's code runs (``torch_remote``: the grading worker, or
a check cell's kernel); they get the reference's weights (same attribute names, so the same state
dict) and fresh random inputs of distinct sizes, and send back outputs and gradients as arrays.
This module, on the checker's side, holds the reference, computes the expected values and the
known mistakes, and keeps the held-out targets of the training test.
Book: chapter 6; notebook: ex06_torch_seq2seq.ipynb.
"""

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.grading.ex06_training import MAX_LEN, JoinedModel
from s2s_ref.grading.ex06_training import E as TRAIN_E
from s2s_ref.grading.ex06_training import H as TRAIN_H
from s2s_ref.grading.feedback import Feedback, case, check_array
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng
from s2s_ref.grading.simulated import Simulated
from s2s_ref.grading.torch_remote import torch_side
from s2s_ref.metrics import exact_match
from s2s_ref.torch_nn.search import greedy_decode

EXERCISE = Exercise(
    key="ex06",
    title="An encoder and a decoder in PyTorch",
    notebook="ex06_torch_seq2seq.ipynb",
    functions=("Encoder", "Decoder"),
    hidden_modules=("s2s_ref.torch_nn.seq2seq",),
)
ref = load_private("s2s_ref.torch_nn.seq2seq")
N, S, T, V, Vt, E, H = 3, 7, 5, 11, 9, 6, 4  # all different; the context is C = 2H = 8
C = 2 * H
TOL = dict(rtol=1e-6, atol=1e-8)
# (label, lengths of the sources, S): one full row; N = 1; S >= 20 with every row padded
# differently, one of length 1 and none full (outputs must still have S steps)
ENCODER_CASES = [
    ("", (S, 2, 4), S),
    ("with N = 1", (5,), 5),
    ("with S = 21, no full row", (13, 1, 20, 6), 21),
]
DECODER_CASES = [("", N, T), ("with N = 1 and T = 1", 1, 1)]  # (label, N, T)


def _rng():
    return torch.Generator().manual_seed(int(test_rng().integers(2**31)))


def _source(g, lengths, width):
    """src (n, width) int64 ids with the given lengths, padding 0 after them; mask (n, width)."""
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    src = torch.randint(1, V, (len(lengths), width), generator=g).masked_fill(~mask, 0)
    return src, mask


def _build(side, name, args, reference):
    """The learner's module, given the reference's weights (double precision)."""
    built = side.build(name, *args)
    if not built.module:
        raise Feedback(f"`{name}(...)` should build a torch.nn.Module, got {built.type_name}.")
    ours = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    if built.shapes != ours:
        raise Feedback(
            f"`{name}` has the wrong parameters. " + _parameter_advice(built.shapes, ours)
        )
    side.load(built, reference.state_dict())
    return built


def _parameter_advice(theirs, ours):
    missing = sorted(set(ours) - set(theirs))
    if any(k.endswith("_reverse") for k in missing):
        return "The encoder's GRU must be bidirectional (bidirectional=True)."
    wrong = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
    if "rnn.weight_ih_l0" in wrong and "proj.weight" in ours:
        return (f"rnn.weight_ih_l0 has shape {theirs['rnn.weight_ih_l0']}, expected "
                f"{ours['rnn.weight_ih_l0']}: the decoder GRU reads [embedded token; context], "
                "an input of size E + C.")  # fmt: skip
    return (f"Expected attributes and shapes {ours}, got {theirs}. Keep the names "
            "embedding, rnn (and proj for the decoder), with batch_first=True.")  # fmt: skip


NO_TOTAL_LENGTH = (
    "pad_packed_sequence stops at the longest real sequence unless told otherwise: pass "
    "total_length=S so that outputs keep all S positions."
)


def _encoder_outputs(called, n, width):
    out, summary = called.tensors("Encoder.forward", ("outputs", "summary"))
    if out.ndim == 3 and out.shape[0] == n and out.shape[1] < width and out.shape[2] == C:
        raise Feedback(f"outputs has shape {out.shape}, expected (N, S, 2H) = {(n, width, C)}: "
                       + NO_TOTAL_LENGTH)  # fmt: skip
    return out, summary


def _encoder_pair(side):
    reference = ref.Encoder(V, E, H).double()
    return _build(side, "Encoder", (V, E, H), reference), reference


def _summaries(reference, src, mask):
    x = reference.embedding(src)
    packed = pack_padded_sequence(x, mask.sum(1), batch_first=True, enforce_sorted=False)
    return reference.rnn(x)[1], reference.rnn(packed)[1]


# typical encoder bugs: the summary they produce, from the reference's weights
READS_PADDING = Simulated(
    "the padding is read: pack the embedded batch with pack_padded_sequence (lengths from "
    "src_mask), so each direction stops, or starts, at the last real token.",
    lambda r, src, mask: _summaries(r, src, mask)[0].transpose(0, 1).reshape(len(src), C),
)
NOT_TRANSPOSED = Simulated(
    "h_n has shape (2, N, H): transpose it to (N, 2, H) before reshaping to (N, 2H), or "
    "concatenate h_n[0] and h_n[1] along the last axis.",
    lambda r, src, mask: _summaries(r, src, mask)[1].reshape(len(src), C),
)
SWAPPED = Simulated(
    "the two directions are swapped: the summary is [forward; backward].",
    lambda r, src, mask: torch.cat(list(_summaries(r, src, mask)[1].flip(0)), dim=-1),
)


@EXERCISE.test(points=1, function="Encoder")
def encoder_shapes(learner):
    """returns outputs (N, S, 2H) and summary (N, 2H)"""
    side, g = torch_side(learner), _rng()
    enc, _ = _encoder_pair(side)
    for label, lengths, width in (ENCODER_CASES[0], ENCODER_CASES[2]):
        n = len(lengths)
        with case(label):
            src, mask = _source(g, lengths, width)
            out, summary = _encoder_outputs(side.call("Encoder.forward", enc, src, mask), n, width)
            for what, got, want in [("outputs", out, (n, width, C)), ("summary", summary, (n, C))]:
                if got.shape != want:
                    raise Feedback(f"{what} has shape {got.shape}, expected {want} (N={n}, "
                                   f"S={width}, 2H={C}).")  # fmt: skip


@EXERCISE.test(points=3, function="Encoder")
def encoder_matches_reference(learner):
    """outputs and summary equal the reference on the same weights (padded batch)"""
    side, g = torch_side(learner), _rng()
    enc, reference = _encoder_pair(side)
    for label, lengths, width in ENCODER_CASES:
        with case(label):
            src, mask = _source(g, lengths, width)
            out, summary = _encoder_outputs(
                side.call("Encoder.forward", enc, src, mask), len(lengths), width
            )
            with torch.no_grad():
                want_out, want_summary = reference(src, mask)
            mistakes = Simulated.arrays((READS_PADDING, NOT_TRANSPOSED, SWAPPED), reference, src,
                                        mask)  # fmt: skip
            check_array("summary", summary, want_summary.numpy(), shape_hint="(N, 2H)",
                        mistakes=mistakes, **TOL)  # fmt: skip
            check_array("outputs", out, want_out.numpy(), shape_hint="(N, S, 2H)", **TOL)


@EXERCISE.test(points=2, function="Encoder")
def encoder_ignores_padding(learner):
    """extra padding and the ids under the mask change nothing, at every position"""
    side, g = torch_side(learner), _rng()
    enc, reference = _encoder_pair(side)
    for label, lengths, width in ENCODER_CASES:
        with case(label):
            src, mask = _source(g, lengths, width)
            out, summary = _encoder_outputs(
                side.call("Encoder.forward", enc, src, mask), len(lengths), width
            )
            wide_mask = torch.cat([mask, torch.zeros(len(lengths), 3, dtype=torch.bool)], dim=1)
            junk = torch.randint(1, V, wide_mask.shape, generator=g)  # other ids under the mask
            wide = torch.where(wide_mask, torch.cat([src, src[:, :3]], dim=1), junk)
            wide_out, wide_summary = _encoder_outputs(
                side.call("Encoder.forward", enc, wide, wide_mask), len(lengths), width + 3
            )
            err = (
                float(np.abs(wide_summary - summary).max())
                if wide_summary.shape == summary.shape
                else np.inf
            )
            if err > 1e-8:
                raise Feedback(
                    f"the summary changes by up to {err:.3g} when the same sentences get 3 more "
                    "padded positions holding other ids: the encoder reads padding. Pack the "
                    "batch (pack_padded_sequence with the lengths from src_mask)."
                )
            with torch.no_grad():
                want = reference(wide, wide_mask)[0].numpy()
            check_array("outputs with 3 more padded positions", wide_out, want,
                        shape_hint="(N, S + 3, 2H)", **TOL)  # fmt: skip
            check_array("outputs at the real positions", wide_out[:, :width], out, **TOL)


@EXERCISE.test(points=2, function="Encoder")
def encoder_gradients_match_reference(learner):
    """parameter gradients equal the reference's; padded tokens get none"""
    side, g = torch_side(learner), _rng()
    enc, reference = _encoder_pair(side)
    for label, lengths, width in ENCODER_CASES:
        with case(label):
            src, mask = _source(g, lengths, width)
            dsummary = torch.randn(len(lengths), C, generator=g, dtype=torch.float64)
            called = side.call("Encoder.forward", enc, src, mask, upstream=[None, dsummary])
            _encoder_outputs(called, len(lengths), width)
            reference.zero_grad()
            (reference(src, mask)[1] * dsummary).sum().backward()
            for name, p in reference.named_parameters():
                got = called.param_grads.get(name)
                if got is None:
                    raise Feedback(f"{name} gets no gradient: is the summary detached from it?")
                check_array(f"the gradient of {name}", got, p.grad.numpy(), **TOL)
            pad_rows = torch.unique(src[~mask])
            only_pad = pad_rows[~torch.isin(pad_rows, torch.unique(src[mask]))].numpy()
            if only_pad.size and np.abs(called.param_grads["embedding.weight"][only_pad]).max() > 0:
                raise Feedback("the embeddings of padded tokens get a gradient: the encoder reads "
                               "padding.")  # fmt: skip


def _decoder_inputs(g, n, t):
    tgt_in = torch.randint(1, Vt, (n, t), generator=g)
    context = torch.randn(n, C, generator=g, dtype=torch.float64)
    state = torch.randn(1, n, H, generator=g, dtype=torch.float64) * 0.5
    return tgt_in, context, state


def _decoder_pair(side):
    reference = ref.Decoder(Vt, E, H, C).double()
    return _build(side, "Decoder", (Vt, E, H, C), reference), reference


def _with_context(r, tgt_in, context, state, first, initial=True):
    x = r.embedding(tgt_in)
    ctx = context[:, None].expand(-1, tgt_in.shape[1], -1)
    inputs = torch.cat([ctx, x] if first == "context" else [x, ctx], -1)
    return r.proj(r.rnn(inputs, state)[0] if initial else r.rnn(inputs)[0])


# typical decoder bugs: the logits they produce, from the reference's weights
CONTEXT_FIRST = Simulated(
    "the decoder input is [context; embedding]; the order is [embedded token; context].",
    lambda r, *args: _with_context(r, *args, first="context"),
)
STATE_IGNORED = Simulated(
    "the initial state is ignored: pass `state` to the GRU.",
    lambda r, *args: _with_context(r, *args, first="token", initial=False),
)
SOFTMAX = Simulated(
    "these are probabilities: return the logits, before any softmax.",
    lambda r, *args: torch.softmax(r(*args)[0], -1),
)
LOG_SOFTMAX = Simulated(
    "these are log-probabilities: return the logits, before any log_softmax.",
    lambda r, *args: torch.log_softmax(r(*args)[0], -1),
)


@EXERCISE.test(points=3, function="Decoder")
def decoder_matches_reference(learner):
    """logits (N, T, V) and the new state equal the reference on the same weights"""
    side, g = torch_side(learner), _rng()
    dec, reference = _decoder_pair(side)
    for label, n, t in DECODER_CASES:
        with case(label):
            args = _decoder_inputs(g, n, t)
            called = side.call("Decoder.forward", dec, *args)
            logits, new_state = called.tensors("Decoder.forward", ("logits", "state"))
            with torch.no_grad():
                want, want_state = reference(*args)
            mistakes = Simulated.arrays((CONTEXT_FIRST, STATE_IGNORED, SOFTMAX, LOG_SOFTMAX),
                                        reference, *args)  # fmt: skip
            check_array("logits", logits, want.numpy(), shape_hint="(N, T, V)",
                        mistakes=mistakes, **TOL)  # fmt: skip
            check_array("the returned state", new_state, want_state.numpy(),
                        shape_hint="(1, N, H)", **TOL)  # fmt: skip


@EXERCISE.test(points=1, function="Decoder")
def decoder_is_causal(learner):
    """under teacher forcing, output t does not depend on inputs after t"""
    side, g = torch_side(learner), _rng()
    dec, _ = _decoder_pair(side)
    tgt_in, context, state = _decoder_inputs(g, N, T)
    logits = side.call("Decoder.forward", dec, tgt_in, context, state).tensors(
        "Decoder.forward", ("logits", "state"))[0]  # fmt: skip
    changed = tgt_in.clone()
    changed[:, 3:] = torch.randint(1, Vt, (N, T - 3), generator=g)
    later = side.call("Decoder.forward", dec, changed, context, state).tensors(
        "Decoder.forward", ("logits", "state"))[0]  # fmt: skip
    if logits.shape != later.shape or not np.allclose(logits[:, :3], later[:, :3]):
        raise Feedback(
            "changing the inputs from step 3 on changed the logits of steps 0-2: "
            "the decoder must read its inputs left to right (a one-way GRU)."
        )


@EXERCISE.test(points=1, function="Decoder")
def decoder_gradients_match_reference(learner):
    """parameter, context and state gradients equal the reference's"""
    side, g = torch_side(learner), _rng()
    dec, reference = _decoder_pair(side)
    for label, n, t in DECODER_CASES:
        with case(label):
            tgt_in, context, state = _decoder_inputs(g, n, t)
            dlogits = torch.randn(n, t, Vt, generator=g, dtype=torch.float64)
            called = side.call("Decoder.forward", dec, tgt_in, context, state, grad=(1, 2),
                               upstream=[dlogits, None])  # fmt: skip
            called.tensors("Decoder.forward", ("logits", "state"))
            ctx, st = context.clone().requires_grad_(), state.clone().requires_grad_()
            reference.zero_grad()
            (reference(tgt_in, ctx, st)[0] * dlogits).sum().backward()
            theirs = {"context": called.input_grads[1], "state": called.input_grads[2],
                      **called.param_grads}  # fmt: skip
            ours = {"context": ctx.grad, "state": st.grad,
                    **{k: p.grad for k, p in reference.named_parameters()}}  # fmt: skip
            for name, want in ours.items():
                if theirs.get(name) is None:
                    raise Feedback(f"{name} gets no gradient from the logits: is it used?")
                check_array(f"the gradient of {name}", theirs[name], want.numpy(), **TOL)


TRAIN_TARGET = 0.8  # held-out exact match after ex06_training.STEPS steps; the reference: 94 %


@EXERCISE.test(points=3, function="Decoder")
def trains_to_target(learner):
    """your Encoder and Decoder learn to reverse sequences (>= 80 % exact match)"""
    rng = test_rng()
    train_pairs = make_reverse(3000, rng, min_len=2, max_len=5, n_symbols=6)
    test_pairs = make_reverse(300, rng, min_len=2, max_len=5, n_symbols=6, split="test")
    vocab = Vocab([chr(ord("a") + i) for i in range(6)])
    data, held_out = make_batch(train_pairs, vocab, vocab), make_batch(test_pairs, vocab, vocab)
    arrays = {f"train_{k}": np.asarray(getattr(data, k)) for k in
              ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")}  # fmt: skip
    arrays |= {"src": np.asarray(held_out.src), "src_mask": np.asarray(held_out.src_mask)}
    settings = {"V": len(vocab), "sos_id": vocab.sos_id, "eos_id": vocab.eos_id,
                "seed": int(rng.integers(2**31))}  # fmt: skip
    answer, out = torch_side(learner).train("training your Encoder and Decoder", "ex06", arrays,
                                            settings)  # fmt: skip
    tokens = out[0] if out else None
    if not _token_ids(tokens, len(test_pairs), len(vocab)):
        raise Feedback("greedy decoding with your modules did not give one row of token ids per "
                       "held-out source.")  # fmt: skip
    names = answer.get("weights") if isinstance(answer, dict) else None
    if not isinstance(names, list) or len(names) != len(out) - 1:
        raise Feedback("the training run did not send back the trained weights.")
    weights = dict(zip(map(str, names), out[1:], strict=True))
    theirs = [vocab.decode(row) for row in tokens.tolist()]
    ours = _decode_with(weights, held_out, vocab)
    targets = [t for _, t in test_pairs]
    counted = [
        t if t == o else ["(not what the weights give)"] for t, o in zip(theirs, ours, strict=True)
    ]
    accuracy = exact_match(targets, counted)
    if accuracy < TRAIN_TARGET:
        differ = sum(t != o for t, o in zip(theirs, ours, strict=True))
        raise Feedback(
            f"after 200 training steps your model reverses {accuracy:.0%} of held-out sequences "
            "exactly; the reference reaches 94 %. "
            + (f"{differ} of its {len(theirs)} predictions are not what its trained weights give "
               "in the reference's Encoder and Decoder (only those count): your modules must "
               "compute what the reference computes. " if differ else "")
            + "Check the tests above first."
        )  # fmt: skip


def _token_ids(tokens, rows, V) -> bool:
    """Whether ``tokens`` is (rows, L) integer ids in [0, V)."""
    if tokens is None or tokens.dtype.kind not in "iu" or tokens.ndim != 2 or len(tokens) != rows:
        return False
    return tokens.size == 0 or (tokens.min() >= 0 and tokens.max() < V)


def _decode_with(weights, held_out, vocab):
    """Greedy decoding of the held-out sources by the reference's modules holding ``weights``."""
    model = JoinedModel(ref.Encoder(len(vocab), TRAIN_E, TRAIN_H),
                        ref.Decoder(len(vocab), TRAIN_E, TRAIN_H, 2 * TRAIN_H), 2 * TRAIN_H,
                        TRAIN_H)  # fmt: skip
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(np.shape(v)) for k, v in weights.items()}
    if theirs != ours:
        raise Feedback(f"the trained model's parameters should be {ours}, got {theirs}.")
    model.load_state_dict({k: torch.as_tensor(np.asarray(v, dtype=np.float32))
                           for k, v in weights.items()})  # fmt: skip
    model.eval()
    tokens, _, _ = greedy_decode(model, torch.as_tensor(held_out.src),
                                 torch.as_tensor(held_out.src_mask), vocab.sos_id, vocab.eos_id,
                                 MAX_LEN)  # fmt: skip
    return [vocab.decode(row) for row in tokens.tolist()]


# The typical mistakes this grader names: each is put into the solution notebook by the
# mutation suite (tests/test_grading_mistakes.py), which checks that it loses points in the
# module named, with this feedback; the book's appendix "Feedback catalogue" lists them.
EXERCISE.mistakes += [
    Mistake(
        "padding read (no packing)",
        "Encoder",
        {
            (
                "        packed = pack_padded_sequence(\n"
                "            self.embedding(src), lengths, batch_first=True, "
                "enforce_sorted=False\n"
                "        )\n"
                "        out, h_n = self.rnn(packed)\n"
                "        outputs, _ = pad_packed_sequence(out, batch_first=True, "
                "total_length=S)"
            ): (
                "        outputs, h_n = self.rnn(self.embedding(src))\n"
                "        outputs = outputs * src_mask.unsqueeze(-1)"
            ),
        },
        READS_PADDING.message,
    ),
    Mistake(
        "pad_packed_sequence without total_length",
        "Encoder",
        {
            "outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=S)": (
                "outputs, _ = pad_packed_sequence(out, batch_first=True)"
            ),
        },
        NO_TOTAL_LENGTH,
    ),
    Mistake(
        "h_n reshaped without transposing",
        "Encoder",
        {
            "summary = torch.cat([h_n[0], h_n[1]], dim=-1)": "summary = h_n.reshape(N, -1)",
        },
        NOT_TRANSPOSED.message,
    ),
    Mistake(
        "directions swapped",
        "Encoder",
        {
            "summary = torch.cat([h_n[0], h_n[1]], dim=-1)": (
                "summary = torch.cat([h_n[1], h_n[0]], dim=-1)"
            ),
        },
        SWAPPED.message,
    ),
    Mistake(
        "one-way encoder",
        "Encoder",
        {
            "nn.GRU(E, H, batch_first=True, bidirectional=True)": (
                "nn.GRU(E, H, batch_first=True)"
            ),
        },
        "must be bidirectional",
    ),
    Mistake(
        "context not fed to the decoder",
        "Decoder",
        {
            "self.rnn = nn.GRU(E + C, H, batch_first=True)": (
                "self.rnn = nn.GRU(E, H, batch_first=True)"
            ),
            "torch.cat([x, ctx], dim=-1), state)": "x, state)",
        },
        "an input of size E + C",
    ),
    Mistake(
        "decoder input in the wrong order",
        "Decoder",
        {
            "torch.cat([x, ctx], dim=-1)": "torch.cat([ctx, x], dim=-1)",
        },
        CONTEXT_FIRST.message,
    ),
    Mistake(
        "initial state ignored",
        "Decoder",
        {
            "torch.cat([x, ctx], dim=-1), state)": "torch.cat([x, ctx], dim=-1))",
        },
        STATE_IGNORED.message,
    ),
    Mistake(
        "softmax returned instead of logits",
        "Decoder",
        {
            "logits = self.proj(out)": "logits = torch.softmax(self.proj(out), dim=-1)",
        },
        SOFTMAX.message,
    ),
    Mistake(
        "bidirectional decoder (reads the future)",
        "Decoder",
        {
            "self.rnn = nn.GRU(E + C, H, batch_first=True)": (
                "self.rnn = nn.GRU(E + C, H // 2, batch_first=True, bidirectional=True)"
            ),
        },
        "has the wrong parameters",
    ),
]
