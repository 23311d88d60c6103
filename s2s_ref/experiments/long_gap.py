"""Recall the first symbol after a gap: vanilla RNN vs LSTM vs GRU, all in NumPy.

Task: a sequence of L + 1 symbols drawn uniformly from K, one-hot, with a marker bit on the
first step; after reading all of it, name the first symbol. The L symbols after it are
distractors from the same alphabet, so the model must store one symbol and keep it through L
updates of its state. Chance is 1 / K.

Models: the chapter's reference cells (rnn.py, lstm.py, gru.py) with a linear readout of the
last state, trained by Adam (optim.py) on fresh batches, gradients clipped by global norm.
Accuracy is measured on 1000 held-out sequences per run.

Run: ``python -m s2s_ref.experiments.long_gap [--out FILE]`` (12 minutes on a busy 2-core
machine, one thread); it writes ``s2s_ref/experiments/results/long_gap.json`` by default, the
committed file the book plots.
Book: chapter 2, "A long gap".
"""

import argparse
import time

import numpy as np

from s2s_ref.experiments.cli import out_arg, output_arg, positive_int, write_json
from s2s_ref.numpy_nn.clip import clip_by_global_norm
from s2s_ref.numpy_nn.gru import gru_backward, gru_forward
from s2s_ref.numpy_nn.loss import softmax_cross_entropy
from s2s_ref.numpy_nn.lstm import lstm_backward, lstm_forward
from s2s_ref.numpy_nn.optim import Adam
from s2s_ref.numpy_nn.rnn import rnn_backward, rnn_forward

K = 4  # alphabet size: chance is 25 %
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def make_batch(rng, n, gap):
    """n sequences of gap + 1 symbols -> x: (n, gap + 1, K + 1) float, y: (n,) int.

    x[:, t, :K] is the one-hot symbol at step t, x[:, 0, K] = 1 marks the first step; y is the
    first symbol.
    """
    symbols = rng.integers(0, K, size=(n, gap + 1))
    x = np.zeros((n, gap + 1, K + 1))
    np.put_along_axis(x[..., :K], symbols[..., None], 1.0, axis=-1)
    x[:, 0, K] = 1.0
    return x, symbols[:, 0]


def init_params(rng, model, H, keep_bias=3.0):
    """Uniform(-1/sqrt(H), 1/sqrt(H)) weights as in torch.nn, and a readout to K classes.

    keep_bias: the starting bias of the gate that keeps the memory, the LSTM's forget gate f and
    the GRU's update gate z, so that both start out remembering (sigmoid(3) = 0.95 per step
    rather than 0.5) and a gradient from the end of the sequence reaches its start; training
    can lower it where forgetting pays. In the GRU, keeping 0.95 means writing 1 - z = 0.05;
    the LSTM's input gate is separate, so its bias starts at -keep_bias to match. The vanilla
    RNN has no such gates.
    """
    G, D, s = GATES[model], K + 1, 1 / np.sqrt(H)
    params = {
        "Wx": rng.uniform(-s, s, (D, G * H)),
        "Wh": rng.uniform(-s, s, (H, G * H)),
        "b": np.zeros(G * H),
        "Wy": rng.uniform(-s, s, (H, K)),
        "by": np.zeros(K),
    }
    if model in ("lstm", "gru"):
        params["b"][H : 2 * H] = keep_bias  # f is the second of i, f, g, o; z of r, z, n
    if model == "lstm":
        params["b"][:H] = -keep_bias  # i: write as little as the GRU's 1 - z = sigmoid(-3)
    if model == "gru":
        params["bh"] = np.zeros(G * H)
    return params


def forward_backward(model, params, x, y):
    """Loss and gradients (a dict like params) of the cross-entropy of the last step's readout."""
    N, H = len(x), params["Wh"].shape[0]
    h0 = np.zeros((N, H))
    if model == "rnn":
        h, cache = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    elif model == "lstm":
        h, cache = lstm_forward(x, h0, h0, params["Wx"], params["Wh"], params["b"])
    else:
        h, cache = gru_forward(x, h0, params["Wx"], params["Wh"], params["b"], params["bh"])
    logits = h[:, -1] @ params["Wy"] + params["by"]  # (N, K)
    loss, dlogits = softmax_cross_entropy(logits[:, None], y[:, None], np.ones((N, 1), bool))
    dlogits = dlogits[:, 0]
    dh = np.zeros_like(h)
    dh[:, -1] = dlogits @ params["Wy"].T  # only the last state is read
    grads = {"Wy": h[:, -1].T @ dlogits, "by": dlogits.sum(axis=0)}
    if model == "rnn":
        _, _, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, cache)
    elif model == "lstm":
        _, _, _, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dh, cache)
    else:
        _, _, grads["Wx"], grads["Wh"], grads["b"], grads["bh"] = gru_backward(dh, cache)
    return loss, grads, logits


def run(model, gap, seed, H=32, batch=64, steps=1500, lr=1e-2, max_norm=1.0, keep_bias=3.0):
    """Train one model on one gap length -> dict with held-out accuracy and the curve."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"long_gap.run: steps must be an integer >= 1, got {steps!r}")
    rng = np.random.default_rng(seed)
    params = init_params(rng, model, H, keep_bias)
    opt = Adam(lr=lr)
    state = opt.init(params)
    curve, recent = [], []
    for step in range(steps):
        x, y = make_batch(rng, batch, gap)
        _, grads, logits = forward_backward(model, params, x, y)
        names = list(grads)
        clipped, _ = clip_by_global_norm([grads[k] for k in names], max_norm)
        params, state = opt.step(params, dict(zip(names, clipped, strict=True)), state)
        recent.append(float(np.mean(logits.argmax(axis=1) == y)))
        if (step + 1) % 50 == 0:
            curve.append(float(np.mean(recent)))
            recent = []
            if curve[-1] == 1.0:  # 50 batches without a mistake: learned, stop early
                break
    x, y = make_batch(np.random.default_rng(10_000 + seed), 1000, gap)
    _, _, logits = forward_backward(model, params, x, y)
    return {
        "model": model,
        "gap": gap,
        "seed": seed,
        "accuracy": float(np.mean(logits.argmax(axis=1) == y)),
        "updates": step + 1,
        "train_curve": curve,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_arg(parser, "long_gap")
    parser.add_argument("--gaps", type=positive_int, nargs="+", default=[5, 10, 20, 40, 80])
    parser.add_argument("--seeds", type=positive_int, default=2)
    parser.add_argument("--steps", type=positive_int, default=2000)
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    start = time.perf_counter()
    results = []
    for gap in args.gaps:
        for model in GATES:
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                results.append(run(model, gap, seed, steps=args.steps))
                r = results[-1]
                print(
                    f"gap {gap:>3} {model:<5} seed {seed}: accuracy {r['accuracy']:.3f} after "
                    f"{r['updates']} updates ({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    settings = {"K": K, "H": 32, "batch": 64, "max_steps": args.steps, "lr": 1e-2,
                "max_norm": 1.0, "held_out": 1000}  # fmt: skip
    settings["seconds"] = round(time.perf_counter() - start)
    write_json(out, {"settings": settings, "runs": results})
    print(f"wrote {out} in {settings['seconds']} s")


if __name__ == "__main__":
    main()
