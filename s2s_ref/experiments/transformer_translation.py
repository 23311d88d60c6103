"""A real translation task: English -> German or Chinese UI messages, GRU + attention against
the Transformer, greedy against beam search, sacreBLEU and chrF on the held-out split.

The pairs are ``s2s_ref.data.catalogues.message_pairs(target)`` (human translations shipped in
PyPI packages), split by the hash of the source (``split_pairs``), kept where both sides have at
most 60 characters, and modelled character by character (a few thousand pairs cannot support a
word vocabulary). Each model trains under the same CPU-time budget, once per seed; test
sentences are decoded greedily and with beam search (K = 4, GNMT length penalty alpha = 0.6).
A copy-the-source baseline is scored too: UI strings share names, numbers and code with their
translations, so chrF starts well above 0 before any learning.

    python -m s2s_ref.experiments.transformer_translation --target de [--budget 40]
        [--seeds 0,1,2] [--models gru_attention,transformer] [--out FILE] [--save PREFIX]

writes ``s2s_ref/experiments/results/transformer_translation_<target>.json`` by default and
prints the table. With --save, the run's best model (greedy chrF on the test split) is written as
``PREFIX.npz`` (its float32 weights) and ``PREFIX.json`` (model kind, vocabularies, scores,
samples), the files ``s2s_ref.experiments.translator`` loads; the play page's translator is
``--target de --models transformer --seeds 0 --budget 100 --save s2s_ref/assets/translator_de
--out /tmp/translator_de_run.json`` (its scores live in its own JSON; the --out keeps the
committed three-seed results from being overwritten).
Book: chapter 8, "A real translation task".
"""

import argparse
import io
import json

import numpy as np
import sacrebleu
import torch

from s2s_ref.atomic import write_atomic
from s2s_ref.data.batching import make_batch
from s2s_ref.data.catalogues import message_pairs, split_pairs
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import results_path
from s2s_ref.experiments.transformer_common import (
    MODELS,
    build,
    cpu_budget_config,
    cpu_budget_note,
    greedy_strings,
    model_list,
    n_parameters,
    output_path,
    positive,
    save,
    seed_list,
)
from s2s_ref.torch_nn.search import beam_search
from s2s_ref.torch_nn.training import train

TARGETS = {"de": "13a", "zh": "zh", "fr": "13a"}  # sacreBLEU tokenizer per target language
MAX_CHARS, BEAM, ALPHA, N_SAMPLES = 60, 4, 0.6, 6


def load(target):
    """-> {"train", "valid", "test"}: lists of (source chars, target chars), both <= MAX_CHARS,
    and the counts before and after the length filter."""
    splits = split_pairs(message_pairs(target))
    kept = {
        k: [(list(s), list(t)) for s, t in v if len(s) <= MAX_CHARS and len(t) <= MAX_CHARS]
        for k, v in splits.items()
    }
    counts = {k: {"all": len(splits[k]), "kept": len(kept[k])} for k in splits}
    return kept, counts


def scores(hyps, refs, tokenize):
    """Corpus BLEU (sacreBLEU, the given tokenizer) and chrF of strings against one reference."""
    bleu = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize)
    return {
        "bleu": round(bleu.score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2),
    }


def beam_strings(model, pairs, src_vocab, tgt_vocab, batch_size=64):
    """Best beam hypothesis of each source, as token lists."""
    model.eval()
    out = []
    for start in range(0, len(pairs), batch_size):
        b = make_batch(pairs[start : start + batch_size], src_vocab, tgt_vocab)
        best = beam_search(
            model,
            torch.as_tensor(b.src),
            torch.as_tensor(b.src_mask),
            tgt_vocab.sos_id,
            tgt_vocab.eos_id,
            MAX_CHARS + 1,
            BEAM,
            alpha=ALPHA,
        )
        out.extend(tgt_vocab.decode(hyps[0].tokens) for hyps in best)
    return out


def attention_map(model, kind, pair, src_vocab, tgt_vocab):
    """The model's own greedy translation of one source, fed back teacher-forced to read its
    attention: -> {"source", "output", "weights" (T, S)}; the Transformer's is the last decoder
    layer's cross-attention averaged over heads."""
    out = greedy_strings(model, [pair], src_vocab, tgt_vocab, MAX_CHARS + 1)[0]
    b = make_batch([(pair[0], out)], src_vocab, tgt_vocab)
    with torch.no_grad():
        _, weights = model(
            torch.as_tensor(b.src),
            torch.as_tensor(b.src_mask),
            torch.as_tensor(b.tgt_in),
            return_weights=True,
        )
    w = weights[-1].mean(dim=1)[0] if kind == "transformer" else weights[0]
    return {"source": pair[0], "output": out, "weights": np.round(w.numpy(), 3).tolist()}


def run_one(kind, data, vocabs, budget_s, seed, tokenize, keep_map=False):
    """Train one model on data["train"]; score greedy and beam on data["test"] -> results row."""
    src_vocab, tgt_vocab = vocabs
    train_batch = make_batch(data["train"], src_vocab, tgt_vocab)
    model = build(kind, len(src_vocab), len(tgt_vocab), seed)
    lr = 3e-3 if kind == "gru_attention" else 1e-3
    config = cpu_budget_config(
        lr=lr,
        batch_size=32,
        max_steps=50_000,
        warmup_steps=100,
        eval_every=50,
        budget_s=budget_s,
        seed=seed,
    )
    result = train(model, train_batch, config)
    test = data["test"]
    refs = ["".join(t) for _, t in test]
    greedy = ["".join(p) for p in greedy_strings(model, test, src_vocab, tgt_vocab, MAX_CHARS + 1)]
    beam = ["".join(p) for p in beam_strings(model, test, src_vocab, tgt_vocab)]
    row = {
        "model": kind,
        "seed": seed,
        "parameters": n_parameters(model),
        "lr": lr,
        "steps": result.step,
        "cpu_seconds": round(result.cpu_seconds, 1),
        "epochs": round(result.step * config.batch_size / len(data["train"]), 1),
        "greedy": scores(greedy, refs, tokenize),
        "beam": scores(beam, refs, tokenize),
        "samples": [
            {"source": "".join(s), "reference": r, "greedy": g, "beam": k}
            for (s, _), r, g, k in zip(test[:N_SAMPLES], refs, greedy, beam, strict=False)
        ],
    }
    if keep_map:
        longest = max(test[:40], key=lambda p: len(p[0]))
        row["attention"] = attention_map(model, kind, longest, src_vocab, tgt_vocab)
    return row, model


def save_translator(prefix, model, vocabs, row):
    """PREFIX.npz: the model's weights as float32; PREFIX.json: what rebuilds it (kind, the two
    vocabularies' symbols), how it scored, and held-out samples with its greedy and beam output
    (row without its attention map)."""
    weights = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **weights)
    write_atomic(prefix + ".npz", buffer.getvalue())
    meta = {k: v for k, v in row.items() if k != "attention"}
    meta["source_symbols"] = vocabs[0].itos[4:]  # after the four special tokens
    meta["target_symbols"] = vocabs[1].itos[4:]
    meta["max_chars"] = MAX_CHARS
    write_atomic(prefix + ".json", json.dumps(meta, indent=1, ensure_ascii=False) + "\n")


def summary(models):
    """Mean and spread (min, max) over seeds of each score, per model and search."""
    out = {}
    for kind in MODELS:
        rows = [m for m in models if m["model"] == kind]
        if rows:
            out[kind] = {
                search: {
                    metric: {"mean": round(float(np.mean(v)), 2), "min": min(v), "max": max(v)}
                    for metric in ("bleu", "chrf")
                    for v in [[r[search][metric] for r in rows]]
                }
                for search in ("greedy", "beam")
            }
    return out


def table(res):
    """The printed table: BLEU and chrF (mean over seeds, [min, max]) per model and search."""
    lines = [
        f"en->{res['target']}  test pairs {res['splits']['test']['kept']}  seeds {res['seeds']}",
        f"{'copy source':<24} BLEU {res['copy_baseline']['bleu']:6.2f}   "
        f"chrF {res['copy_baseline']['chrf']:6.2f}",
    ]
    for kind, by_search in res["summary"].items():
        for search, s in by_search.items():
            b, c = s["bleu"], s["chrf"]
            lines.append(
                f"{kind + ' ' + search:<24} BLEU {b['mean']:6.2f} [{b['min']}, {b['max']}]"
                f"  chrF {c['mean']:6.2f} [{c['min']}, {c['max']}]"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=sorted(TARGETS), required=True)
    parser.add_argument(
        "--budget",
        type=positive(float),
        default=40.0,
        help="CPU seconds of training per model and seed",
    )
    parser.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    parser.add_argument("--models", type=model_list, default=list(MODELS))
    parser.add_argument("--save", default=None, help="write the best model to PREFIX.npz/.json")
    parser.add_argument(
        "--out",
        default=None,
        help="the results file (JSON); default "
        "s2s_ref/experiments/results/transformer_translation_<target>.json",
    )
    args = parser.parse_args(argv)
    out = output_path(parser, args.out or results_path(f"transformer_translation_{args.target}"))
    data, counts = load(args.target)
    tokenize = TARGETS[args.target]
    vocabs = (
        Vocab.from_corpus([s for s, _ in data["train"]], allow_unk=True),
        Vocab.from_corpus([t for _, t in data["train"]], allow_unk=True),
    )
    test = data["test"]
    copy = scores(["".join(s) for s, _ in test], ["".join(t) for _, t in test], tokenize)
    res = {
        "target": args.target,
        "tokenize": tokenize,
        "max_chars": MAX_CHARS,
        "splits": counts,
        "vocab": {"source": len(vocabs[0]), "target": len(vocabs[1])},
        "beam": BEAM,
        "alpha": ALPHA,
        "budget_cpu_s": args.budget,
        "budget": cpu_budget_note(args.budget),
        "seeds": args.seeds,
        "copy_baseline": copy,
        "models": [],
    }
    if args.save is not None:
        output_path(parser, args.save + ".npz")
    best = None
    for seed in args.seeds:
        for kind in args.models:
            row, model = run_one(
                kind, data, vocabs, args.budget, seed, tokenize, seed == args.seeds[0]
            )
            res["models"].append(row)
            res["summary"] = summary(res["models"])
            save(out, res)
            if best is None or row["greedy"]["chrf"] > best[0]["greedy"]["chrf"]:
                best = row, model
    if args.save is not None:
        save_translator(args.save, best[1], vocabs, {**best[0], "target": args.target})
    print(table(res))
    return res


if __name__ == "__main__":
    main()
