"""Rows of an image as a sequence: scikit-learn's 8x8 digits read top to bottom by a GRU of 32
units, for 25 epochs, with three readers: no attention, Keras-style pooling "attention" (scores
without the decoder state) and real (additive) attention.

The decoder writes the digit's English word letter by letter ("seven"), so that the model has
several output steps and we can ask whether its weights change from one step to the next; a
prediction counts as right when the whole word is right (the class accuracy).

    python -m s2s_ref.experiments.digits_rows [--seeds 0,1,2] [--out FILE]

writes ``s2s_ref/experiments/results/digits_rows.json`` by default; chapter 7 tabulates it.
For MNIST itself, load the IDX files with ``s2s_ref.data.images.load_mnist`` and pass
``--mnist FOLDER`` (28 rows of 28).
Book: chapter 7, "Rows of an image".
"""

import argparse
import os
import time
from types import SimpleNamespace

import numpy as np
import torch

from s2s_ref.data.batching import shift_for_decoder
from s2s_ref.data.images import DIGIT_WORDS, load_digits_rows, load_mnist, split_indices
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.cli import out_arg, output_arg, positive_int, seed_arg, write_json
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq, RowEncoder
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.training import TrainConfig, train

WORDS = Vocab(sorted(set("".join(DIGIT_WORDS))))
READERS = {
    "none": ("plain", None),
    "pooling": ("bahdanau", "pooled"),
    "attention": ("bahdanau", "additive"),
}
PUBLISHED = {
    "dataset": "MNIST (28 rows of 28 pixels)",
    "epochs": 25,
    "hidden": 32,
    "none": 0.9568,
    "pooling": 0.9825,
}


def as_data(images, labels):
    """Images (M, R, C) and labels -> a training-loop data object; targets are digit words."""
    tgt_in, tgt_out, tgt_mask = shift_for_decoder([WORDS.encode(DIGIT_WORDS[y]) for y in labels])
    src = torch.as_tensor(images)
    return SimpleNamespace(
        src=src,
        src_mask=torch.ones(src.shape[:2], dtype=torch.bool),
        tgt_in=torch.as_tensor(tgt_in),
        tgt_out=torch.as_tensor(tgt_out),
        tgt_mask=torch.as_tensor(tgt_mask),
    )


def make_model(reader, C, hidden=32, seed=0):
    decoder, score = READERS[reader]
    return AttentionSeq2Seq(
        RowEncoder(C, hidden),
        len(WORDS),
        emb=16,
        hidden=hidden,
        decoder=decoder,
        score=score,
        attn=16,
        generator=torch.Generator().manual_seed(seed),
    )


@torch.no_grad()
def evaluate(model, data, labels):
    """-> class accuracy (whole word right) and the largest change of a weight between output
    steps of one image (0 for pooling: its weights ignore the decoder state), None without."""
    model.eval()
    tokens, _, _ = greedy_decode(model, data.src, data.src_mask, WORDS.sos_id, WORDS.eos_id, 7)
    words = ["".join(WORDS.decode(r)) for r in tokens.numpy()]
    acc = float(np.mean([w == DIGIT_WORDS[y] for w, y in zip(words, labels, strict=True)]))
    _, w = model(data.src, data.src_mask, data.tgt_in, return_weights=True)
    if w is None:
        return acc, None, None
    real = data.tgt_mask[:, :, None]  # compare only steps that exist for that word
    spread = ((w - w[:, :1]).abs() * real).amax().item()
    return acc, spread, w[:3].numpy().round(4).tolist()


def run(images, labels, seeds, epochs=25, hidden=32):
    results = []
    for seed in seeds:
        train_idx, test_idx = split_indices(len(labels), np.random.default_rng(seed))
        train_data = as_data(images[train_idx], labels[train_idx])
        test_data = as_data(images[test_idx], labels[test_idx])
        for reader in READERS:
            model = make_model(reader, images.shape[2], hidden, seed)
            steps = epochs * (len(train_idx) // 32)
            config = TrainConfig(
                lr=1e-2,
                batch_size=32,
                max_steps=steps,
                warmup_steps=20,
                seed=seed,
                device="cpu",
                cpu_threads=1,
                progress=False,
            )
            result = train(model, train_data, config)
            acc, spread, maps = evaluate(model, test_data, labels[test_idx])
            print(f"seed {seed} {reader:9s}: test accuracy {acc:.4f}, weight change {spread}")
            results.append(
                {
                    "seed": seed,
                    "reader": reader,
                    "test_accuracy": acc,
                    "max_weight_change_across_steps": spread,
                    "steps": result.step,
                    "cpu_seconds": round(result.cpu_seconds, 1),
                    "maps": maps,
                    "words": [DIGIT_WORDS[y] for y in labels[test_idx][:3]],
                }
            )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=positive_int, default=25)
    parser.add_argument("--mnist", default=None, help="a folder with MNIST's IDX files")
    out_arg(parser, "digits_rows")
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    try:
        seeds = [seed_arg(s) for s in args.seeds.split(",")]
    except argparse.ArgumentTypeError as err:
        parser.error(f"argument --seeds: {err} (give seeds separated by commas, e.g. 0,1,2)")
    images, labels = load_mnist(args.mnist) if args.mnist else load_digits_rows()
    start = time.perf_counter()
    runs = run(images, labels, seeds, args.epochs)
    res = {
        "dataset": "MNIST" if args.mnist else "sklearn digits 8x8",
        "n": len(labels),
        "test_fraction": 0.2,
        "epochs": args.epochs,
        "hidden": 32,
        "published": PUBLISHED,
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    write_json(out, res)


if __name__ == "__main__":
    main()
