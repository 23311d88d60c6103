"""Every benchmark of the course in one run, and a results file for the appendix "Performance".

    python -m s2s_ref.bench.all [--quick] [--out book/appendix/bench.json]

Runs, each in its own process (so one benchmark's threads and caches do not colour the next):

- ``s2s_ref.bench.gated``: NumPy LSTM/GRU forward + backward against ``torch.nn`` (numpy/torch);
- ``s2s_ref.bench.torch_seq2seq``: the PyTorch reference seq2seq against a tutorial-style
  step-by-step attention decoder (tokens/s and time-to-accuracy ratios);
- ``s2s_ref.bench.attention``: the fused Luong decoder against its step loop (ratio), on the CPU
  and, when a GPU is visible, on CUDA, with the CPU/CUDA ratio of the fused decoder.

Prints each benchmark's own table, then writes the outputs, the commands, and a description of
the machine (CPUs, load average, versions) as JSON.
Book: appendix "Performance".
"""

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

from s2s_ref.experiments.cli import output_arg, write_json

RESULTS = os.path.join("book", "appendix", "bench.json")


def benchmarks(quick, cuda):
    """-> [(name, module arguments)], the commands this run times."""
    runs = [
        (
            "gated",
            [
                "s2s_ref.bench.gated",
                "--repeats",
                "5" if quick else "20",
                "--threads",
                "1",
                "--clock",
                "cpu",
            ],
        ),
        ("torch_seq2seq", ["s2s_ref.bench.torch_seq2seq", "--budget", "10" if quick else "40"]),
        ("attention_cpu", ["s2s_ref.bench.attention", "--repeats", "3" if quick else "10"]),
    ]
    if cuda:
        runs.append(("attention_cuda", ["s2s_ref.bench.attention", "--device", "cuda"]))
        runs.append(("torch_seq2seq_cuda", ["s2s_ref.bench.torch_seq2seq", "--device", "cuda"]))
    return runs


def machine():
    """What the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run_one(args):
    """Run ``python -m args...`` with one BLAS thread -> (stdout, seconds)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter budgets")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    out = output_arg(parser, args.out)
    cuda = torch.cuda.is_available()
    res = {"machine_before": machine(), "quick": args.quick, "runs": []}
    for name, cmd in benchmarks(args.quick, cuda):
        out, seconds = run_one(cmd)
        print(f"== python -m {' '.join(cmd)}  ({seconds:.0f} s)\n{out}")
        res["runs"].append(
            {
                "name": name,
                "command": "python -m " + " ".join(cmd),
                "output": out,
                "seconds": round(seconds, 1),
            }
        )
    if cuda:
        from s2s_ref.bench.attention import fused_vs_loop

        cpu, gpu = fused_vs_loop(device="cpu", repeats=3), fused_vs_loop(device="cuda")
        res["cpu_vs_cuda"] = {
            "cpu_fused_s": cpu["fused_s"],
            "cuda_fused_s": gpu["fused_s"],
            "ratio": cpu["fused_s"] / gpu["fused_s"],
        }
        ratio = res["cpu_vs_cuda"]["ratio"]
        print(
            f"fused Luong decoder, forward + backward: CPU {cpu['fused_s'] * 1e3:.1f} ms, "
            f"CUDA {gpu['fused_s'] * 1e3:.1f} ms: CUDA {ratio:.1f}x faster"
        )
    else:
        print("CPU vs CUDA: no GPU visible (torch.cuda.is_available() is False); not measured.")
    res["machine_after"] = machine()
    write_json(out, res)


if __name__ == "__main__":
    main()
