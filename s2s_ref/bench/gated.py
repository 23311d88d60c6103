"""NumPy LSTM/GRU forward + backward against torch.nn.LSTM/GRU on CPU, same shapes, same process.

Three implementations per cell, timed in turns so that a change in the load of a shared machine
hits all alike:

- ``readable``: ``numpy_nn.lstm.lstm_forward``/``lstm_backward`` (and the GRU's), the plain code
  of exercise 2: a loop over the step functions, weight gradients added up step by step;
- ``fused``: ``numpy_nn.fused``, the same arithmetic arranged for speed;
- ``torch``: ``torch.nn.LSTM``/``GRU`` forward and backward, input gradient included.

Run: ``python -m s2s_ref.bench.gated [--repeats R] [--threads K] [--clock wall|cpu]``; prints the
median of R runs of each, the ratios to torch, and the load average. For a fair comparison on a
busy machine, run both libraries on one thread and measure CPU time:
``OPENBLAS_NUM_THREADS=1 python -m s2s_ref.bench.gated --threads 1 --clock cpu``.
Goals at N=64, T=50, D=H=128, float32: readable / torch <= 2, fused / torch <= 1.1.
Book: chapter 2, "How fast is the NumPy LSTM?".
"""

import argparse
import os
import time

import numpy as np
import torch

from s2s_ref.numpy_nn.fused import (
    fused_gru_backward,
    fused_gru_forward,
    fused_lstm_backward,
    fused_lstm_forward,
)
from s2s_ref.numpy_nn.gru import gru_backward, gru_forward
from s2s_ref.numpy_nn.lstm import lstm_backward, lstm_forward
from s2s_ref.torch_nn.convert import gru_to_torch, lstm_to_torch


def interleaved_times(runs, repeats, clock=time.perf_counter, warmup=2):
    """Times in seconds of each function in ``runs``, called in turn ``repeats`` times after
    ``warmup`` rounds -> array (len(runs), repeats).

    clock: time.perf_counter (wall) or time.process_time (CPU time of this process, which the
    other sessions on a shared machine inflate much less, as long as each library runs on one
    thread; with several threads it also counts the time BLAS threads spend spinning)."""
    for _ in range(warmup):
        for run in runs:
            run()
    times = np.empty((len(runs), repeats))
    for r in range(repeats):
        for i, run in enumerate(runs):
            start = clock()
            run()
            times[i, r] = clock() - start
    return times


def numpy_sequence(forward, backward, x, states, weights, dh):
    """One forward + backward of a NumPy sequence function; a closure to time."""

    def run():
        _, cache = forward(x, *states, *weights)
        backward(dh, cache)

    return run


def torch_sequence(module, x, state, dh):
    """One forward + backward of a torch.nn layer, input gradient included as in NumPy."""
    tx = torch.from_numpy(x).requires_grad_()

    def run():
        module.zero_grad(set_to_none=True)
        tx.grad = None
        out, _ = module(tx, state)
        out.backward(dh)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch's threads; NumPy's come from OPENBLAS_NUM_THREADS",
    )
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    for size, default in (("-N", 64), ("-T", 50), ("-D", 128), ("-H", 128)):
        parser.add_argument(size, type=int, default=default)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    N, T, D, H = args.N, args.T, args.D, args.H
    rng = np.random.default_rng(0)
    f32, u = np.float32, 1 / np.sqrt(H)
    x = rng.normal(size=(N, T, D)).astype(f32)
    h0 = np.zeros((N, H), f32)
    dh = rng.normal(size=(N, T, H)).astype(f32)
    lstm_w = [rng.uniform(-u, u, size=s).astype(f32) for s in ((D, 4 * H), (H, 4 * H), (4 * H,))]
    gru_w = [rng.uniform(-u, u, size=s).astype(f32) for s in ((D, 3 * H), (H, 3 * H))]
    gru_w += [rng.uniform(-u, u, size=3 * H).astype(f32) for _ in range(2)]
    lstm = torch.nn.LSTM(D, H, batch_first=True)
    lstm.load_state_dict(lstm_to_torch(*lstm_w))
    gru = torch.nn.GRU(D, H, batch_first=True)
    gru.load_state_dict(gru_to_torch(*gru_w))
    th0, tdh = torch.from_numpy(h0)[None], torch.from_numpy(dh)
    cases = {
        "LSTM": (
            numpy_sequence(lstm_forward, lstm_backward, x, (h0, h0), lstm_w, dh),
            numpy_sequence(fused_lstm_forward, fused_lstm_backward, x, (h0, h0), lstm_w, dh),
            torch_sequence(lstm, x, (th0, th0), tdh),
        ),
        "GRU": (
            numpy_sequence(gru_forward, gru_backward, x, (h0,), gru_w, dh),
            numpy_sequence(fused_gru_forward, fused_gru_backward, x, (h0,), gru_w, dh),
            torch_sequence(gru, x, th0, tdh),
        ),
    }
    print(
        f"N={N} T={T} D={D} H={H} float32, forward+backward, {args.clock} time, median of "
        f"{args.repeats} runs; torch {torch.__version__} threads={torch.get_num_threads()}, "
        f"numpy {np.__version__} OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    header = ["cell", "readable ms", "fused ms", "torch ms", "readable/torch", "fused/torch"]
    print(f"{header[0]:<6}" + "".join(f"{h:>15}" for h in header[1:]))
    for name, runs in cases.items():
        times = np.median(interleaved_times(runs, args.repeats, clock), axis=1) * 1e3
        row = [*times, times[0] / times[2], times[1] / times[2]]
        cells = [f"{v:>15.1f}" for v in row[:3]] + [f"{v:>15.2f}" for v in row[3:]]
        print(f"{name:<6}" + "".join(cells))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
