"""NumPy LSTM/GRU forward + backward against torch.nn.LSTM/GRU on CPU, same shapes, same process.

Run: ``python -m s2s_ref.bench.gated [--repeats R] [--threads K]``. Prints the median time of R
runs for each implementation (NumPy and torch runs alternate), the ratio of the medians, the
median of the back-to-back ratios, and the load average, because the machines this course is
built on are shared. Budget (COURSE.md section 9): ratio <= 1.5 at
N=64, T=50, D=H=128, float32.
Book: chapter 2, "How fast is the NumPy LSTM?".
"""

import argparse
import os
import time

import numpy as np
import torch

from s2s_ref.numpy_nn.gru import gru_backward, gru_forward
from s2s_ref.numpy_nn.lstm import lstm_backward, lstm_forward
from s2s_ref.torch_nn.convert import gru_to_torch, lstm_to_torch


def paired_times(run_a, run_b, repeats, clock=time.perf_counter, warmup=2):
    """Times in seconds of run_a() and run_b(), alternated so that a change in the load of a
    shared machine hits both alike -> (times_a, times_b), ``repeats`` each, after warm-up.

    clock: time.perf_counter (wall) or time.process_time (CPU time of this process: what the
    other sessions on a shared machine cannot inflate much, as long as each library runs on one
    thread; with several threads it also counts time a BLAS thread spends spinning)."""
    for _ in range(warmup):
        run_a()
        run_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for run, times in ((run_a, times_a), (run_b, times_b)):
            start = clock()
            run()
            times.append(clock() - start)
    return np.array(times_a), np.array(times_b)


def numpy_step(forward, backward, x, h0_args, weights, dh):
    """One forward + backward of a NumPy layer; returns a closure for median_time."""

    def run():
        h, cache = forward(x, *h0_args, *weights)
        backward(dh, cache)

    return run


def torch_step(module, x, state, dh):
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
        help="torch's threads; set "
        "NumPy's with OPENBLAS_NUM_THREADS in the environment (it is read at import)",
    )
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("-N", type=int, default=64)
    parser.add_argument("-T", type=int, default=50)
    parser.add_argument("-D", type=int, default=128)
    parser.add_argument("-H", type=int, default=128)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    N, T, D, H = args.N, args.T, args.D, args.H
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.normal(size=(N, T, D)).astype(f32)
    h0 = np.zeros((N, H), f32)
    dh = rng.normal(size=(N, T, H)).astype(f32)
    scale = 1 / np.sqrt(H)
    lstm_w = [(rng.uniform(-scale, scale, size=s)).astype(f32) for s in ((D, 4 * H), (H, 4 * H))]
    lstm_w.append(np.zeros(4 * H, f32))
    gru_w = [(rng.uniform(-scale, scale, size=s)).astype(f32) for s in ((D, 3 * H), (H, 3 * H))]
    gru_w += [np.zeros(3 * H, f32), np.zeros(3 * H, f32)]

    lstm = torch.nn.LSTM(D, H, batch_first=True)
    lstm.load_state_dict(lstm_to_torch(*lstm_w))
    gru = torch.nn.GRU(D, H, batch_first=True)
    gru.load_state_dict(gru_to_torch(*gru_w))
    th0 = torch.from_numpy(h0)[None]
    tdh = torch.from_numpy(dh)

    cases = [
        (
            "LSTM",
            numpy_step(lstm_forward, lstm_backward, x, (h0, h0), lstm_w, dh),
            torch_step(lstm, x, (th0, th0), tdh),
        ),
        (
            "GRU",
            numpy_step(gru_forward, gru_backward, x, (h0,), gru_w, dh),
            torch_step(gru, x, th0, tdh),
        ),
    ]
    print(
        f"N={N} T={T} D={D} H={H} float32, forward+backward, {args.clock} time, median of "
        f"{args.repeats} runs; torch {torch.__version__} threads={torch.get_num_threads()}, "
        f"numpy {np.__version__} OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print(f"{'cell':<6}{'numpy ms':>10}{'torch ms':>10}{'numpy/torch':>13}{'pairwise':>10}")
    for name, run_numpy, run_torch in cases:
        t_numpy, t_torch = paired_times(run_numpy, run_torch, args.repeats, clock)
        ratio = np.median(t_numpy) / np.median(t_torch)
        pairwise = np.median(t_numpy / t_torch)  # ratio of runs taken back to back
        print(
            f"{name:<6}{np.median(t_numpy) * 1e3:>10.1f}{np.median(t_torch) * 1e3:>10.1f}"
            f"{ratio:>13.2f}{pairwise:>10.2f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
