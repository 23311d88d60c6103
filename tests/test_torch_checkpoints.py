"""Checkpoints: a run fingerprint and a sha256, a locked folder, the reason a run stopped, no
stale temporary files, no NaN taken as best, and 50 SIGKILLs that lose nothing."""

import math
import multiprocessing
import os
import pickle
import random
import signal
import time

import pytest
import torch

from s2s_ref.atomic import FolderBusyError, folder_lock
from s2s_ref.torch_nn import training
from s2s_ref.torch_nn.seq2seq import Seq2Seq
from s2s_ref.torch_nn.training import CheckpointError, load_checkpoint, train

from .torch_tasks import VOCAB, reversal_data, short_run, small_model

DATA = reversal_data(40, seed=1)
HELD_OUT = reversal_data(16, seed=7)


def _metric(model):
    """Minus the loss on a fixed held-out batch: a deterministic function of the weights."""
    logits = model(HELD_OUT.src, HELD_OUT.src_mask, HELD_OUT.tgt_in)
    return -training.masked_cross_entropy(logits, HELD_OUT.tgt_out, HELD_OUT.tgt_mask).item()


def _temp_files(folder):
    return [name for name in os.listdir(folder) if ".tmp-" in name]


# --- fingerprints -------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"lr": 0.5}, {"seed": 99}, {"batch_size": 16}])
def test_a_checkpoint_of_another_config_is_refused_naming_file_and_fingerprints(tmp_path, change):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(CheckpointError) as err:
        train(small_model(0), DATA, short_run(tmp_path, **change))
    message = str(err.value)
    name, value = next(iter(change.items()))
    assert str(tmp_path / "last.pt") in message and f"config.{name}" in message
    assert message.count("fingerprint") >= 1 and repr(value) in message
    assert (tmp_path / "last.pt").read_bytes() == before  # the stored run is not rewritten


def test_a_checkpoint_of_other_parameter_shapes_is_refused(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    wider = Seq2Seq(VOCAB, VOCAB, emb=5, hidden=9, generator=torch.Generator().manual_seed(0))
    with pytest.raises(CheckpointError, match=r"parameters\..*\[7.*-> \[9"):
        train(wider, DATA, short_run(tmp_path))


def test_a_checkpoint_of_other_data_is_refused(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    with pytest.raises(CheckpointError, match=r"data\.sha256"):
        train(small_model(0), reversal_data(40, seed=2), short_run(tmp_path))


def test_the_free_fields_may_change_on_resume(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    result = train(small_model(0), DATA, short_run(tmp_path, cpu_threads=1, time_budget_s=1e6))
    assert result.step == 12 and result.stopped == "max_steps"


# --- damaged and crafted files ------------------------------------------------------------------


def test_a_truncated_checkpoint_is_refused_naming_the_file(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    path = tmp_path / "last.pt"
    full = path.read_bytes()
    for size in (0, 10, len(full) // 2, len(full) - 1):
        path.write_bytes(full[:size])
        with pytest.raises(CheckpointError, match=str(path)):
            train(small_model(0), DATA, short_run(tmp_path))


def test_single_byte_flips_never_load_changed_tensors(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), until_step=4)
    path = tmp_path / "last.pt"
    full = path.read_bytes()
    good = load_checkpoint(path)["model"]
    rng = random.Random(0)
    refused = 0
    for _ in range(200):
        flipped = bytearray(full)
        flipped[rng.randrange(len(full))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        try:
            model = load_checkpoint(path)["model"]
        except CheckpointError as err:
            assert str(path) in str(err)
            refused += 1
            continue
        assert all(torch.equal(model[k], good[k]) for k in good)  # a flip in unused bytes
    assert refused > 100


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    marker = str(tmp_path / "code_ran")
    with open(tmp_path / "last.pt", "wb") as f:
        pickle.dump({"model": _Payload(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError, match="cannot be read"):
        train(small_model(0), DATA, short_run(tmp_path))
    torch.save({"model": _Payload(marker)}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="cannot be read"):
        train(small_model(0), DATA, short_run(tmp_path))
    assert not os.path.exists(marker)


def test_a_plain_torch_file_is_not_taken_for_a_checkpoint(tmp_path):
    torch.save({"model": small_model(0).state_dict()}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="lacks the fingerprint"):
        train(small_model(0), DATA, short_run(tmp_path))


# --- the folder: lock, temporary files, fsync ---------------------------------------------------


def test_a_second_training_in_the_same_folder_fails_at_once(tmp_path):
    with folder_lock(tmp_path):  # another training holds the folder
        start = time.monotonic()
        with pytest.raises(FolderBusyError, match=f"{tmp_path} is in use by another process"):
            train(small_model(0), DATA, short_run(tmp_path))
        assert time.monotonic() - start < 60  # failed, did not wait for the holder
    assert not (tmp_path / "last.pt").exists()
    assert train(small_model(0), DATA, short_run(tmp_path)).step == 12  # free again


def test_stale_temporary_files_are_swept_at_start(tmp_path):
    (tmp_path / ".tmp-abc123.pt").write_bytes(b"x" * 1000)  # the old save_atomic's names
    (tmp_path / ".last.pt.tmp-k2j4").write_bytes(b"y" * 1000)
    (tmp_path / "notes.txt").write_text("mine")
    train(small_model(0), DATA, short_run(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "notes.txt", "train.lock"]


def test_save_atomic_syncs_the_folder(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr("s2s_ref.atomic._fsync_folder", synced.append)
    training.save_atomic({"ok": 1}, tmp_path / "x.pt")
    assert synced == [tmp_path]


# --- why a run stopped --------------------------------------------------------------------------


def test_a_rerun_of_a_finished_run_is_a_no_op_that_says_so(tmp_path, capsys):
    first = train(small_model(0), DATA, short_run(tmp_path))
    before = (tmp_path / "last.pt").read_bytes()
    again = small_model(5)
    result = train(again, DATA, short_run(tmp_path))
    assert result.step == 12 and result.stopped == "max_steps" and "already finished" in result.note
    assert "already finished at step 12 (max_steps)" in capsys.readouterr().err
    assert (tmp_path / "last.pt").read_bytes() == before and result.history == first.history
    assert torch.equal(
        again.bridge.weight, load_checkpoint(tmp_path / "last.pt")["model"]["bridge.weight"]
    )


def test_a_rerun_after_early_stop_trains_no_further(tmp_path):
    scores = iter([0.5, 0.4, 0.3])
    cfg = short_run(tmp_path, max_steps=100, eval_every=2, patience=2)
    first = train(small_model(0), DATA, cfg, lambda m: next(scores))
    assert first.stopped == "early_stop" and first.step == 6
    model = small_model(3)
    result = train(model, DATA, cfg, lambda m: pytest.fail("evaluated again"))
    assert (result.step, result.stopped, result.best_metric) == (6, "early_stop", 0.5)
    assert torch.equal(
        model.bridge.weight,
        load_checkpoint(tmp_path / "last.pt")["loop"]["best_state"]["bridge.weight"],
    )


def test_a_rerun_after_a_time_budget_stop_trains_no_further(tmp_path):
    cfg = short_run(tmp_path, max_steps=1000, time_budget_s=1e-9)
    assert train(small_model(0), DATA, cfg).stopped == "time_budget"
    result = train(small_model(0), DATA, short_run(tmp_path, max_steps=1000, time_budget_s=1e6))
    assert result.step == 1 and result.stopped == "time_budget" and result.note


def test_until_step_zero_trains_no_step(tmp_path):
    model = small_model(0)
    before = [p.detach().clone() for p in model.parameters()]
    result = train(model, DATA, short_run(tmp_path), until_step=0)
    assert result.step == 0 and result.stopped == "paused"
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("bad", [-3, 13, 2.5, True, "4"])
def test_impossible_until_step_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"until_step=.* must be None or an integer in \[0, max"):
        train(small_model(0), DATA, short_run(tmp_path), until_step=bad)


def test_resuming_restores_the_best_state_of_the_whole_run(tmp_path):
    cfg = dict(max_steps=16, eval_every=2)
    straight = small_model(0)
    train(straight, DATA, short_run(tmp_path / "a", **cfg), _metric)
    train(small_model(0), DATA, short_run(tmp_path / "b", **cfg), _metric, until_step=6)
    resumed = small_model(9)
    train(resumed, DATA, short_run(tmp_path / "b", **cfg), _metric)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_resuming_an_evaluated_run_without_evaluate_is_refused(tmp_path):
    train(small_model(0), DATA, short_run(tmp_path), _metric, until_step=4)
    with pytest.raises(CheckpointError, match=r"evaluates: True -> False"):
        train(small_model(0), DATA, short_run(tmp_path))


# --- non-finite values --------------------------------------------------------------------------


def test_a_nan_metric_is_never_best(tmp_path):
    scores = iter([math.nan, 0.2, 0.1])
    model = small_model(0)
    cfg = short_run(tmp_path, max_steps=6, eval_every=2, checkpoint_dir=None)
    result = train(model, DATA, cfg, lambda m: next(scores))
    assert result.best_metric == 0.2


def test_all_nan_metrics_leave_the_last_weights_and_no_best(tmp_path):
    cfg = short_run(tmp_path, max_steps=6, eval_every=2, checkpoint_dir=None, patience=2)
    result = train(small_model(0), DATA, cfg, lambda m: math.nan)
    assert result.best_metric is None and result.stopped == "early_stop" and result.step == 4


def test_an_exploding_loss_stops_training_with_a_clear_error(tmp_path):
    cfg = short_run(
        tmp_path, lr=1e6, clip_norm=None, warmup_steps=0, max_steps=200, checkpoint_dir=None
    )
    with pytest.raises(FloatingPointError, match=r"training stopped at step \d+: the loss is"):
        train(small_model(0), DATA, cfg)


def test_a_nan_loss_stops_training_before_the_update(tmp_path):
    model = small_model(0)
    with torch.no_grad():
        model.bridge.weight[0, 0] = math.nan
    with pytest.raises(FloatingPointError, match="step 1: the loss is nan .not finite"):
        train(model, DATA, short_run(tmp_path, checkpoint_dir=None))


# --- the kill test ------------------------------------------------------------------------------

KILL_STEPS = 400


def _kill_config(folder):
    return short_run(folder, max_steps=KILL_STEPS, warmup_steps=5, eval_every=1, cpu_threads=1)


def _victim(folder, ready):
    """Train in a child process until killed (or finished); ``ready`` is set at its first
    evaluation, once the process is past its start-up."""

    def evaluate(model):
        ready.set()
        return _metric(model)

    train(small_model(0), DATA, _kill_config(folder), evaluate)


@pytest.mark.slow
@pytest.mark.timeout(900)  # mostly waiting for 50 child processes to start
def test_fifty_sigkills_lose_nothing(tmp_path):
    """50 SIGKILLs at random moments of a run that checkpoints every step: every checkpoint loads,
    every resume equals the uninterrupted run at that step bit for bit, and the next start leaves
    no temporary file."""
    snapshots = []

    def recording(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return _metric(model)

    straight = small_model(0)
    train(straight, DATA, _kill_config(tmp_path / "straight"), recording)
    folder = tmp_path / "killed"
    folder.mkdir()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["torch", "s2s_ref.torch_nn.training", "tests.test_torch_checkpoints"]
    )
    rng = random.Random(14)
    kills = unloadable = inexact = temp_left = temp_made = resumes = 0
    while kills < 50:
        ready = ctx.Event()
        child = ctx.Process(target=_victim, args=(folder, ready))
        child.start()
        assert ready.wait(timeout=120)
        time.sleep(rng.uniform(0.0, 0.15))
        if not child.is_alive():
            break  # the run finished before this kill
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        kills += 1
        temp_made += len(_temp_files(folder))
        if not (folder / "last.pt").exists():
            continue  # killed before the first checkpoint
        try:
            saved = load_checkpoint(folder / "last.pt")
        except CheckpointError:
            unloadable += 1
            continue
        step = saved["loop"]["step"]
        reference = snapshots[step - 1]
        inexact += not all(torch.equal(saved["model"][k], reference[k]) for k in reference)
        resumes += 1
        train(small_model(1), DATA, _kill_config(folder), _metric, until_step=0)  # the next start
        temp_left += len(_temp_files(folder))
    resumed = small_model(2)
    result = train(resumed, DATA, _kill_config(folder), _metric)
    print(
        f"kills {kills}, checkpoints checked {resumes}, temp files left by kills {temp_made}, "
        f"unloadable {unloadable}, inexact {inexact}, temp files after the next start "
        f"{temp_left}, last step {step}"
    )
    assert (kills, unloadable, inexact, temp_left) == (50, 0, 0, 0) and resumes >= 40
    assert result.step == KILL_STEPS
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q), name
