"""Three encoders, one task: recurrent, convolutional and self-attention encoders under the same
Luong attention decoder, the same budget and the same data (reversal, lengths 5..60), each over
several seeds (mean and spread reported).

Each encoder meets chapter 6's contract, ``forward(src (N, S), src_mask (N, S)) -> outputs
(N, S, C), summary (N, C)`` with ``out_size = C = 128``, so ``AttentionSeq2Seq`` takes it as it
is. The recurrent one is chapter 6's bidirectional GRU; the convolutional one stacks residual
1-D convolutions over embeddings plus sinusoidal positions (as convolutional seq2seq models
add position embeddings); the self-attention one is a pre-norm Transformer encoder layer.
Reported: parameters of each encoder, training tokens per CPU second, accuracy by length per
seed, and per encoder the mean, min and max over seeds.

    python -m s2s_ref.experiments.transformer_encoders [--budget 80] [--seeds 0,1,2] [--out FILE]

writes ``s2s_ref/experiments/results/transformer_encoders.json`` by default and prints the table.
Book: chapter 8, "Three encoders, one task".
"""

import argparse
import math

import numpy as np
import torch
from torch import nn

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import budget_arguments, output_arg, reversal_header
from s2s_ref.experiments.transformer_common import (
    accuracy_by_length,
    cpu_budget_config,
    cpu_budget_note,
    n_parameters,
    save,
)
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.seq2seq import Encoder
from s2s_ref.torch_nn.training import train
from s2s_ref.torch_nn.transformer import EncoderLayer, positional_encoding

MIN_LEN, MAX_LEN, SYMBOLS, C = 5, 60, 10, 128
EVAL_LENGTHS = (10, 20, 30, 40, 50, 60)
VOCAB = Vocab("abcdefghij")
ENCODERS = ("recurrent", "convolutional", "self_attention")


def _masked_mean(x, src_mask):
    """x (N, S, C), src_mask (N, S) -> the mean over real positions, (N, C)."""
    m = src_mask[..., None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1)


class ConvEncoder(nn.Module):
    """Embedding + sinusoidal positions, then n_layers residual blocks x + relu(conv(x)).

    V: source vocabulary; C: channels (the output size); kernel: odd width of each convolution;
    padding is zeroed before every convolution, so a real position never reads a padded one.
    forward(src (N, S), src_mask (N, S) bool) -> outputs (N, S, C), summary (N, C) (the mean of
    the outputs over real positions).
    Book: chapter 8, "Three encoders, one task".
    """

    def __init__(self, V, C, n_layers=2, kernel=3):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"ConvEncoder: kernel must be odd (same-length output), got {kernel}")
        self.embedding = nn.Embedding(V, C)
        self.convs = nn.ModuleList(
            nn.Conv1d(C, C, kernel, padding=kernel // 2) for _ in range(n_layers)
        )
        self.out_size = C

    def forward(self, src, src_mask):
        m = src_mask[..., None].to(torch.float32)
        x = self.embedding(src) + positional_encoding(
            src.shape[1], self.out_size, device=src.device
        )
        for conv in self.convs:  # Conv1d wants (N, C, S)
            x = x + torch.relu(conv((x * m).transpose(1, 2))).transpose(1, 2)
        x = x * m
        return x, _masked_mean(x, src_mask)


class SelfAttentionEncoder(nn.Module):
    """Embedding * sqrt(C) + sinusoidal positions, n_layers pre-norm Transformer encoder layers
    (``torch_nn.transformer.EncoderLayer``), a final layer norm. The embeddings start N(0, 1/C),
    as the Transformer's do, so that the scaled embedding and the positions (both of size about 1)
    weigh alike; with nn.Embedding's N(0, 1) the embedding would be sqrt(C) = 11 times larger and
    drown the positions that reversal needs.

    forward(src (N, S), src_mask (N, S) bool) -> outputs (N, S, C) (0 on padding), summary
    (N, C) (their mean over real positions).
    Book: chapter 8, "Three encoders, one task".
    """

    def __init__(self, V, C, n_heads=4, H=256, n_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(V, C)
        nn.init.normal_(self.embedding.weight, 0.0, C**-0.5)
        self.layers = nn.ModuleList(EncoderLayer(C, n_heads, H) for _ in range(n_layers))
        self.norm = nn.LayerNorm(C)
        self.out_size = C

    def forward(self, src, src_mask):
        x = self.embedding(src) * math.sqrt(self.out_size)
        x = x + positional_encoding(src.shape[1], self.out_size, device=src.device)
        for layer in self.layers:
            x = layer(x, src_mask[:, None, :])
        x = self.norm(x) * src_mask[..., None]
        return x, _masked_mean(x, src_mask)


def make_encoder(kind, V):
    """kind in ENCODERS -> an encoder module with out_size C."""
    if kind == "recurrent":
        return Encoder(V, 64, C // 2, "gru", bidirectional=True)
    if kind == "convolutional":
        return ConvEncoder(V, C)
    if kind == "self_attention":
        return SelfAttentionEncoder(V, C)
    raise ValueError(f"encoder must be one of {ENCODERS}, got {kind!r}")


def run_one(kind, budget_s, seed, n_train=20_000, lengths=EVAL_LENGTHS):
    """Train encoder `kind` + the shared decoder design under budget_s CPU s -> results row."""
    rng = np.random.default_rng(seed)
    data = make_batch(make_reverse(n_train, rng, MIN_LEN, MAX_LEN, SYMBOLS), VOCAB, VOCAB)
    torch.manual_seed(seed)  # the encoders' own default initialisation
    encoder = make_encoder(kind, len(VOCAB))
    model = AttentionSeq2Seq(encoder, len(VOCAB), emb=32, hidden=64, decoder="luong")
    config = cpu_budget_config(
        lr=3e-3,
        batch_size=64,
        max_steps=20_000,
        warmup_steps=100,
        eval_every=25,
        budget_s=budget_s,
        seed=seed,
    )
    result = train(model, data, config)
    tokens = result.tokens_per_s * result.seconds
    return {
        "encoder": kind,
        "seed": seed,
        "encoder_parameters": n_parameters(encoder),
        "parameters": n_parameters(model),
        "steps": result.step,
        "cpu_seconds": round(result.cpu_seconds, 1),
        "train_tokens": int(tokens),
        "tokens_per_cpu_s": round(tokens / result.cpu_seconds),
        "accuracy": accuracy_by_length(model, make_reverse, VOCAB, lengths, seed + 1000),
    }


def summary(rows):
    """Per encoder and evaluated length: mean, min and max token accuracy over the seeds."""
    out = {}
    for kind in ENCODERS:
        runs = [r for r in rows if r["encoder"] == kind]
        if runs:
            out[kind] = {
                L: {"mean": round(float(np.mean(v)), 4), "min": min(v), "max": max(v)}
                for L in runs[0]["accuracy"]
                for v in [[r["accuracy"][L]["token"] for r in runs]]
            }
    return out


def table(res):
    """One row per encoder: parameters, tokens per CPU second, mean token accuracy [min, max]
    over the seeds per length."""
    rows = res["encoders"]
    lengths = list(rows[0]["accuracy"])
    lines = [
        f"seeds {res['seeds']}; token accuracy, mean [min, max] over seeds",
        "encoder          enc.params  tok/cpu-s  " + "  ".join(f"{L:>15}" for L in lengths),
    ]
    for kind, by_length in res["summary"].items():
        first = next(r for r in rows if r["encoder"] == kind)
        speed = round(np.mean([r["tokens_per_cpu_s"] for r in rows if r["encoder"] == kind]))
        cells = "  ".join(
            f"{s['mean']:.2f} [{s['min']:.2f},{s['max']:.2f}]" for s in by_length.values()
        )
        lines.append(f"{kind:<16} {first['encoder_parameters']:>10} {speed:>10}  {cells}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget_arguments(
        parser, budget=80.0, per="encoder and seed", name="transformer_encoders", seeds=[0, 1, 2]
    )
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    res = {
        **reversal_header(MIN_LEN, MAX_LEN, SYMBOLS, args.budget),
        "decoder": "Luong (general score), hidden 64, emb 32",
        "encoder_size": C,
        "budget": cpu_budget_note(args.budget),
        "seeds": args.seeds,
        "encoders": [],
    }
    for seed in args.seeds:
        for kind in ENCODERS:
            res["encoders"].append(run_one(kind, args.budget, seed))
            res["summary"] = summary(res["encoders"])
            save(out, res)  # after every run: an interrupted run keeps what it finished
    print(table(res))
    return res


if __name__ == "__main__":
    main()
