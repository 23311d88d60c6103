"""The forgetting curve to length 100: GRU + Luong attention against the Transformer.

Both models, the small sizes of ``transformer_common.build`` (GRU + Luong attention, chapter 7's
best on reversal, 96,722 parameters; the Transformer, 97,070), train under the same CPU-time
budget on reversals of lengths 5..100 over 10 symbols, then decode held-out sequences of lengths
10..100 greedily; token accuracy and exact match per length are the curve.

    python -m s2s_ref.experiments.transformer_forgetting [--budget 150] [--seed 0] [--out FILE]
        [--models gru_attention,transformer]

writes ``s2s_ref/experiments/results/transformer_forgetting.json`` by default and prints the
table; chapter 8 plots it.
Book: chapter 8, "The forgetting curve to length 100".
"""

import argparse

import numpy as np

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import budget_arguments, output_arg, reversal_header
from s2s_ref.experiments.transformer_common import (
    MODELS,
    accuracy_by_length,
    build,
    cpu_budget_config,
    cpu_budget_note,
    model_list,
    n_parameters,
    save,
)
from s2s_ref.torch_nn.training import train

MIN_LEN, MAX_LEN, SYMBOLS = 5, 100, 10
EVAL_LENGTHS = tuple(range(10, 101, 10))
VOCAB = Vocab("abcdefghij")


def run_one(kind, budget_s, seed, n_train=20_000, lengths=EVAL_LENGTHS, max_len=MAX_LEN):
    """Train one model under budget_s CPU seconds, -> its row of the results."""
    rng = np.random.default_rng(seed)
    data = make_batch(make_reverse(n_train, rng, MIN_LEN, max_len, SYMBOLS), VOCAB, VOCAB)
    model = build(kind, len(VOCAB), len(VOCAB), seed, size="small", decoder="luong")
    lr = 5e-3 if kind == "gru_attention" else 3e-3
    config = cpu_budget_config(
        lr=lr,
        batch_size=64,
        max_steps=20_000,
        warmup_steps=100,
        eval_every=25,
        budget_s=budget_s,
        seed=seed,
    )
    result = train(model, data, config)
    tokens = result.tokens_per_s * result.seconds
    acc = accuracy_by_length(model, make_reverse, VOCAB, lengths, seed + 1000)
    return {
        "model": kind,
        "parameters": n_parameters(model),
        "lr": lr,
        "steps": result.step,
        "cpu_seconds": round(result.cpu_seconds, 1),
        "wall_seconds": round(result.seconds, 1),
        "train_tokens": int(tokens),
        "tokens_per_cpu_s": round(tokens / result.cpu_seconds),
        "final_loss": round(result.history[-1]["loss"], 4) if result.history else None,
        "accuracy": acc,
    }


def table(models):
    """The printed table: one row per model, token accuracy per evaluated length."""
    lengths = list(models[0]["accuracy"])
    lines = ["model          params  steps  " + " ".join(f"{L:>5}" for L in lengths)]
    for m in models:
        cells = " ".join(f"{m['accuracy'][L]['token']:5.2f}" for L in lengths)
        lines.append(f"{m['model']:<14} {m['parameters']:>6} {m['steps']:>6}  {cells}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget_arguments(parser, budget=150.0, per="model", name="transformer_forgetting")
    parser.add_argument("--models", type=model_list, default=list(MODELS),
                        help="comma-separated, e.g. transformer")  # fmt: skip
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    res = {
        **reversal_header(MIN_LEN, MAX_LEN, SYMBOLS, args.budget),
        "budget": cpu_budget_note(args.budget),
        "seed": args.seed,
        "sizes": "small: GRU + Luong attention (emb 32, hidden 68) and Transformer (D 48, 4 heads, "
        "H 96, 2 + 2 layers)",
        "eval": "greedy, 100 held-out sequences per length",
        "models": [],
    }
    for kind in args.models:
        res["models"].append(run_one(kind, args.budget, args.seed))
        save(out, res)  # after every model: an interrupted run keeps what it finished
    print(table(res["models"]))
    return res


if __name__ == "__main__":
    main()
