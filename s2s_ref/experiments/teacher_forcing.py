"""Exposure bias, scheduled sampling, greedy vs beam: the measurements of chapter 4.

Trains chapter 3's NumPy seq2seq (small: E = 16, H = 64, so that it still makes mistakes) on
reversal of length 5-15 under five teacher-forcing schedules, the same steps, batches and seed
for each, and records teacher-forced and free-running accuracy on held-out sequences every 100
steps. For the always-teacher-forced model it then records accuracy per output position under
both regimes, and compares greedy decoding with beam search for several widths and length
penalties. Writes one JSON file. Run from the repository root (about 6 minutes on one busy core):

    OPENBLAS_NUM_THREADS=1 python -m s2s_ref.experiments.teacher_forcing

writes ``s2s_ref/experiments/results/teacher_forcing.json`` (``--out`` to change it).

Book: chapter 4, "Exposure bias, measured", "Teacher-forcing ratio and scheduled sampling",
"Beam search, measured".
"""

import argparse
import time
from dataclasses import asdict

import numpy as np

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.decoding import beam_search
from s2s_ref.experiments.cli import ReversalConfig, out_arg, output_arg, write_json
from s2s_ref.metrics import exact_match, token_accuracy
from s2s_ref.numpy_nn.seq2seq import decoder_step_fn, init_seq2seq, initial_state, seq2seq_forward
from s2s_ref.numpy_nn.training import evaluate, predict, train
from s2s_ref.teacher_forcing import Schedule

CONFIG = ReversalConfig()
SCHEDULES = {
    "always": Schedule("always"),
    "fixed 0.5": Schedule("fixed", {"ratio": 0.5}),
    "linear": Schedule("linear", {"k": 1.0, "c": 1 / 1500, "eps_min": 0.0}),
    "exponential": Schedule("exponential", {"k": 0.998}),
    "inverse sigmoid": Schedule("inverse_sigmoid", {"k": 150.0}),  # 1/2 at 150 ln 150 = 752
}
BEAMS = (1, 3, 5, 10)
PENALTIES = ((0.0, "gnmt"), (0.6, "gnmt"), (1.0, "power"))


def per_position(params, pairs, vocab):
    """Token accuracy at each output position, teacher-forced and free-running."""
    b = make_batch(pairs, vocab, vocab)
    logits, _, _ = seq2seq_forward(params, b.src, b.src_mask, b.tgt_in)
    tf = (logits.argmax(2) == b.tgt_out) & b.tgt_mask
    free = predict(params, [s for s, _ in pairs], vocab, vocab)
    T = b.tgt_out.shape[1]
    free_right = np.zeros((len(pairs), T), dtype=bool)
    for i, (pred, (_, tgt)) in enumerate(zip(free, pairs, strict=True)):
        ids, want = vocab.encode(pred), b.tgt_out[i, : len(tgt)]
        k = min(len(ids), len(want))
        free_right[i, :k] = ids[:k] == want[:k]
    n = b.tgt_mask[:, :-1].sum(0)  # positions of real symbols (the EOS position left out)
    return {
        "tf": (tf[:, :-1].sum(0) / n).tolist(),
        "free": (free_right[:, :-1].sum(0) / n).tolist(),
    }


def beam_table(params, pairs, vocab):
    """Exact match, token accuracy and mean output length for each beam width and penalty."""
    b = make_batch(pairs, vocab, vocab)
    targets = [t for _, t in pairs]
    rows = []
    for alpha, kind in PENALTIES:
        for K in BEAMS:
            state = initial_state(params, b.src, b.src_mask)
            start = time.perf_counter()
            hyps = beam_search(
                decoder_step_fn(params),
                state,
                len(b),
                vocab.sos_id,
                vocab.eos_id,
                b.tgt_out.shape[1] + 5,
                K,
                alpha=alpha,
                penalty=kind,
            )
            seconds = time.perf_counter() - start
            preds = [vocab.decode(list(h[0].tokens)) for h in hyps]
            rows.append(
                {
                    "beam": K,
                    "alpha": alpha,
                    "penalty": kind,
                    "exact": exact_match(targets, preds),
                    "token_acc": token_accuracy(targets, preds),
                    "mean_len_ratio": float(
                        np.mean([len(p) / len(t) for p, t in zip(preds, targets, strict=True)])
                    ),
                    "mean_log_prob": float(np.mean([h[0].log_prob for h in hyps])),
                    "seconds": seconds,
                }
            )
    return rows


def main(out):
    c = CONFIG
    vocab = c.vocab()
    test = make_reverse(
        c.n_test,
        np.random.default_rng(c.seed + 1),
        c.min_len,
        c.max_len,
        c.n_symbols,
        "test",
    )
    runs, models = {}, {}
    for name, schedule in SCHEDULES.items():
        rng = np.random.default_rng(c.seed)  # same initial weights and batches for every run
        params = init_seq2seq(len(vocab), len(vocab), c.emb, c.hidden, rng)

        history = train(
            params,
            lambda r: c.next_batch(r, vocab),
            c.steps,
            rng,
            lr=c.lr,
            schedule=schedule,
            every=100,
            evaluate_fn=lambda p: evaluate(p, test[:300], vocab, vocab),
        )
        runs[name] = {
            "schedule": {"kind": schedule.kind, "params": schedule.params},
            "history": history,
            "test": evaluate(params, test, vocab, vocab),
        }
        models[name] = params
        print(name, runs[name]["test"], f"{history[-1]['seconds']:.0f} s", flush=True)
    result = {
        "config": asdict(c),
        "runs": runs,
        "per_position": per_position(models["always"], test, vocab),
        "beam": {name: beam_table(models[name], test, vocab) for name in ("always", "fixed 0.5")},
    }
    write_json(out, result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_arg(parser, "teacher_forcing")
    main(output_arg(parser, parser.parse_args().out))
