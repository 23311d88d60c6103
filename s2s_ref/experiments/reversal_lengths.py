"""Where a context vector breaks: accuracy of the NumPy seq2seq against input length.

One model (chapter 3's, no attention) trained on reversal with source lengths uniform in
[MIN_LEN, MAX_LEN], evaluated greedily on held-out sequences of every length. Writes a JSON file
with the history and the token accuracy and exact match per length
(``s2s_ref/experiments/results/reversal_lengths.json``).
Run from the repository root (about 3 minutes on one busy core):

    OPENBLAS_NUM_THREADS=1 python -m s2s_ref.experiments.reversal_lengths

Book: chapter 3, "Where it breaks: longer inputs".
"""

import argparse
import time
from dataclasses import asdict

import numpy as np

from s2s_ref.data.tasks import make_reverse
from s2s_ref.experiments.cli import ReversalConfig, out_arg, output_arg, write_json
from s2s_ref.metrics import accuracy_by_length
from s2s_ref.numpy_nn.seq2seq import init_seq2seq
from s2s_ref.numpy_nn.training import evaluate, predict, train

CONFIG = ReversalConfig(min_len=3, max_len=30, emb=32, hidden=128, steps=2000, n_test=100)


def main(out):
    c = CONFIG
    rng = np.random.default_rng(c.seed)
    vocab = c.vocab()
    test_rng = np.random.default_rng(c.seed + 1)
    test = [
        pair
        for k in range(c.min_len, c.max_len + 1)
        for pair in make_reverse(c.n_test, test_rng, k, k, c.n_symbols, "test")
    ]
    params = init_seq2seq(len(vocab), len(vocab), c.emb, c.hidden, rng)

    sample = test[:: max(1, len(test) // 300)]
    start = time.perf_counter()
    history = train(
        params,
        lambda r: c.next_batch(r, vocab),
        c.steps,
        rng,
        lr=c.lr,
        every=100,
        evaluate_fn=lambda p: evaluate(p, sample, vocab, vocab),
    )
    seconds = time.perf_counter() - start
    preds = predict(params, [s for s, _ in test], vocab, vocab)
    by_length = accuracy_by_length([s for s, _ in test], [t for _, t in test], preds)
    result = {
        "config": asdict(c),
        "train_seconds": seconds,
        "history": history,
        "by_length": {
            k: {"token_acc": a, "exact": e, "n": n} for k, (a, e, n) in by_length.items()
        },
    }
    write_json(out, result)
    print(f"{seconds:.0f} s; " + ", ".join(f"{k}: {a:.3f}" for k, (a, _, _) in by_length.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_arg(parser, "reversal_lengths")
    main(output_arg(parser, parser.parse_args().out))
