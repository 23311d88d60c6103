"""Date normalisation with the PyTorch seq2seq: train on CPU for at most 30 s, then measure
exact match on held-out dates (dates that never occur in training, in any language or format).

    python -m s2s_ref.experiments.dates_torch [--seed 0] [--budget 30] [--out FILE]

prints the result and writes it as JSON (default ``s2s_ref/experiments/results/dates_torch.json``).
Chapter 6 shows the committed file: on the shared machine that builds the book, the run takes
longer than a page may (about 15 CPU seconds, but up to two minutes of wall-clock time).
Book: chapter 6, "Reading dates in 30 seconds".
"""

import argparse
import datetime
import os
import time

import numpy as np
import torch

from s2s_ref.data.batching import make_batch
from s2s_ref.data.dates import date_formats, format_human_date, make_dates
from s2s_ref.data.splits import split_of
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import (
    budget_arguments,
    budget_config,
    output_arg,
    write_json,
)
from s2s_ref.metrics import exact_match
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.seq2seq import Seq2Seq
from s2s_ref.torch_nn.training import train

TARGET_VOCAB = Vocab("0123456789-")


def is_validation_date(pair) -> bool:
    """True for the tenth of the train split's dates kept for validation (a hash of the date,
    salted so that it is independent of the test split): no validation date is ever trained on."""
    return split_of("validation " + "".join(pair[1]), 0.1) == "test"


def make_data(seed, n_train=40_000, n_val=1_000, n_test=2_000):
    """Train and validation from the train split, on disjoint dates (``is_validation_date``), so
    the set that picks the weights and stops training holds no training date; test from the
    held-out split. -> (source vocabulary, train, validation, test pairs)."""
    rng = np.random.default_rng(seed)
    train_pairs, val_pairs = [], []
    while len(train_pairs) < n_train or len(val_pairs) < n_val:
        for pair in make_dates(4096, rng):
            (val_pairs if is_validation_date(pair) else train_pairs).append(pair)
    train_pairs, val_pairs = train_pairs[:n_train], val_pairs[:n_val]
    test_pairs = make_dates(n_test, rng, split="test")
    chars = sorted({c for src, _ in train_pairs for c in src})
    return Vocab(chars, allow_unk=True), train_pairs, val_pairs, test_pairs


def format_samples(day=datetime.date(2031, 11, 29)):
    """One date in every third (locale, style) format: a spread of languages and styles."""
    return [
        (list(format_human_date(day, loc, style)), list(day.isoformat()))
        for loc, style in date_formats()[::3]
    ]


def predict(model, pairs, src_vocab, batch_size=1000):
    """Greedy outputs (lists of characters) for the sources of ``pairs``, in batches."""
    out = []
    for i in range(0, len(pairs), batch_size):
        b = make_batch(pairs[i : i + batch_size], src_vocab, TARGET_VOCAB)
        device = next(model.parameters()).device
        src = torch.as_tensor(b.src, device=device)
        mask = torch.as_tensor(b.src_mask, device=device)
        tokens, _, _ = greedy_decode(
            model, src, mask, TARGET_VOCAB.sos_id, TARGET_VOCAB.eos_id, max_len=12
        )
        out += [TARGET_VOCAB.decode(row) for row in tokens.cpu().numpy()]
    return out


def accuracy(model, pairs, src_vocab):
    """Exact match of greedy outputs on ``pairs`` (all 10 characters right)."""
    model.eval()
    with torch.no_grad():
        return exact_match([t for _, t in pairs], predict(model, pairs, src_vocab))


def run(seed=0, budget_s=30.0, progress=True, config=None):
    """Build the data, train under a CPU-time budget (one thread), measure on held-out dates.

    -> (report: dict of measured figures, model, source vocabulary, test pairs)
    """
    t0 = time.perf_counter()
    src_vocab, train_pairs, val_pairs, test_pairs = make_data(seed)
    data = make_batch(train_pairs, src_vocab, TARGET_VOCAB)
    data_s = time.perf_counter() - t0
    model = Seq2Seq(
        len(src_vocab),
        len(TARGET_VOCAB),
        emb=32,
        hidden=64,
        generator=torch.Generator().manual_seed(seed),
    )
    config = config or budget_config(
        budget_s,
        seed,
        progress,
        lr=1e-2,
        batch_size=64,
        max_steps=900,
        warmup_steps=30,
        clip_norm=1.0,
        eval_every=100,
        target=1.0,
    )
    result = train(model, data, config, lambda m: accuracy(m, val_pairs, src_vocab))
    test_acc = accuracy(model, test_pairs, src_vocab)
    shown = format_samples() + test_pairs[:4]
    outputs = predict(model, shown, src_vocab)
    samples = [
        ("".join(s), "".join(o), "".join(t)) for (s, t), o in zip(shown, outputs, strict=True)
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    report = {
        "seed": seed,
        "train_seconds": round(result.seconds, 2),
        "steps": result.step,
        "train_cpu_seconds": round(result.cpu_seconds, 2),
        "stopped": result.stopped,
        "val_exact_match": result.best_metric,
        "test_exact_match": test_acc,
        "n_test": len(test_pairs),
        "n_train": len(train_pairs),
        "data_seconds": round(data_s, 2),
        "target_tokens_per_s": round(result.tokens_per_s),
        "load_average_1min": round(load, 2),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "history": result.history,
        "samples": samples,
    }
    return report, model, src_vocab, test_pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget_arguments(parser, budget=30.0, per="run", name="dates_torch")
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    res = run(args.seed, args.budget, progress=False)[0]
    print(
        f"test exact match {res['test_exact_match']:.4f} on {res['n_test']} held-out dates after "
        f"{res['steps']} steps, {res['train_cpu_seconds']} CPU s ({res['train_seconds']} s wall) "
        f"(load average {res['load_average_1min']} on {res['cpu_count']} CPUs)"
    )
    write_json(out, res)


if __name__ == "__main__":
    main()
