"""Training throughput, the Transformer against GRU + Bahdanau attention, same size, same run.

Both models (``experiments.transformer_common.build``, parameter counts printed) train on the
same reversal batches (N = 64, lengths --min-len..--max-len); the two alternate in rounds so that
a change in the machine's load hits both. Reported: target tokens per CPU second and per wall
second, and their ratio. With --target, the small pair of the forgetting curve (GRU + Luong
attention, 96,722 parameters, and the Transformer, 97,070) then trains from scratch on short
reversals (lengths 5..15) until greedy exact match on 200 held-out sequences reaches the target,
or --target-budget CPU seconds pass: the CPU seconds and steps each took, and their ratios (GRU
over Transformer) from the same run.

    python -m s2s_ref.bench.transformer [--steps 20] [--rounds 3] [--device cpu|cuda]
        [--precision fp32|bf16] [--target 0.9] [--out FILE]

The printed figures are also written as JSON, by default to
``s2s_ref/experiments/results/transformer_throughput.json``, the file chapter 8 reads
(``load_results("transformer_throughput")``); give --out for a run the book should not show
(e.g. ``--device cuda``).

Book: chapter 8, "Throughput: why training parallelises".
"""

import argparse
import time

import numpy as np
import torch

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import out_arg, output_arg, write_json
from s2s_ref.experiments.transformer_common import (
    MODELS,
    accuracy_by_length,
    build,
    cpu_budget_config,
    n_parameters,
    positive,
)
from s2s_ref.torch_nn.devices import autocast
from s2s_ref.torch_nn.loss import masked_cross_entropy
from s2s_ref.torch_nn.training import train

VOCAB = Vocab("abcdefghij")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(min_len=20, max_len=60, steps=20, rounds=3, device="cpu", precision="fp32", seed=0):
    """-> {model: {"parameters", "tokens_per_cpu_s", "tokens_per_s"}}, the best round of each."""
    device = torch.device(device)
    rng = np.random.default_rng(seed)
    batches = [
        make_batch(make_reverse(64, rng, min_len, max_len), VOCAB, VOCAB) for _ in range(steps)
    ]
    batches = [
        {
            k: torch.as_tensor(getattr(b, k)).to(device)
            for k in ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")
        }
        for b in batches
    ]
    tokens = sum(int(b["tgt_mask"].sum()) for b in batches)
    models = {k: build(k, len(VOCAB), len(VOCAB), seed).to(device) for k in MODELS}
    optims = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    best = {
        k: {"parameters": n_parameters(m), "tokens_per_cpu_s": 0.0, "tokens_per_s": 0.0}
        for k, m in models.items()
    }
    for r in range(rounds + 1):  # round 0 warms up (allocator, kernels) and is not counted
        for kind, model in models.items():
            _sync(device)
            cpu, wall = time.process_time(), time.perf_counter()
            for b in batches:
                with autocast(device, precision):
                    logits = model(b["src"], b["src_mask"], b["tgt_in"])
                    loss = masked_cross_entropy(logits, b["tgt_out"], b["tgt_mask"])
                optims[kind].zero_grad(set_to_none=True)
                loss.backward()
                optims[kind].step()
            _sync(device)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if r > 0:
                row = best[kind]
                row["tokens_per_cpu_s"] = max(row["tokens_per_cpu_s"], tokens / cpu)
                row["tokens_per_s"] = max(row["tokens_per_s"], tokens / wall)
    return best


def time_to_target(kind, target, budget_s, seed=0):
    """Train `kind` on reversals of lengths 5..15 until greedy exact match on 200 held-out
    sequences (lengths 5, 10, 15) reaches target -> {"reached", "steps", "cpu_seconds"}."""
    rng = np.random.default_rng(seed)
    data = make_batch(make_reverse(10_000, rng, 5, 15), VOCAB, VOCAB)
    model = build(kind, len(VOCAB), len(VOCAB), seed, size="small", decoder="luong")

    def evaluate(m):
        acc = accuracy_by_length(m, make_reverse, VOCAB, (5, 10, 15), seed + 500, n=67)
        return float(np.mean([a["exact"] for a in acc.values()]))

    lr = 5e-3 if kind == "gru_attention" else 3e-3
    config = cpu_budget_config(
        lr=lr,
        batch_size=64,
        max_steps=20_000,
        warmup_steps=50,
        eval_every=25,
        budget_s=budget_s,
        seed=seed,
        target=target,
    )
    result = train(model, data, config, evaluate=evaluate)
    return {
        "parameters": n_parameters(model),
        "reached": result.stopped == "target",
        "best": round(result.best_metric, 3),
        "steps": result.step,
        "cpu_seconds": round(result.cpu_seconds, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=positive(int), default=20, help="batches per round")
    parser.add_argument("--rounds", type=positive(int), default=3)
    parser.add_argument("--min-len", type=positive(int), default=20)
    parser.add_argument("--max-len", type=positive(int), default=60)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument(
        "--target",
        type=float,
        default=None,
        help="also measure CPU time to this held-out exact match, in (0, 1]",
    )
    parser.add_argument("--target-budget", type=positive(float), default=40.0)
    out_arg(parser, "transformer_throughput")
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    if args.min_len > args.max_len:
        parser.error(f"--min-len {args.min_len} exceeds --max-len {args.max_len}")
    if args.target is not None and not 0 < args.target <= 1:
        parser.error(f"--target must lie in (0, 1], got {args.target}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device on this machine")
    if args.device == "cpu":
        torch.set_num_threads(1)
    rows = throughput(
        args.min_len, args.max_len, args.steps, args.rounds, args.device, args.precision
    )
    print(
        f"training throughput, reversal lengths {args.min_len}..{args.max_len}, N = 64, "
        f"{args.device} {args.precision}, best of {args.rounds} rounds of {args.steps} steps"
    )
    print(f"{'model':<14} {'params':>8} {'tok/CPU-s':>10} {'tok/s':>9}")
    for kind, r in rows.items():
        print(
            f"{kind:<14} {r['parameters']:>8} {r['tokens_per_cpu_s']:>10.0f} "
            f"{r['tokens_per_s']:>9.0f}"
        )
    g, t = rows["gru_attention"], rows["transformer"]
    ratios = {
        "cpu": t["tokens_per_cpu_s"] / g["tokens_per_cpu_s"],
        "wall": t["tokens_per_s"] / g["tokens_per_s"],
    }
    print(
        f"Transformer / GRU + attention: {ratios['cpu']:.2f}x per CPU second, "
        f"{ratios['wall']:.2f}x per wall second"
    )
    result = {"throughput": rows, "ratios": ratios}
    if args.target is not None:
        result["time_to_target"] = {
            k: time_to_target(k, args.target, args.target_budget) for k in MODELS
        }
        for kind, r in result["time_to_target"].items():
            status = "reached" if r["reached"] else f"not reached (best {r['best']})"
            print(
                f"{kind:<14} exact match {args.target}: {status} after {r['steps']} steps, "
                f"{r['cpu_seconds']} CPU s"
            )
        g, t = result["time_to_target"]["gru_attention"], result["time_to_target"]["transformer"]
        result["time_to_target_ratios"] = {
            "cpu_seconds": round(g["cpu_seconds"] / t["cpu_seconds"], 2),
            "steps": round(g["steps"] / t["steps"], 2),
            "both_reached": g["reached"] and t["reached"],
        }
        r = result["time_to_target_ratios"]
        bound = "" if r["both_reached"] else " (a bound: one model did not reach the target)"
        print(
            f"GRU + Luong / Transformer to exact match {args.target}: {r['cpu_seconds']:.2f}x the "
            f"CPU seconds, {r['steps']:.2f}x the steps{bound}"
        )
    result["settings"] = {
        k: getattr(args, k)
        for k in ("steps", "rounds", "min_len", "max_len", "device", "precision", "target")
    }
    write_json(out, result)
    return result


if __name__ == "__main__":
    main()
