"""Device choice and precision; every device test runs on CPU and, given a GPU, on CUDA."""

import pytest
import torch

from s2s_ref.torch_nn.devices import autocast, model_device, resolve_device, resolve_precision
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.seq2seq import Seq2Seq
from s2s_ref.torch_nn.training import TrainConfig, train

from .torch_tasks import BOS, EOS, VOCAB, reversal_data

HAS_CUDA = torch.cuda.is_available()
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")]
    ),
]


def test_auto_picks_cuda_exactly_when_present():
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"


@pytest.mark.skipif(HAS_CUDA, reason="checks the error on a machine without a GPU")
def test_asking_for_missing_cuda_is_an_error():
    with pytest.raises(RuntimeError, match="torch.cuda.is_available"):
        resolve_device("cuda")


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", torch.device("cpu"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_forward_and_search_stay_on_the_model_device(device, cell):
    model = Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, cell=cell).to(device)
    data = reversal_data(6, seed=0)
    src, mask, tgt_in = (t.to(model_device(model)) for t in (data.src, data.src_mask, data.tgt_in))
    with autocast(model_device(model), resolve_precision("auto", model_device(model))):
        logits = model(src, mask, tgt_in)
    assert logits.device.type == device and logits.shape == (6, tgt_in.shape[1], VOCAB)
    tokens, lengths, _ = greedy_decode(model, src, mask, BOS, EOS, max_len=5)
    assert tokens.device.type == device and lengths.device.type == device


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_each_device(device, tmp_path):
    cfg = TrainConfig(
        batch_size=8,
        max_steps=4,
        warmup_steps=1,
        eval_every=2,
        device=device,
        progress=False,
        checkpoint_dir=str(tmp_path),
    )
    model = Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7)
    result = train(model, reversal_data(16, seed=0), cfg, evaluate=lambda m: 0.0)
    assert result.step == 4 and model_device(model).type == device


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
def test_bf16_autocast_on_cuda_matches_fp32_roughly():
    model = Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, generator=torch.Generator().manual_seed(0))
    model = model.to("cuda")
    data = reversal_data(6, seed=0)
    src, mask, tgt_in = (t.cuda() for t in (data.src, data.src_mask, data.tgt_in))
    full = model(src, mask, tgt_in)
    with autocast(torch.device("cuda"), "bf16"):
        half = model(src, mask, tgt_in)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), full, atol=0.05, rtol=0.05)
