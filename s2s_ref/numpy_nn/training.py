"""Training the NumPy seq2seq: Adam with global-norm clipping, and evaluation.

Adam (Kingma and Ba 2015) keeps running means of each gradient and of its square and steps by
their ratio, so every parameter moves at about the learning rate whatever its gradient's scale.
Book: chapter 3, "Training it".
"""

import time

import numpy as np

from s2s_ref.data.batching import make_batch, pad_batch
from s2s_ref.decoding import greedy_decode
from s2s_ref.metrics import exact_match, token_accuracy
from s2s_ref.numpy_nn.clip import clip_by_global_norm
from s2s_ref.numpy_nn.seq2seq import (
    decoder_step_fn,
    initial_state,
    seq2seq_forward,
    seq2seq_loss,
)
from s2s_ref.teacher_forcing import Schedule


class Adam:
    """Adam on a dict of arrays, updated in place (the optimiser owns the parameters).

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)
    with the bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        self.t += 1
        b1, b2 = self.betas
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.t)
            v_hat = self.v[k] / (1 - b2**self.t)
            self.params[k] -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(g.dtype)


def clipped(grads, max_norm):
    """grads with their global norm clipped to max_norm -> (dict, norm before clipping)."""
    keys = list(grads)
    values, norm = clip_by_global_norm([grads[k] for k in keys], max_norm)
    return dict(zip(keys, values, strict=True)), norm


def train(
    params, next_batch, steps, rng, lr=5e-3, max_norm=5.0, schedule=None, every=100,
    evaluate_fn=None,
):  # fmt: skip
    """Adam on the masked loss; the learning rate falls linearly to 0 over the second half.

    params: dict from init_seq2seq, updated in place; next_batch(rng) -> data.batching.Batch;
    schedule: teacher_forcing.Schedule (default: always teacher forcing); evaluate_fn(params)
    -> dict, called every ``every`` steps and at the end.
    -> history: list of {"step", "loss", "grad_norm", "teacher_ratio", "seconds", **evaluation},
       one per ``every`` steps (the loss averaged over them).
    Book: chapter 3, "Training it".
    """
    schedule = schedule or Schedule()
    opt, history, losses, start = Adam(params, lr), [], [], time.perf_counter()
    for i in range(steps):
        opt.lr = lr * min(1.0, 2.0 * (1.0 - i / steps))  # decaying at the end settles the last %
        b, ratio = next_batch(rng), schedule(i)
        loss, grads, _ = seq2seq_loss(
            params, b.src, b.src_mask, b.tgt_in, b.tgt_out, b.tgt_mask, ratio, rng
        )
        grads, norm = clipped(grads, max_norm)
        opt.step(grads)
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
