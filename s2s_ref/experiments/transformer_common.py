"""What chapter 8's experiments share: the two model families at matched sizes, parameter counts,
greedy accuracy by length, argument checks and the one way they write results.

The pair compared everywhere: chapter 7's GRU + Bahdanau attention (``AttentionSeq2Seq``) and
the course's Transformer (``torch_nn.transformer.Transformer``), sized so that their parameter
counts are within 10 % of each other (the scripts report both counts).
Book: chapter 8, "Long sequences and three encoders".
"""

import argparse
import json
import os

import numpy as np
import torch

from s2s_ref.atomic import check_output, write_atomic
from s2s_ref.data.batching import make_batch
from s2s_ref.experiments.cli import (
    budget_config,
    seed_list,  # noqa: F401 (the scripts' import of it)
)
from s2s_ref.metrics import token_accuracy
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.transformer import Transformer

MODELS = ("gru_attention", "transformer")


def build(kind, src_vocab, tgt_vocab, seed, size="base", decoder="bahdanau"):
    """A seeded model of one family: kind in MODELS; size "base" (about 0.22 M parameters on a
    14-symbol task) or "small" (about 0.1 M); decoder: the GRU's attention, "bahdanau" or
    "luong" (chapter 7's two; ignored for the Transformer) -> nn.Module with forward / encode /
    step. On 14 symbols, small: Transformer 97,070, GRU + Luong 96,722, GRU + Bahdanau 105,230.
    """
    if kind not in MODELS:
        raise ValueError(f"model kind must be one of {MODELS}, got {kind!r}")
    if size not in ("base", "small"):
        raise ValueError(f"size must be 'base' or 'small', got {size!r}")
    if decoder not in ("bahdanau", "luong"):
        raise ValueError(f"decoder must be 'bahdanau' or 'luong', got {decoder!r}")
    generator = torch.Generator().manual_seed(seed)
    if kind == "gru_attention":
        hidden = {("base", "bahdanau"): 96, ("small", "bahdanau"): 64, ("base", "luong"): 96,
                  ("small", "luong"): 68}[size, decoder]  # fmt: skip
        return AttentionSeq2Seq(
            src_vocab,
            tgt_vocab,
            emb=32,
            hidden=hidden,
            decoder=decoder,
            attn=hidden,
            generator=generator,
        )
    H = 256 if size == "base" else 96
    return Transformer(
        src_vocab,
        tgt_vocab,
        D=64 if size == "base" else 48,
        n_heads=4,
        H=H,
        n_layers=2,
        generator=generator,
    )


def n_parameters(model):
    """The number of trainable scalars of a module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def greedy_strings(model, pairs, src_vocab, tgt_vocab, max_len, batch_size=128):
    """Greedy decodes of [(source tokens, target tokens)] -> [predicted token list], in order."""
    model.eval()
    out = []
    for start in range(0, len(pairs), batch_size):
        b = make_batch(pairs[start : start + batch_size], src_vocab, tgt_vocab)
        tokens, _, _ = greedy_decode(
            model,
            torch.as_tensor(b.src),
            torch.as_tensor(b.src_mask),
            tgt_vocab.sos_id,
            tgt_vocab.eos_id,
            max_len,
        )
        out.extend(tgt_vocab.decode(row) for row in tokens.numpy())
    return out


def accuracy_by_length(model, make_task, vocab, lengths, seed, n=100):
    """Greedy token accuracy and exact match on n held-out sequences of each length.

    make_task: ``s2s_ref.data.tasks.make_reverse`` or a function with its signature
    -> {str(length): {"token": float, "exact": float}}
    """
    acc = {}
    for L in lengths:
        rng = np.random.default_rng(seed + L)
        pairs = make_task(n, rng, L, L, len(vocab) - 4, split="test")
        pred = greedy_strings(model, pairs, vocab, vocab, L + 1)
        targets = [list(t) for _, t in pairs]
        exact = float(np.mean([p == t for p, t in zip(pred, targets, strict=True)]))
        acc[str(L)] = {"token": round(token_accuracy(targets, pred), 4), "exact": round(exact, 4)}
    return acc


def model_list(text):
    """An argparse type: comma-separated distinct model kinds out of MODELS."""
    kinds = text.split(",")
    unknown = [k for k in kinds if k not in MODELS]
    if unknown or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"expected distinct kinds out of {MODELS}, got {text!r}")
    return kinds


def positive(kind):
    """An argparse type: a number > 0 of the given kind (int or float)."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value

    return parse


def output_path(parser, path):
    """Check the results file can be written before any training; a bad path ends the script
    with argparse's usage error instead of a traceback after minutes of work."""
    try:
        return check_output(path)
    except (OSError, ValueError) as err:
        parser.error(f"--out {path}: {err}")


def save(path, results):
    """Write the results dictionary as indented JSON, atomically, with the machine's load."""
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    write_atomic(path, json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def cpu_budget_note(budget_s):
    """The sentence every results file and page repeats about the budget."""
    return (
        f"{budget_s:g} CPU seconds of training per model, 1 thread, on a 2-core machine "
        "shared with other jobs (CPU time, not wall time, is the budget)"
    )


def cpu_budget_config(
    *, lr, batch_size, max_steps, warmup_steps, eval_every, budget_s, seed, **extra
):
    """The chapter's training settings: a constant rate after warm-up, stopped by budget_s CPU
    seconds (one thread, CPU, no progress bar), so that every model gets the same budget.
    extra: other TrainConfig fields (e.g. target)."""
    return budget_config(
        budget_s,
        seed,
        lr=lr,
        batch_size=batch_size,
        max_steps=max_steps,
        warmup_steps=warmup_steps,
        schedule="constant",
        eval_every=eval_every,
        **extra,
    )
