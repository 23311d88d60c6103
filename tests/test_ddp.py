"""DistributedDataParallel on CPU: 2 gloo processes on 127.0.0.1 end with the same parameters as
one process trained on the same global batches."""

import pytest
import torch
import torch.multiprocessing as mp

from s2s_ref.torch_nn import ddp_train

STEPS, BATCH = 3, 32


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    out = tmp_path / "ddp.pt"
    port = ddp_train.free_port()
    mp.spawn(ddp_train.worker, args=(2, port, STEPS, BATCH, str(out)), nprocs=2, join=True)
    ddp_state = torch.load(out)

    data, V = ddp_train.reversal_data()
    single = ddp_train.make_model(V)
    start = {k: v.clone() for k, v in single.state_dict().items()}
    losses = ddp_train.train_steps(single, data, STEPS, BATCH)
    assert losses[-1] < losses[0]
    moved = 0.0
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-4, atol=1e-5, msg=name)
        moved = max(moved, float((value - start[name]).abs().max()))
    assert moved > 1e-2  # the comparison is not between two untrained models


def test_shards_cover_the_global_batch_once():
    data, _ = ddp_train.reversal_data(n=100)
    idx = ddp_train.global_batch(data, step=4, batch_size=33)
    shards = [idx.chunk(2)[r] for r in range(2)]
    assert sorted(torch.cat(shards).tolist()) == sorted(idx.tolist())
    assert torch.equal(idx, ddp_train.global_batch(data, step=4, batch_size=33))
