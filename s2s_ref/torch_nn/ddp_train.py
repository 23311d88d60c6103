"""Data-parallel training with DistributedDataParallel: W processes, one model replica each,
each step's global batch split W ways, gradients averaged by an all-reduce after ``backward``.

On one machine with two processes (CPU, gloo backend), or one process per GPU (nccl):

    torchrun --standalone --nproc_per_node=2 -m s2s_ref.torch_nn.ddp_train --steps 200

torchrun starts the processes and sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; every
process builds the same model from the same seed, so the replicas start equal, and the equal
averaged gradients keep them equal. The loss of each shard is its sum over real tokens divided by
the real tokens of the *global* batch, times W: DDP's average over W processes then gives exactly
the single-process mean over the global batch, whatever the shards' lengths.
Book: appendix "Scaling out: data-parallel training".
"""

import argparse
import os
import socket

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from s2s_ref.atomic import check_output
from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.loss import masked_cross_entropy
from s2s_ref.torch_nn.training import save_atomic, trim_batch


def reversal_data(n=2048, seed=0):
    """A padded reversal training set (lengths 3..12 over 8 symbols) and its vocabulary size."""
    pairs = make_reverse(n, np.random.default_rng(seed), 3, 12, n_symbols=8)
    vocab = Vocab("abcdefgh")
    b = make_batch(pairs, vocab, vocab)
    fields = ("src", "src_mask", "tgt_in", "tgt_out", "tgt_mask")
    return {k: torch.as_tensor(getattr(b, k)) for k in fields}, len(vocab)


def make_model(V, seed=0):
    return AttentionSeq2Seq(V, V, emb=16, hidden=32, decoder="luong",
                            generator=torch.Generator().manual_seed(seed))  # fmt: skip


def global_batch(data, step, batch_size, seed=0):
    """Row indices of the global batch at ``step``: the same in every process."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randperm(data["src"].shape[0], generator=g)[:batch_size]


def train_steps(model, data, steps, batch_size, lr=0.5, rank=0, world_size=1, device="cpu"):
    """``steps`` SGD steps (momentum 0.9) on global batches of batch_size rows; process ``rank``
    of ``world_size`` takes the rank-th contiguous shard. -> the global mean loss of each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for step in range(steps):
        idx = global_batch(data, step, batch_size)
        n_global = data["tgt_mask"][idx].sum()
        mine = idx.chunk(world_size)[rank]
        b = trim_batch({k: v[mine].to(device) for k, v in data.items()})
        logits = model(b["src"], b["src_mask"], b["tgt_in"])
        n_local = b["tgt_mask"].sum()
        # the shard's token sum over the global token count; DDP divides by world_size again
        loss = masked_cross_entropy(logits, b["tgt_out"], b["tgt_mask"]) * n_local / n_global
        optimizer.zero_grad(set_to_none=True)
        (loss * world_size).backward()
        optimizer.step()
        total = loss.detach().clone()
        if world_size > 1:
            dist.all_reduce(total)  # the shards' parts add up to the global batch's mean
        losses.append(float(total))
    return losses


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, world_size, port, steps, batch_size, out_path):
    """One process of a W-process run on 127.0.0.1 (gloo); rank 0 saves the final state_dict.

    The entry point for ``torch.multiprocessing.spawn`` (tests, notebooks) without torchrun.
    """
    check_output(out_path)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        torch.set_num_threads(1)  # W processes on a few cores: threads would only contend
        data, V = reversal_data()
        model = DistributedDataParallel(make_model(V))
        train_steps(model, data, steps, batch_size, rank=rank, world_size=world_size)
        if rank == 0:
            save_atomic(model.module.state_dict(), out_path)
    finally:
        dist.destroy_process_group()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--out", default=None, help="rank 0 saves the final weights here")
    args = parser.parse_args(argv)
    if args.out:
        try:
            check_output(args.out)
        except OSError as err:
            parser.error(str(err))
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")  # reads torchrun's environment
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu"
    data, V = reversal_data()
    model = make_model(V).to(device)
    model = DistributedDataParallel(model, device_ids=[device] if cuda else None)
    losses = train_steps(model, data, args.steps, args.batch_size, rank=rank, world_size=world,
                         device=device)  # fmt: skip
    if rank == 0:
        print(f"{world} processes, {args.steps} steps of {args.batch_size}: loss "
              f"{losses[0]:.3f} -> {losses[-1]:.3f}")  # fmt: skip
        if args.out:
            save_atomic(model.module.state_dict(), args.out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
