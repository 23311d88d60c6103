"""The PyTorch reference seq2seq against a decoder written the way popular tutorials write it,
same task (date normalisation), same sizes, same process, one thread, CPU time.

- ``reference``: ``AttentionSeq2Seq`` with a Luong decoder: packed encoder, keys projected once,
  the teacher-forced decoder RNN as one fused call and attention for all steps as one batched
  product; batches of 64, trimmed to their longest row.
- ``reference + length buckets``: the same, with batches of dates of similar lengths;
- ``tutorial, batch 64``: the tutorial decoder (below) on the same padded batches, unpacked.
- ``tutorial, batch 1``: the same decoder trained one pair at a time, as the tutorials do.

The tutorial decoder runs one GRU call per target step and, inside the loop, recomputes the
additive attention's projection of all encoder states (``Ua(keys)``), although it does not change
from step to step. Both models have E = 32, H = 64 (per encoder direction) and A = 64.

Run: ``python -m s2s_ref.bench.torch_seq2seq [--budget 40] [--target 0.9] [--device cpu]``.
Prints target tokens per second of training (CPU seconds on the CPU, wall seconds on CUDA),
seconds to reach ``target`` exact match on 500 validation dates (evaluation excluded), and the
ratios to the reference.
Budget: the reference at least 3x faster than the step-by-step decoder.
Book: chapter 6, "The training loop"; appendix "Performance".
"""

import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from s2s_ref.data.batching import make_batch
from s2s_ref.data.dates import make_dates
from s2s_ref.data.vocab import Vocab
from s2s_ref.metrics import exact_match
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.loss import masked_cross_entropy
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.training import trim_batch

E, H, A = 32, 64, 64
TGT = Vocab("0123456789-")


class TutorialSeq2Seq(nn.Module):
    """A bidirectional GRU encoder and an additive-attention GRU decoder, step by step."""

    def __init__(self, src_vocab, tgt_vocab):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(src_vocab, E), nn.Embedding(tgt_vocab, E)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * H, H)
        self.Wa, self.Ua, self.va = nn.Linear(H, A), nn.Linear(2 * H, A), nn.Linear(A, 1)
        self.decoder = nn.GRU(E + 2 * H, H, batch_first=True)
        self.out = nn.Linear(H, tgt_vocab)

    def encode(self, src, src_mask):
        keys, h_n = self.encoder(self.src_emb(src))  # unpacked: padding is read, as in tutorials
        h0 = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=-1)))[None]
        return (keys, src_mask), h0

    def step(self, tokens, memory, state):
        keys, mask = memory
        scores = self.va(torch.tanh(self.Wa(state[-1])[:, None] + self.Ua(keys)))[..., 0]
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # (N, S)
        context = torch.bmm(weights[:, None], keys)  # (N, 1, 2H)
        x = torch.cat([self.tgt_emb(tokens)[:, None], context], dim=-1)
        out, state = self.decoder(x, state)
        return torch.log_softmax(self.out(out[:, 0]), dim=-1), state

    def forward(self, src, src_mask, tgt_in):
        memory, state = self.encode(src, src_mask)
        steps = []
        for t in range(tgt_in.shape[1]):
            logp, state = self.step(tgt_in[:, t], memory, state)
            steps.append(logp)
        return torch.stack(steps, dim=1)  # log-probabilities: the loss's log_softmax keeps them


def _data(seed=0):
    rng = np.random.default_rng(seed)
    train, val = make_dates(20_000, rng), make_dates(500, rng)
    src = Vocab(sorted({c for s, _ in train for c in s}), allow_unk=True)
    return src, make_batch(train, src, TGT), make_batch(val, src, TGT)


def _tensors(batch, idx, device):
    keys = ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")
    b = trim_batch({k: torch.as_tensor(getattr(batch, k)[idx]) for k in keys})
    return {k: v.to(device) for k, v in b.items()}


def _clock(device):
    """CPU seconds of this process on the CPU; on CUDA, wall seconds after the queue drains."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def _exact(model, val, device):
    model.eval()
    with torch.no_grad():
        src, mask = torch.as_tensor(val.src).to(device), torch.as_tensor(val.src_mask).to(device)
        tokens, _, _ = greedy_decode(model, src, mask, TGT.sos_id, TGT.eos_id, 12)
    model.train()
    outputs = [TGT.decode(row) for row in tokens.cpu().numpy()]
    return exact_match([TGT.decode(row) for row in val.tgt_out], outputs)


def bucketed_order(lengths, batch_size, seed=0, window=50):
    """Shuffle, sort each window of ``window`` batches by length, cut batches, shuffle them."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=g)
    chunks = []
    for start in range(0, len(order), batch_size * window):
        part = order[start : start + batch_size * window]
        part = part[torch.argsort(torch.as_tensor(lengths)[part], stable=True)]
        chunks += list(part.split(batch_size))
    return torch.cat([chunks[i] for i in torch.randperm(len(chunks), generator=g)])


def run(model, data, val, batch_size, budget, target, device, bucket=False, eval_every=6400):
    """Train until ``target`` exact match or ``budget`` CPU seconds of training.

    -> (target tokens per training CPU second, CPU seconds to target or None, final accuracy)
    """
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2 if batch_size > 1 else 1e-3)
    if bucket:  # batches of similar lengths: little padding for the encoder to run over
        order = bucketed_order(data.src_mask.sum(1), batch_size)
    else:
        order = torch.randperm(len(data.src), generator=torch.Generator().manual_seed(0))
    spent, tokens, examples, step, acc = 0.0, 0, 0, 0, 0.0
    while spent < budget:
        idx = order[(step * batch_size) % len(order) :][:batch_size]
        b = _tensors(data, idx.numpy(), device)
        start = _clock(device)
        logits = model(b["src"], b["src_mask"], b["tgt_in"])
        loss = masked_cross_entropy(logits, b["tgt_out"], b["tgt_mask"])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        spent += _clock(device) - start
        tokens += int(b["tgt_mask"].sum())
        step, examples = step + 1, examples + len(idx)
        if examples // eval_every != (examples - len(idx)) // eval_every:
            acc = _exact(model, val, device)  # not timed: the same cost for every model
            if acc >= target:
                return tokens / spent, spent, acc
    return tokens / spent, None, _exact(model, val, device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=40.0, help="CPU s of training per model")
    parser.add_argument("--target", type=float, default=0.9, help="validation exact match")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small RNNs: one thread is fastest, and fair on a shared machine
    src_vocab, data, val = _data()
    rows = []

    def reference():
        return AttentionSeq2Seq(len(src_vocab), len(TGT), emb=E, hidden=H, decoder="luong")

    def tutorial():
        return TutorialSeq2Seq(len(src_vocab), len(TGT))

    for name, make, batch_size, bucket in [
        ("reference (fused Luong)", reference, 64, False),
        ("reference + length buckets", reference, 64, True),
        ("tutorial, batch 64", tutorial, 64, False),
        ("tutorial, batch 1", tutorial, 1, False),
    ]:
        torch.manual_seed(0)
        model = make()
        n_params = sum(p.numel() for p in model.parameters())
        tps, to_target, acc = run(model, data, val, batch_size, args.budget, args.target,
                                  args.device, bucket)  # fmt: skip
        rows.append((name, n_params, tps, to_target, acc))
    ref_tps, ref_time = rows[0][2], rows[0][3]
    clock = "wall" if torch.device(args.device).type == "cuda" else "CPU"
    print(f"date normalisation, E={E} H={H}, {args.device}, 1 thread, {clock} seconds of training; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(
        f"{'model':26s} {'params':>7s} {'tokens/s':>9s} {'x slower':>8s} "
        f"{'s to ' + format(args.target, '.0%'):>9s} {'x slower':>8s} {'final acc':>9s}"
    )
    for name, n_params, tps, to_target, acc in rows:
        t = f"{to_target:9.1f}" if to_target is not None else f"{'>' + str(int(args.budget)):>9s}"
        if to_target is not None and ref_time is not None:
            ratio = f"{to_target / ref_time:8.1f}"
        elif ref_time is not None:
            ratio = f"{'>' + format(args.budget / ref_time, '.1f'):>8s}"
        else:
            ratio = f"{'-':>8s}"
        print(f"{name:26s} {n_params:7d} {tps:9.0f} {ref_tps / tps:8.1f} {t} {ratio} {acc:9.1%}")


if __name__ == "__main__":
    main()
