"""The forgetting curve: token accuracy against input length, plain vs attention seq2seq.

Trains the NumPy models of ``s2s_ref.numpy_nn.attention_seq2seq`` on sequence reversal with
lengths drawn uniformly from MIN_LEN..MAX_LEN (one length per batch), the same number of updates
and the same batch size for every model, then decodes held-out sequences greedily and reports
token accuracy for each length. Run from the repository root:

    export OPENBLAS_NUM_THREADS=1  # small matrices: BLAS threads only contend
    python -m s2s_ref.experiments.forgetting_curve

writes ``s2s_ref/experiments/results/forgetting_curve.json`` (``--out`` to change it).

Book: chapter 5, "The forgetting problem, measured".
"""

import argparse
import time
from dataclasses import asdict

import numpy as np

from s2s_ref.data.tasks import make_reverse
from s2s_ref.experiments.cli import out_arg, output_arg, positive_int, seed_arg, write_json
from s2s_ref.numpy_nn.attention_seq2seq import (
    Seq2SeqConfig,
    greedy_decode,
    init_seq2seq,
    seq2seq_loss,
)
from s2s_ref.numpy_nn.clip import clip_by_global_norm
from s2s_ref.numpy_nn.optim import Adam

PAD, BOS, FIRST = 0, 1, 2  # ids below FIRST are special; symbols are FIRST .. FIRST + SYMBOLS - 1
SYMBOLS = 10
MIN_LEN, MAX_LEN = 5, 40
EVAL_LENGTHS = (5, 10, 15, 20, 25, 30, 35, 40)


def reversal_batch(rng, n, length, split="train"):
    """n reversal examples of one length from the data module's hash split, as id arrays
    -> src (n, L), src_mask, tgt_in (BOS + target shifted right), tgt_out, tgt_mask"""
    pairs = make_reverse(n, rng, length, length, SYMBOLS, split)
    src = np.array([[FIRST + ord(c) - ord("a") for c in s] for s, _ in pairs])
    tgt = src[:, ::-1]
    tgt_in = np.concatenate([np.full((n, 1), BOS), tgt[:, :-1]], axis=1)
    mask = np.ones((n, length), dtype=bool)
    return src, mask, tgt_in, tgt, mask


def token_accuracy(config, params, rng, length, n=200):
    """Greedy decoding of n held-out sequences (the test split) -> fraction of correct tokens"""
    src, mask, _, tgt, _ = reversal_batch(rng, n, length, split="test")
    pred, _ = greedy_decode(config, params, src, mask, length, BOS)
    return float((pred == tgt).mean())


def attention_map(config, params, rng, length):
    """One held-out example: source and predicted symbols, weights (steps, S) rounded."""
    src, mask, _, _, _ = reversal_batch(rng, 1, length, split="test")
    pred, weights = greedy_decode(config, params, src, mask, length, BOS)
    letters = [[chr(ord("a") + i - FIRST) for i in row] for row in (src[0], pred[0])]
    maps = None if weights is None else np.round(weights[0], 4).tolist()
    return {"source": letters[0], "output": letters[1], "weights": maps}


def train(config, steps, batch, seed, lr=3e-3, max_len=MAX_LEN, log_every=0):
    """Train one model; -> params, seconds, last losses."""
    rng = np.random.default_rng(seed)
    params = init_seq2seq(config, rng)
    opt = Adam(lr=lr)
    state = opt.init(params)
    start, losses = time.perf_counter(), []
    for step in range(steps):
        length = int(rng.integers(MIN_LEN, max_len + 1))
        loss, grads = seq2seq_loss(config, params, *reversal_batch(rng, batch, length))
        names = list(grads)
        clipped, _ = clip_by_global_norm([grads[n] for n in names], 5.0)
        params, state = opt.step(params, dict(zip(names, clipped, strict=True)), state)
        losses.append(loss)
        if log_every and (step + 1) % log_every == 0:
            print(f"  {config.decoder} step {step + 1}: loss {np.mean(losses[-log_every:]):.3f}")
    return params, time.perf_counter() - start, losses


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=positive_int, default=3000)
    ap.add_argument("--batch", type=positive_int, default=32)
    ap.add_argument("--hidden", type=positive_int, default=64)
    ap.add_argument("--cell", default="gru", choices=["gru", "lstm", "rnn"])
    ap.add_argument("--seed", type=seed_arg, default=0)
    ap.add_argument("--decoders", default="plain,bahdanau,luong,pooled")
    out_arg(ap, "forgetting_curve")
    args = ap.parse_args(argv)
    out = output_arg(ap, args.out)
    results = dict(task="reversal", symbols=SYMBOLS, train_lengths=[MIN_LEN, MAX_LEN])
    results.update(steps=args.steps, batch=args.batch, seed=args.seed, models=[])
    for decoder in args.decoders.split(","):
        # "pooled": the Bahdanau decoder with a scorer that ignores the decoder state
        score = {"plain": "dot", "bahdanau": "additive", "luong": "general"}.get(decoder, "pooled")
        kind = decoder.replace("pooled", "bahdanau")
        vocab = FIRST + SYMBOLS
        config = Seq2SeqConfig(
            vocab, vocab, hidden=args.hidden, cell=args.cell, decoder=kind, score=score
        )
        params, seconds, losses = train(config, args.steps, args.batch, args.seed, log_every=250)
        eval_rng = np.random.default_rng(args.seed + 1000)  # the same test sequences for all
        acc = {L: token_accuracy(config, params, eval_rng, L) for L in EVAL_LENGTHS}
        print(
            f"{decoder}: trained in {seconds:.0f} s; "
            + ", ".join(f"{L}: {a:.3f}" for L, a in acc.items())
        )
        maps = [attention_map(config, params, eval_rng, L) for L in (12, 20)]
        model = dict(name=decoder, config=asdict(config), train_seconds=round(seconds, 1))
        model.update(final_loss=float(np.mean(losses[-100:])), maps=maps if kind != "plain" else [])
        model["accuracy"] = {str(L): a for L, a in acc.items()}
        results["models"].append(model)
        write_json(out, results)  # after every model: an interrupted run keeps what it finished


if __name__ == "__main__":
    main()
