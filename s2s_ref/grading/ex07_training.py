"""The training part of ex07: chapter 6's encoder joined to the learner's Luong decoder, the
reversal task it is trained on (used by the grader's training test and the notebook's last part),
and ``learner_training``, which trains the learner's decoder where the learner's code runs (the
grading worker, or the notebook's kernel for a check cell). The held-out set is not here: the
training loop's evaluation asks the checker (``ex07``), which scores the weights it is sent.

Book: chapter 7; notebook: ex07_torch_attention.ipynb.
"""

from types import SimpleNamespace

import torch

from s2s_ref.grading.torch_ops import deterministic


class WithEncoder(torch.nn.Module):
    """Chapter 6's packed encoder, a bridge and the learner's decoder, for the training loop."""

    def __init__(self, decoder, V, E, H):
        super().__init__()
        from s2s_ref.torch_nn.seq2seq import Encoder

        self.encoder = Encoder(V, E, H // 2, bidirectional=True)
        self.bridge = torch.nn.Linear(self.encoder.out_size, H)
        self.decoder = decoder

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, generator=None):
        enc, summary = self.encoder(src, src_mask)
        h0 = torch.tanh(self.bridge(summary))[None]
        return self.decoder(tgt_in, enc, src_mask, h0)[0]


def reversal(n, seed, symbols=6, max_len=5):
    """n reversals of lengths 2..max_len over ids 3..3+symbols-1: PAD 0, BOS 1, EOS 2."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, max_len + 1, (n,), generator=g)
    src_mask = torch.arange(max_len)[None] < lengths[:, None]
    src = torch.randint(3, 3 + symbols, (n, max_len), generator=g).masked_fill(~src_mask, 0)
    tgt_out = torch.zeros(n, max_len + 1, dtype=torch.long)
    for i, L in enumerate(lengths.tolist()):
        tgt_out[i, :L] = src[i, :L].flip(0)
        tgt_out[i, L] = 2
    tgt_mask = torch.arange(max_len + 1)[None] <= lengths[:, None]
    tgt_in = torch.cat([torch.ones(n, 1, dtype=torch.long), tgt_out[:, :-1]], 1) * tgt_mask
    return SimpleNamespace(src=src, src_mask=src_mask, tgt_in=tgt_in, tgt_out=tgt_out,
                           tgt_mask=tgt_mask)  # fmt: skip


TRAIN_TARGET = 0.9


def teacher_forced_accuracy(model, data):
    """Teacher-forced token accuracy on real target tokens."""
    model.eval()
    with torch.no_grad():
        pred = model(data.src, data.src_mask, data.tgt_in).argmax(-1)
    return float((pred == data.tgt_out)[data.tgt_mask].double().mean())


V, E, H, STEPS, EVAL_EVERY = 3 + 6, 16, 32, 200, 25


def learner_training(LuongDecoder, data, seed, evaluate):
    """Train WithEncoder(LuongDecoder(V, E, H, H)) on ``data`` (a ``reversal`` batch as arrays)
    for at most STEPS steps, stopping once ``evaluate(model) >= TRAIN_TARGET`` (asked every
    EVAL_EVERY steps); torch seeded with ``seed``. -> the number of steps trained."""
    from s2s_ref.torch_nn.training import TrainConfig, train

    with deterministic(seed):
        model = WithEncoder(LuongDecoder(V, E, H, H), V, E, H)
        config = TrainConfig(lr=2e-2, batch_size=64, max_steps=STEPS, warmup_steps=10,
                             seed=int(seed), eval_every=EVAL_EVERY, target=TRAIN_TARGET,
                             device="cpu", cpu_threads=1, progress=False)  # fmt: skip
        batch = SimpleNamespace(**{k: torch.as_tensor(v) for k, v in data.items()})
        return train(model, batch, config, evaluate).step
