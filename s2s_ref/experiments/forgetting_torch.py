"""The forgetting curve in PyTorch, up to length 60: plain vs Bahdanau vs Luong on reversal.

Each model trains under the same CPU-time budget on reversals of lengths 5..60 (10 symbols), then
decodes held-out sequences greedily; the token accuracy per source length is the curve.

    python -m s2s_ref.experiments.forgetting_torch [--budget 120] [--out FILE]

writes ``s2s_ref/experiments/results/forgetting_torch.json`` by default; chapter 7 plots from it.
Book: chapter 7, "The forgetting curve at length 60".
"""

import argparse
import os
import time

import numpy as np
import torch

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import (
    budget_arguments,
    budget_config,
    output_arg,
    reversal_header,
    write_json,
)
from s2s_ref.experiments.transformer_common import greedy_strings
from s2s_ref.metrics import token_accuracy
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.training import train

MIN_LEN, MAX_LEN, SYMBOLS = 5, 60, 10
EVAL_LENGTHS = (10, 20, 30, 40, 50, 60)
VOCAB = Vocab("abcdefghij")


def accuracy_at(model, length, seed, n=200):
    """Greedy token accuracy on n held-out reversals of one length."""
    pairs = make_reverse(n, np.random.default_rng(seed), length, length, SYMBOLS, split="test")
    predicted = greedy_strings(model, pairs, VOCAB, VOCAB, length + 1, batch_size=n)
    return token_accuracy([t for _, t in pairs], predicted)


def run_one(decoder, budget_s, seed=0, n_train=20_000):
    rng = np.random.default_rng(seed)
    data = make_batch(make_reverse(n_train, rng, MIN_LEN, MAX_LEN, SYMBOLS), VOCAB, VOCAB)
    model = AttentionSeq2Seq(
        len(VOCAB),
        len(VOCAB),
        emb=16,
        hidden=64,
        decoder=decoder,
        generator=torch.Generator().manual_seed(seed),
    )
    config = budget_config(budget_s, seed, lr=5e-3, batch_size=64, max_steps=4000, warmup_steps=50)
    result = train(model, data, config)
    acc = {str(L): accuracy_at(model, L, seed + 100 + L) for L in EVAL_LENGTHS}
    print(
        f"{decoder}: {result.step} steps in {result.cpu_seconds:.0f} CPU s; "
        + ", ".join(f"{L}: {a:.3f}" for L, a in acc.items())
    )
    return {
        "decoder": decoder,
        "steps": result.step,
        "cpu_seconds": round(result.cpu_seconds, 1),
        "seconds": round(result.seconds, 1),
        "final_loss": result.history[-1]["loss"],
        "accuracy": acc,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget_arguments(parser, budget=120.0, per="model", name="forgetting_torch")
    parser.add_argument("--decoders", default="plain,bahdanau,luong")
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    res = {
        **reversal_header(MIN_LEN, MAX_LEN, SYMBOLS, args.budget),
        "seed": args.seed,
        "hidden": 64,
        "models": [],
    }
    start = time.perf_counter()
    for decoder in args.decoders.split(","):
        res["models"].append(run_one(decoder, args.budget, args.seed))
        res["load_average_1min"] = round(os.getloadavg()[0], 2)
        res["wall_seconds_total"] = round(time.perf_counter() - start, 1)
        write_json(out, res)  # after every model: an interrupted run keeps it


if __name__ == "__main__":
    main()
