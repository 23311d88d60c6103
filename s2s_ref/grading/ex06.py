"""Graded tests of exercise ex06: a PyTorch encoder and decoder, checked against the reference
on shapes, masks and gradients, then trained briefly to a target accuracy.

The learner's modules get the reference's weights (same attribute names, so the same state dict)
and fresh random inputs of distinct sizes; known mistakes are recognised by recomputing them.
Book: chapter 6; notebook: ex06_torch_seq2seq.ipynb.
"""

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from s2s_ref.grading.feedback import Feedback, call_learner, check_array
from s2s_ref.grading.reference import load_private
from s2s_ref.grading.registry import Exercise, Mistake, test_rng

EXERCISE = Exercise(
    key="ex06",
    title="An encoder and a decoder in PyTorch",
    notebook="ex06_torch_seq2seq.ipynb",
    functions=("Encoder", "Decoder"),
    hidden_modules=("s2s_ref.torch_nn.seq2seq",),
    in_worker=True,
)
ref = load_private("s2s_ref.torch_nn.seq2seq")
N, S, T, V, Vt, E, H = 3, 7, 5, 11, 9, 6, 4  # all different; the context is C = 2H = 8
C = 2 * H
TOL = dict(rtol=1e-6, atol=1e-8)


def _rng():
    seed = int(test_rng().integers(2**31))
    return torch.Generator().manual_seed(seed)


def _source(g, n_pad=0):
    """src (N, S + n_pad) with lengths S, 2 and 4 (one full row, padding after the others)."""
    lengths = torch.tensor([S, 2, 4])
    width = S + n_pad
    mask = torch.arange(width)[None] < lengths[:, None]
    src = torch.randint(1, V, (N, width), generator=g).masked_fill(~mask, 0)
    return src, mask


def _build(learner, name, args, reference):
    """The learner's module with the reference's weights (double precision)."""
    module = getattr(learner, name)(*args)
    if not isinstance(module, torch.nn.Module):
        raise Feedback(
            f"`{name}(...)` should build a torch.nn.Module, got {type(module).__name__}."
        )
    module = module.double()
    theirs = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    if theirs != ours:
        raise Feedback(f"`{name}` has the wrong parameters. " + _parameter_advice(theirs, ours))
    module.load_state_dict(reference.state_dict())
    return module


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


def _np(what, value):
    if not isinstance(value, torch.Tensor):
        raise Feedback(f"{what} should be a torch.Tensor, got {type(value).__name__}.")
    return value.detach().double().numpy()


def _pair(what, result, names):
    if not isinstance(result, tuple) or len(result) != 2:
        raise Feedback(f"`{what}` should return a tuple ({', '.join(names)}).")
    return result


def _as_arrays(mistakes):
    """Known-mistake producers returning NumPy arrays, computed without autograd."""

    def produce(f):
        with torch.no_grad():
            return f().numpy()

    return {k: (lambda f=f: produce(f)) for k, f in mistakes.items()}


def _encoder_pair(learner, g, n_pad=0):
    reference = ref.Encoder(V, E, H).double()
    enc = _build(learner, "Encoder", (V, E, H), reference)
    src, mask = _source(g, n_pad)
    return enc, reference, src, mask


def _encoder_mistakes(reference, src, mask):
    """Summaries that typical encoder bugs produce, from the reference's weights."""
    x = reference.embedding(src)
    _, h_unpacked = reference.rnn(x)
    packed = pack_padded_sequence(x, mask.sum(1), batch_first=True, enforce_sorted=False)
    _, h_n = reference.rnn(packed)
    return {
        "the padding is read: pack the embedded batch with pack_padded_sequence (lengths from "
        "src_mask), so each direction stops, or starts, at the last real token.":
        lambda: h_unpacked.transpose(0, 1).reshape(N, C),
        "h_n has shape (2, N, H): transpose it to (N, 2, H) before reshaping to (N, 2H), or "
        "concatenate h_n[0] and h_n[1] along the last axis.": lambda: h_n.reshape(N, C),
        "the two directions are swapped: the summary is [forward; backward].":
        lambda: torch.cat([h_n[1], h_n[0]], dim=-1),
    }  # fmt: skip


@EXERCISE.test(points=1, function="Encoder")
def encoder_shapes(learner):
    """returns outputs (N, S, 2H) and summary (N, 2H)"""
    enc, _, src, mask = _encoder_pair(learner, _rng())
    out, summary = _pair("Encoder.forward", call_learner("Encoder.forward", enc, src, mask),
                         ("outputs", "summary"))  # fmt: skip
    for what, got, want in [("outputs", out, (N, S, C)), ("summary", summary, (N, C))]:
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != want:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise Feedback(f"{what} has shape {shape}, expected {want} (N={N}, S={S}, 2H={C}).")


@EXERCISE.test(points=3, function="Encoder")
def encoder_matches_reference(learner):
    """outputs and summary equal the reference on the same weights (padded batch)"""
    enc, reference, src, mask = _encoder_pair(learner, _rng())
    out, summary = _pair("Encoder.forward", call_learner("Encoder.forward", enc, src, mask),
                         ("outputs", "summary"))  # fmt: skip
    with torch.no_grad():
        want_out, want_summary = reference(src, mask)
    mistakes = _as_arrays(_encoder_mistakes(reference, src, mask))
    check_array("summary", _np("summary", summary), want_summary.numpy(), shape_hint="(N, 2H)",
                mistakes=mistakes, **TOL)  # fmt: skip
    check_array("outputs", _np("outputs", out), want_out.numpy(), shape_hint="(N, S, 2H)", **TOL)


@EXERCISE.test(points=2, function="Encoder")
def encoder_ignores_padding(learner):
    """extra padding and the ids under the mask change nothing"""
    g = _rng()
    enc, _, src, mask = _encoder_pair(learner, g)
    _, summary = _pair(
        "Encoder.forward", call_learner("Encoder.forward", enc, src, mask), ("o", "s")
    )
    wide = torch.cat([src, torch.randint(1, V, (N, 3), generator=g)], dim=1)  # junk ids...
    wide_mask = torch.cat([mask, torch.zeros(N, 3, dtype=torch.bool)], dim=1)  # ...masked out
    wide = torch.where(wide_mask, wide, torch.randint(1, V, wide.shape, generator=g))
    wide_out = call_learner("Encoder.forward", enc, wide, wide_mask)
    _, wide_summary = _pair("Encoder.forward", wide_out, ("o", "s"))
    err = float((wide_summary - summary).detach().abs().max())
    if err > 1e-8:
        raise Feedback(
            f"the summary changes by up to {err:.3g} when the same sentences get 3 more padded "
            "positions holding other ids: the encoder reads padding. Pack the batch "
            "(pack_padded_sequence with the lengths from src_mask)."
        )


@EXERCISE.test(points=2, function="Encoder")
def encoder_gradients_match_reference(learner):
    """parameter gradients equal the reference's; padded tokens get none"""
    g = _rng()
    enc, reference, src, mask = _encoder_pair(learner, g)
    dsummary = torch.randn(N, C, generator=g, dtype=torch.float64)
    _, summary = _pair(
        "Encoder.forward", call_learner("Encoder.forward", enc, src, mask), ("o", "s")
    )
    call_learner("backward of the summary", lambda: (summary * dsummary).sum().backward())
    (reference(src, mask)[1] * dsummary).sum().backward()
    theirs = dict(enc.named_parameters())
    for name, p in reference.named_parameters():
        got = theirs[name].grad
        if got is None:
            raise Feedback(f"{name} gets no gradient: is the summary detached from it?")
        check_array(f"the gradient of {name}", got.double().numpy(), p.grad.numpy(), **TOL)
    pad_rows = torch.unique(src[~mask])
    real_rows = torch.unique(src[mask])
    only_pad = pad_rows[~torch.isin(pad_rows, real_rows)]
    if only_pad.numel() and float(theirs["embedding.weight"].grad[only_pad].abs().max()) > 0:
        raise Feedback("the embeddings of padded tokens get a gradient: the encoder reads padding.")


def _decoder_pair(learner, g):
    reference = ref.Decoder(Vt, E, H, C).double()
    dec = _build(learner, "Decoder", (Vt, E, H, C), reference)
    tgt_in = torch.randint(1, Vt, (N, T), generator=g)
    context = torch.randn(N, C, generator=g, dtype=torch.float64)
    state = torch.randn(1, N, H, generator=g, dtype=torch.float64) * 0.5
    return dec, reference, tgt_in, context, state


def _decoder_mistakes(reference, tgt_in, context, state):
    x = reference.embedding(tgt_in)
    ctx = context[:, None].expand(-1, T, -1)
    return {
        "the decoder input is [context; embedding]; the order is [embedded token; context].":
        lambda: reference.proj(reference.rnn(torch.cat([ctx, x], -1), state)[0]),
        "the initial state is ignored: pass `state` to the GRU.":
        lambda: reference.proj(reference.rnn(torch.cat([x, ctx], -1))[0]),
        "these are probabilities: return the logits, before any softmax.":
        lambda: torch.softmax(reference(tgt_in, context, state)[0], -1),
        "these are log-probabilities: return the logits, before any log_softmax.":
        lambda: torch.log_softmax(reference(tgt_in, context, state)[0], -1),
    }  # fmt: skip


@EXERCISE.test(points=3, function="Decoder")
def decoder_matches_reference(learner):
    """logits (N, T, V) and the new state equal the reference on the same weights"""
    dec, reference, tgt_in, context, state = _decoder_pair(learner, _rng())
    out = call_learner("Decoder.forward", dec, tgt_in, context, state)
    logits, new_state = _pair("Decoder.forward", out, ("logits", "state"))
    with torch.no_grad():
        want, want_state = reference(tgt_in, context, state)
    mistakes = _as_arrays(_decoder_mistakes(reference, tgt_in, context, state))
    check_array("logits", _np("logits", logits), want.numpy(), shape_hint="(N, T, V)",
                mistakes=mistakes, **TOL)  # fmt: skip
    check_array("the returned state", _np("state", new_state), want_state.numpy(),
                shape_hint="(1, N, H)", **TOL)  # fmt: skip


@EXERCISE.test(points=1, function="Decoder")
def decoder_is_causal(learner):
    """under teacher forcing, output t does not depend on inputs after t"""
    g = _rng()
    dec, _, tgt_in, context, state = _decoder_pair(learner, g)
    logits = call_learner("Decoder.forward", dec, tgt_in, context, state)[0]
    changed = tgt_in.clone()
    changed[:, 3:] = torch.randint(1, Vt, (N, T - 3), generator=g)
    later = call_learner("Decoder.forward", dec, changed, context, state)[0]
    if not torch.allclose(logits[:, :3], later[:, :3]):
        raise Feedback(
            "changing the inputs from step 3 on changed the logits of steps 0-2: "
            "the decoder must read its inputs left to right (a one-way GRU)."
        )


@EXERCISE.test(points=1, function="Decoder")
def decoder_gradients_match_reference(learner):
    """parameter, context and state gradients equal the reference's"""
    g = _rng()
    dec, reference, tgt_in, context, state = _decoder_pair(learner, g)
    dlogits = torch.randn(N, T, Vt, generator=g, dtype=torch.float64)
    grads = []
    for module in (dec, reference):
        ctx, st = context.clone().requires_grad_(), state.clone().requires_grad_()
        out = call_learner("Decoder.forward", module, tgt_in, ctx, st)[0]
        call_learner("backward of the logits", lambda out=out: (out * dlogits).sum().backward())
        grads.append({"context": ctx.grad, "state": st.grad,
                      **{n: p.grad for n, p in module.named_parameters()}})  # fmt: skip
    for name, want in grads[1].items():
        got = grads[0][name]
        if got is None:
            raise Feedback(f"{name} gets no gradient from the logits: is it used?")
        check_array(f"the gradient of {name}", got.double().numpy(), want.numpy(), **TOL)


@EXERCISE.test(points=3, function="Decoder")
def trains_to_target(learner):
    """your Encoder and Decoder learn to reverse sequences (>= 80 % exact match)"""
    from s2s_ref.grading.ex06_training import train_and_score

    accuracy = train_and_score(learner.Encoder, learner.Decoder, call_learner)
    if accuracy < 0.8:
        raise Feedback(
            f"after 200 training steps your model reverses {accuracy:.0%} of held-out sequences "
            "exactly; the reference reaches 94 %. Check the tests above first."
        )


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
        "the padding is read: pack the embedded batch",
    ),
    Mistake(
        "h_n reshaped without transposing",
        "Encoder",
        {
            "summary = torch.cat([h_n[0], h_n[1]], dim=-1)": "summary = h_n.reshape(N, -1)",
        },
        "transpose it to (N, 2, H) before reshaping",
    ),
    Mistake(
        "directions swapped",
        "Encoder",
        {
            "summary = torch.cat([h_n[0], h_n[1]], dim=-1)": (
                "summary = torch.cat([h_n[1], h_n[0]], dim=-1)"
            ),
        },
        "the two directions are swapped",
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
        "the order is [embedded token; context]",
    ),
    Mistake(
        "initial state ignored",
        "Decoder",
        {
            "torch.cat([x, ctx], dim=-1), state)": "torch.cat([x, ctx], dim=-1))",
        },
        "the initial state is ignored",
    ),
    Mistake(
        "softmax returned instead of logits",
        "Decoder",
        {
            "logits = self.proj(out)": "logits = torch.softmax(self.proj(out), dim=-1)",
        },
        "return the logits, before any softmax",
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
