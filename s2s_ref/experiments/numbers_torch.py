"""English number words -> German number words with a Luong attention seq2seq (PyTorch, CPU):
sacreBLEU and exact match on held-out numbers, greedy and beam search, and attention maps.

    python -m s2s_ref.experiments.numbers_torch [--seed 0] [--budget 90] [--out FILE]

writes ``s2s_ref/experiments/results/numbers_torch.json`` by default; chapter 7 plots from that
file. German puts the units before the tens ("vier und zwanzig" for twenty four), so the maps
show crossing alignments.
Held-out numbers are chosen by a hash of the number: none of them occurs in training. The
encoder reads left to right only: a bidirectional encoder's states each carry their neighbours,
and its attention maps are then spread out and hard to read.
Book: chapter 7, "English to German number words".
"""

import argparse
import dataclasses
import json
import os
import time

import numpy as np
import sacrebleu
import torch

from s2s_ref.data.batching import make_batch
from s2s_ref.data.numbers import make_numbers, number_pair
from s2s_ref.data.splits import split_of
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import (
    budget_arguments,
    budget_config,
    output_arg,
    write_json,
)
from s2s_ref.metrics import exact_match
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.search import beam_search, greedy_decode
from s2s_ref.torch_nn.training import train

EARLY_STEPS = 300  # a model stopped early, for beam search vs greedy
HIGH = 1_000_000  # numbers in [0, HIGH): up to "neun hundert neun und neunzig tausend ..."


def make_data(seed, n_train=30_000, n_val=500, n_test=1_000):
    rng = np.random.default_rng(seed)
    train_pairs = make_numbers(n_train, rng, high=HIGH)
    val_pairs = make_numbers(n_val, rng, high=HIGH)
    test_pairs = make_numbers(n_test, rng, high=HIGH, split="test")
    src = Vocab.from_corpus(s for s, _ in train_pairs)
    tgt = Vocab.from_corpus(t for _, t in train_pairs)
    return src, tgt, train_pairs, val_pairs, test_pairs


def make_model(src_vocab, tgt_vocab, seed):
    """Luong decoder (general score), E = 32, H = 64, a left-to-right GRU encoder."""
    g = torch.Generator().manual_seed(seed)
    return AttentionSeq2Seq(
        len(src_vocab),
        len(tgt_vocab),
        emb=32,
        hidden=64,
        decoder="luong",
        bidirectional=False,
        generator=g,
    )


def _tensors(pairs, src_vocab, tgt_vocab):
    b = make_batch(pairs, src_vocab, tgt_vocab)
    return b, torch.as_tensor(b.src), torch.as_tensor(b.src_mask)


def translate(model, pairs, src_vocab, tgt_vocab, beam=1, alpha=0.0, batch_size=500):
    """Greedy (beam=1) or beam-search outputs for the sources of pairs -> token lists."""
    out = []
    model.eval()
    for i in range(0, len(pairs), batch_size):
        _, src, mask = _tensors(pairs[i : i + batch_size], src_vocab, tgt_vocab)
        if beam == 1:
            tokens, _, _ = greedy_decode(model, src, mask, tgt_vocab.sos_id, tgt_vocab.eos_id, 20)
            out += [tgt_vocab.decode(row) for row in tokens.numpy()]
        else:
            hyps = beam_search(
                model, src, mask, tgt_vocab.sos_id, tgt_vocab.eos_id, 20, beam, alpha=alpha
            )
            out += [tgt_vocab.decode(list(h[0].tokens)) for h in hyps]
    return out


def scores(pairs, predictions):
    """-> sacreBLEU (corpus, on morphemes joined by spaces) and exact match."""
    refs = [" ".join(t) for _, t in pairs]
    hyps = [" ".join(p) for p in predictions]
    bleu = sacrebleu.corpus_bleu(hyps, [refs])
    return {
        "bleu": round(bleu.score, 2),
        "exact_match": exact_match([t for _, t in pairs], predictions),
    }


@torch.no_grad()
def attention_maps(model, numbers, src_vocab, tgt_vocab):
    """Greedy output and its attention weights (T, S) for each number (teacher forcing on the
    model's own output reproduces greedy decoding, and returns the weights)."""
    maps = []
    for k in numbers:
        pair = number_pair(k)
        (src_tokens, _), pred = pair, translate(model, [pair], src_vocab, tgt_vocab)[0]
        _, src, mask = _tensors([pair], src_vocab, tgt_vocab)
        tgt_in = torch.as_tensor([[tgt_vocab.sos_id, *tgt_vocab.encode(pred)]])
        _, w = model(src, mask, tgt_in, return_weights=True)
        maps.append(
            {
                "number": k,
                "source": src_tokens,
                "output": pred + ["<eos>"],
                "weights": np.round(w[0].numpy(), 4).tolist(),
            }
        )
    return maps


def search_scores(model, pairs, src_vocab, tgt_vocab):
    """BLEU and exact match of greedy decoding and of beam search (K = 5, alpha 0 and 0.6)."""
    out = {}
    for name, beam, alpha in (("greedy", 1, 0.0), ("beam5", 5, 0.0), ("beam5_alpha0.6", 5, 0.6)):
        start = time.process_time()
        pred = translate(model, pairs, src_vocab, tgt_vocab, beam=beam, alpha=alpha)
        out[name] = {**scores(pairs, pred), "cpu_seconds": round(time.process_time() - start, 1)}
    return out


def _held_out_with_und(low):
    """The first held-out number >= low whose German ends in "<units> und <tens>"."""
    return next(
        k for k in range(low, HIGH) if split_of(str(k)) == "test" and k % 10 and k % 100 > 20
    )


def run(seed=0, budget_s=90.0, progress=False):
    t0 = time.perf_counter()
    src_vocab, tgt_vocab, train_pairs, val_pairs, test_pairs = make_data(seed)
    model = make_model(src_vocab, tgt_vocab, seed)
    config = budget_config(
        budget_s,
        seed,
        progress,
        lr=5e-3,
        batch_size=64,
        max_steps=3000,
        warmup_steps=50,
        eval_every=250,
        target=1.0,
    )

    def val_exact(m):
        return exact_match([t for _, t in val_pairs], translate(m, val_pairs, src_vocab, tgt_vocab))

    data = make_batch(train_pairs, src_vocab, tgt_vocab)
    result = train(model, data, config, val_exact)
    res = {
        "seed": seed,
        "n_train": len(train_pairs),
        "n_test": len(test_pairs),
        "high": HIGH,
        "steps": result.step,
        "train_cpu_seconds": round(result.cpu_seconds, 1),
        "train_seconds": round(result.seconds, 1),
        "stopped": result.stopped,
        "val_exact_match": result.best_metric,
        "history": result.history,
    }
    greedy = translate(model, test_pairs, src_vocab, tgt_vocab)
    res["search"] = search_scores(model, test_pairs, src_vocab, tgt_vocab)
    # the same model stopped early, where search has mistakes to repair
    early = make_model(src_vocab, tgt_vocab, seed)
    early_config = dataclasses.replace(config, max_steps=EARLY_STEPS, target=None)
    train(early, data, early_config)
    res["early_steps"] = EARLY_STEPS
    res["search_early"] = search_scores(early, test_pairs, src_vocab, tgt_vocab)
    wrong = [(s, t, p) for (s, t), p in zip(test_pairs, greedy, strict=True) if p != t]
    res["errors"] = [{"source": s, "target": t, "greedy": p} for s, t, p in wrong[:8]]
    numbers = [_held_out_with_und(low) for low in (21, 1_000, 354_000)]
    res["maps"] = attention_maps(model, numbers, src_vocab, tgt_vocab)
    res["wall_seconds_total"] = round(time.perf_counter() - t0, 1)
    res["load_average_1min"] = round(os.getloadavg()[0], 2)
    res["torch"] = torch.__version__
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget_arguments(parser, budget=90.0, per="run", name="numbers_torch")
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    res = run(args.seed, args.budget)
    print(json.dumps({k: v for k, v in res.items() if k not in ("history", "maps")}, indent=1))
    write_json(out, res)


if __name__ == "__main__":
    main()
