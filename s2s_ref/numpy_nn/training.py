"""Training the NumPy seq2seq: Adam (``optim.Adam``) with global-norm clipping, and evaluation.

Book: chapter 3, "Training it".
"""

import time

import numpy as np

from s2s_ref.data.batching import make_batch, pad_batch
from s2s_ref.decoding import greedy_decode
from s2s_ref.metrics import exact_match, token_accuracy
from s2s_ref.numpy_nn.clip import clip_by_global_norm
from s2s_ref.numpy_nn.optim import Adam
from s2s_ref.numpy_nn.seq2seq import (
    decoder_step_fn,
    initial_state,
    seq2seq_forward,
    seq2seq_loss,
)
from s2s_ref.teacher_forcing import Schedule


def clipped(grads, max_norm):
    """grads with their global norm clipped to max_norm -> (dict, norm before clipping)."""
    keys = list(grads)
    values, norm = clip_by_global_norm([grads[k] for k in keys], max_norm)
    return dict(zip(keys, values, strict=True)), norm


def train(
    params,
    next_batch,
    steps,
    rng,
    lr=5e-3,
    max_norm=5.0,
    schedule=None,
    every=100,
    evaluate_fn=None,
):
    """Adam on the masked loss; the learning rate falls linearly to 0 over the second half.

    params: dict from init_seq2seq, whose entries are replaced by the trained arrays;
    next_batch(rng) -> data.batching.Batch;
    schedule: teacher_forcing.Schedule (default: always teacher forcing); evaluate_fn(params)
    -> dict, called every ``every`` steps and at the end.
    -> history: list of {"step", "loss", "grad_norm", "teacher_ratio", "seconds", **evaluation},
       one per ``every`` steps (the loss averaged over them).
    Book: chapter 3, "Training it".
    """
    schedule = schedule or Schedule()
    state, history, losses, start = Adam().init(params), [], [], time.perf_counter()
    for i in range(steps):
        opt = Adam(lr=lr * min(1.0, 2.0 * (1.0 - i / steps)))  # decaying settles the last %
        b, ratio = next_batch(rng), schedule(i)
        loss, grads, _ = seq2seq_loss(
            params, b.src, b.src_mask, b.tgt_in, b.tgt_out, b.tgt_mask, ratio, rng
        )
        grads, norm = clipped(grads, max_norm)
        new_params, state = opt.step(params, grads, state)
        params.update(new_params)  # new arrays in the caller's dict; old arrays untouched
        losses.append(loss)
        if (i + 1) % every == 0 or i + 1 == steps:
            row = {"step": i + 1, "loss": float(np.mean(losses)), "grad_norm": norm}
            row.update(teacher_ratio=ratio, seconds=time.perf_counter() - start)
            history.append({**row, **(evaluate_fn(params) if evaluate_fn else {})})
            losses = []
    return history


def predict(params, sources, src_vocab, tgt_vocab, max_len=50):
    """Greedy outputs as token lists (free running: the model reads its own output).

    sources: source token lists; max_len: the longest output (decoding stops earlier once every
    output has reached EOS) -> one token list per source, without EOS.
    Book: chapter 3, "Measuring a sequence model".
    """
    src, src_mask, _ = pad_batch([src_vocab.encode(s) for s in sources])
    step = decoder_step_fn(params)
    state = initial_state(params, src, src_mask)
    out, _, _ = greedy_decode(
        step, state, len(sources), tgt_vocab.sos_id, tgt_vocab.eos_id, max_len
    )
    return [tgt_vocab.decode(row) for row in out]


def evaluate(params, pairs, src_vocab, tgt_vocab):
    """{"tf_token_acc", "free_token_acc", "free_exact"} on pairs.

    tf_token_acc: teacher-forced, the argmax at every real target position (y + EOS) given the
    true prefix; free_*: greedy decoding from SOS alone, what the model does at test time. The
    gap between the two is exposure bias (chapter 4).
    """
    b = make_batch(pairs, src_vocab, tgt_vocab)
    logits, _, _ = seq2seq_forward(params, b.src, b.src_mask, b.tgt_in)
    right = (logits.argmax(axis=2) == b.tgt_out) & b.tgt_mask
    targets = [t for _, t in pairs]
    free = predict(params, [s for s, _ in pairs], src_vocab, tgt_vocab)
    return {
        "tf_token_acc": float(right.sum() / b.tgt_mask.sum()),
        "free_token_acc": token_accuracy(targets, free),
        "free_exact": exact_match(targets, free),
    }
