"""The training loop: bit-identical resume, atomic checkpoints, early stopping, clear errors."""

import math
import os

import pytest
import torch

from s2s_ref.torch_nn.training import (
    TrainConfig,
    load_checkpoint,
    lr_at,
    save_atomic,
    train,
    trim_batch,
)

from .torch_tasks import VOCAB, reversal_data, short_run, small_model


@pytest.mark.parametrize("sampling", [None, 5.0])
def test_resume_continues_bit_identically(tmp_path, sampling):
    data = reversal_data(40, seed=1)  # 5 batches per epoch: the 12 steps cross two epochs
    straight = small_model(0)
    train(straight, data, short_run(tmp_path / "a", sampling_decay=sampling))

    first = small_model(0)
    result = train(first, data, short_run(tmp_path / "b", sampling_decay=sampling), until_step=7)
    assert result.stopped == "paused" and result.step == 7
    fresh = small_model(
        123
    )  # other weights, new optimiser: everything must come from the checkpoint
    result = train(fresh, data, short_run(tmp_path / "b", sampling_decay=sampling))
    assert result.step == 12
    for (name, p), q in zip(straight.named_parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_checkpoint_is_written_atomically_and_leaves_no_temp_file(tmp_path):
    train(small_model(0), reversal_data(40, seed=1), short_run(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "train.lock"]
    saved = load_checkpoint(tmp_path / "last.pt")
    assert saved["loop"]["step"] == 12 and saved["loop"]["stopped"] == "max_steps"


def test_save_atomic_keeps_the_old_file_when_saving_fails(tmp_path):
    path = tmp_path / "last.pt"
    save_atomic({"ok": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_atomic({"bad": Unpicklable()}, path)
    assert torch.load(path) == {"ok": 1}
    assert os.listdir(tmp_path) == ["last.pt"]


def test_early_stopping_and_best_weights_are_restored(tmp_path):
    scores = iter([0.5, 0.9, 0.1, 0.2, 0.3])
    seen = []

    def evaluate(model):
        seen.append(model.bridge.weight.detach().clone())
        return next(scores)

    model = small_model(0)
    cfg = short_run(tmp_path, max_steps=100, eval_every=2, patience=2, checkpoint_dir=None)
    result = train(model, reversal_data(40, seed=1), cfg, evaluate)
    assert result.stopped == "early_stop" and result.step == 8 and result.best_metric == 0.9
    assert torch.equal(model.bridge.weight, seen[1])  # the weights that scored 0.9
    assert [r["metric"] for r in result.history if "metric" in r] == [0.5, 0.9, 0.1, 0.2]


def test_target_stops_training(tmp_path):
    cfg = short_run(tmp_path, max_steps=100, eval_every=3, target=0.0, checkpoint_dir=None)
    result = train(small_model(0), reversal_data(40, seed=1), cfg, lambda m: 1.0)
    assert result.stopped == "target" and result.step == 3


def test_learning_rate_warms_up_then_decays_to_zero():
    cfg = TrainConfig(lr=1.0, warmup_steps=4, max_steps=14)
    lrs = [lr_at(s, cfg) for s in range(15)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0] and lrs[4] == 1.0
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False)) and lrs[14] == 0.0


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"lr": -1e-3}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_steps": 0}, "max_steps"),
        ({"schedule": "step"}, "schedule"),
        ({"clip_norm": 0.0}, "clip_norm"),
        ({"teacher_forcing": 1.5}, "teacher_forcing"),
        ({"patience": 0}, "patience"),
    ],
)
def test_impossible_configs_are_refused_with_the_field_named(kw, name):
    with pytest.raises(ValueError, match=f"TrainConfig: {name}="):
        TrainConfig(**kw)


def test_unwritable_checkpoint_dir_and_too_big_batch_are_clear_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="not writable"):
        train(
            small_model(0),
            reversal_data(40, seed=1),
            short_run(tmp_path, checkpoint_dir=str(blocker)),
        )
    with pytest.raises(ValueError, match="exceeds the 40 training examples"):
        train(small_model(0), reversal_data(40, seed=1), short_run(tmp_path, batch_size=41))


def test_training_learns_reversal(tmp_path):
    data = reversal_data(512, seed=2)
    model = small_model(0)
    cfg = short_run(
        tmp_path,
        lr=2e-2,
        batch_size=32,
        max_steps=300,
        eval_every=100,
        checkpoint_dir=None,
        cpu_threads=1,
    )
    result = train(model, data, cfg)
    assert result.history[-1]["loss"] < 0.3 * math.log(VOCAB)  # log V: the loss of a guess


def test_trim_batch_cuts_to_the_longest_real_source_and_target():
    src_mask = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    tgt_mask = torch.tensor([[1, 0, 0], [1, 1, 1]], dtype=torch.bool)
    batch = {
        "src": torch.arange(10).view(2, 5),
        "src_mask": src_mask,
        "tgt_in": torch.ones(2, 3),
        "tgt_out": torch.zeros(2, 3),
        "tgt_mask": tgt_mask,
    }
    out = trim_batch(batch)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "src": (2, 2),
        "src_mask": (2, 2),
        "tgt_in": (2, 3),
        "tgt_out": (2, 3),
        "tgt_mask": (2, 3),
    }
    assert out["src"].tolist() == [[0, 1], [5, 6]]
