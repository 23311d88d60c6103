"""A tiny reversal task as padded tensors, for tests of the PyTorch models (no data module),
and the small seeded model and short training run the training-loop tests share."""

from types import SimpleNamespace

import torch

from s2s_ref.torch_nn.seq2seq import Seq2Seq
from s2s_ref.torch_nn.training import TrainConfig

PAD, BOS, EOS = 0, 1, 2
VOCAB = 9  # ids 3..8 are symbols


def reversal_data(n, seed, min_len=2, max_len=6):
    """n pairs (x, reversed x) of random lengths, padded: src (n, S), tgt_in/out (n, S + 1)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    S = max_len
    src = torch.randint(3, VOCAB, (n, S), generator=g)
    src_mask = torch.arange(S)[None] < lengths[:, None]
    src = src.masked_fill(~src_mask, PAD)
    tgt_out = torch.full((n, S + 1), PAD)
    for i, L in enumerate(lengths.tolist()):
        tgt_out[i, :L] = src[i, :L].flip(0)
        tgt_out[i, L] = EOS
    tgt_mask = torch.arange(S + 1)[None] <= lengths[:, None]
    bos = torch.full((n, 1), BOS)
    tgt_in = torch.cat([bos, tgt_out[:, :-1]], dim=1).masked_fill(~tgt_mask, PAD)
    return SimpleNamespace(
        src=src, src_mask=src_mask, tgt_in=tgt_in, tgt_out=tgt_out, tgt_mask=tgt_mask
    )


def small_model(seed):
    """A Seq2Seq of the reversal vocabulary (E = 5, H = 7), its weights fixed by seed."""
    return Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, generator=torch.Generator().manual_seed(seed))


def short_run(folder, **kw):
    """12 steps of batches of 8 on the CPU, checkpointing into folder; kw: other fields."""
    base = dict(
        lr=5e-3,
        batch_size=8,
        max_steps=12,
        warmup_steps=3,
        eval_every=4,
        device="cpu",
        progress=False,
        checkpoint_dir=str(folder),
    )
    return TrainConfig(**{**base, **kw})
