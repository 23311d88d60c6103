"""Train the NumPy seq2seq of chapter 3 on date normalisation; save its results and weights.

Six languages, four CLDR styles each (s2s_ref.data.dates), 20,000 training dates, 1,000 held-out
dates that never occur in training. Writes a JSON file (training history, held-out accuracy per
locale and style, examples) and the trained parameters (.npz) that chapter 4 decodes with beam
search. Run from the repository root (about 2 minutes on one busy core):

    OPENBLAS_NUM_THREADS=1 python -m s2s_ref.experiments.dates_numpy

The results go to ``s2s_ref/experiments/results/dates_numpy.json`` (``--out``), the weights to
``s2s_ref/assets/dates.npz`` (``--weights``), which the package ships.

Book: chapter 3, "A real task: reading dates".
"""

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from s2s_ref.atomic import atomic_open
from s2s_ref.data.batching import make_batch
from s2s_ref.data.dates import date_formats, format_human_date, make_dates
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import check_config, out_arg, output_arg, write_json
from s2s_ref.numpy_nn.seq2seq import init_seq2seq
from s2s_ref.numpy_nn.training import evaluate, predict, train

WEIGHTS = Path(__file__).parents[1] / "assets" / "dates.npz"


@dataclass(frozen=True)
class DatesConfig:
    """The date reader's data, sizes and training; validated on creation."""

    n_train: int = 20000
    n_test: int = 1000
    emb: int = 32
    hidden: int = 128
    batch: int = 64
    steps: int = 600
    lr: float = 5e-3
    seed: int = 0

    def __post_init__(self):
        check_config(self)


CONFIG = DatesConfig()


def main(out, weights):
    c = CONFIG
    rng = np.random.default_rng(c.seed)
    train_pairs = make_dates(c.n_train, rng)
    test_pairs = make_dates(c.n_test, np.random.default_rng(c.seed + 1), split="test")
    src_vocab = Vocab.from_corpus(s for s, _ in train_pairs)
    tgt_vocab = Vocab.from_corpus(t for _, t in train_pairs)
    params = init_seq2seq(len(src_vocab), len(tgt_vocab), c.emb, c.hidden, rng)

    def next_batch(r):
        return make_batch(
            [train_pairs[i] for i in r.integers(len(train_pairs), size=c.batch)],
            src_vocab,
            tgt_vocab,
        )

    start = time.perf_counter()
    history = train(
        params,
        next_batch,
        c.steps,
        rng,
        lr=c.lr,
        every=50,
        evaluate_fn=lambda p: evaluate(p, test_pairs[:300], src_vocab, tgt_vocab),
    )
    seconds = time.perf_counter() - start
    # the first 200 held-out dates written in each (locale, style) in turn
    by_format = {}
    dates = [np.datetime64("".join(t)).astype(object) for _, t in test_pairs[:200]]
    for locale, style in date_formats():
        pairs = [(list(format_human_date(d, locale, style)), list(d.isoformat())) for d in dates]
        by_format[f"{locale} {style}"] = evaluate(params, pairs, src_vocab, tgt_vocab)["free_exact"]
    preds = predict(params, [s for s, _ in test_pairs], src_vocab, tgt_vocab)
    result = {
        "config": asdict(c),
        "train_seconds": seconds,
        "history": history,
        "test": evaluate(params, test_pairs, src_vocab, tgt_vocab),
        "exact_by_format": by_format,
        "examples": [
            ("".join(s), "".join(t), "".join(p))
            for (s, t), p in zip(test_pairs[:12], preds[:12], strict=True)
        ],
        "src_vocab": src_vocab.itos[4:],
        "tgt_vocab": tgt_vocab.itos[4:],
    }
    write_json(out, result, ensure_ascii=False)
    with atomic_open(weights, "wb") as f:
        np.savez_compressed(f, **params)
    print(f"{seconds:.0f} s; held-out: {result['test']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_arg(parser, "dates_numpy")
    parser.add_argument("--weights", default=str(WEIGHTS), help="the trained parameters (.npz)")
    args = parser.parse_args()
    main(output_arg(parser, args.out), output_arg(parser, args.weights))
