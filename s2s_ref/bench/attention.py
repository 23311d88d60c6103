"""The teacher-forced Luong decoder: one fused RNN call + one batched attention (a bmm) over all
T steps, against the same decoder run step by step, forward + backward, same weights, same run.

Run: ``python -m s2s_ref.bench.attention [--repeats R] [--device cpu|cuda] [-T 50]``. Prints the
median time of each (runs alternate, so a change in a shared machine's load hits both alike),
the ratio of the medians and the load average.
Book: chapter 7, "Bahdanau and Luong decoders in PyTorch"; appendix "Performance".
"""

import argparse
import os

import numpy as np
import torch

from s2s_ref.bench.gated import interleaved_times
from s2s_ref.torch_nn.attention_decoder import LuongDecoder


def fused_vs_loop(N=64, S=30, T=30, E=32, H=128, V=40, cell="gru", device="cpu", repeats=10):
    """-> dict with the median seconds of the fused and looped forward + backward, and the ratio."""
    g = torch.Generator().manual_seed(0)
    dec = LuongDecoder(V, E, H, H, cell=cell).to(device)
    enc = torch.randn(N, S, H, generator=g).to(device)
    mask = (torch.arange(S)[None] < torch.randint(S // 2, S + 1, (N, 1), generator=g)).to(device)
    tgt_in = torch.randint(0, V, (N, T), generator=g).to(device)
    h0 = torch.zeros(1, N, H, device=device)
    state = (h0, h0) if cell == "lstm" else h0

    def run(fused):
        def once():
            dec.zero_grad(set_to_none=True)
            logits, _, _ = dec(tgt_in, dec.prepare(enc, mask), state, fused=fused)
            logits.sum().backward()
            if device != "cpu":
                torch.cuda.synchronize()

        return once

    fused, loop = interleaved_times([run(True), run(False)], repeats)
    f, lo = float(np.median(fused)), float(np.median(loop))
    return {"N": N, "S": S, "T": T, "H": H, "cell": cell, "device": device,
            "fused_s": f, "loop_s": lo, "speedup": lo / f}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-T", type=int, default=30)
    parser.add_argument("--cell", default="gru", choices=["gru", "lstm"])
    args = parser.parse_args(argv)
    r = fused_vs_loop(T=args.T, cell=args.cell, device=args.device, repeats=args.repeats)
    shape = f"N={r['N']} S={r['S']} T={r['T']} H={r['H']} {r['cell']} on {r['device']}"
    print(f"Luong decoder, teacher forcing, forward + backward: {shape}, "
          f"{torch.get_num_threads()} torch threads")  # fmt: skip
    print(f"  step loop     {r['loop_s'] * 1e3:8.1f} ms")
    print(f"  fused         {r['fused_s'] * 1e3:8.1f} ms")
    print(f"  speed-up      {r['speedup']:8.2f} x   (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
