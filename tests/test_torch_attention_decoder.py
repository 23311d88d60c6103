"""Bahdanau and Luong decoders in PyTorch: parity with the NumPy decoders on identical weights
(float64: logits, weights, every gradient), the fused Luong path equal to its step loop, and the
AttentionSeq2Seq model with the training loop and batched search."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn.attention_decoder import (
    attention_decoder_backward,
    bahdanau_decoder_forward,
    luong_decoder_forward,
)
from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.torch_nn.attention_decoder import BahdanauDecoder, LuongDecoder, PlainDecoder
from s2s_ref.torch_nn.attention_seq2seq import AttentionSeq2Seq
from s2s_ref.torch_nn.search import beam_search, greedy_decode
from s2s_ref.torch_nn.training import TrainConfig, train

from . import torch_tasks
from .conftest import E, H, N, V

S, T, A = 5, 4, 2
TOL = 1e-6
CASES = [
    (BahdanauDecoder, bahdanau_decoder_forward, cell, score)
    for cell in ("rnn", "gru")
    for score in ("dot", "general", "additive", "pooled")
] + [
    (LuongDecoder, luong_decoder_forward, cell, score)
    for cell in ("rnn", "gru")
    for score in ("dot", "general", "additive", "pooled")  # NumPy decoders have no scaled_dot
]


def _numpy_params(dec, cell):
    """The NumPy decoder's parameter dict, read from a torch decoder (a transpose each)."""
    sd = {k: v.detach().numpy().copy() for k, v in dec.state_dict().items()}
    p = {"Wx": sd["rnn.weight_ih_l0"].T, "Wh": sd["rnn.weight_hh_l0"].T}
    if cell == "rnn":  # one bias in NumPy: torch's two biases add up
        p["b"] = sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"]
    else:
        p["bx"], p["bh"] = sd["rnn.bias_ih_l0"], sd["rnn.bias_hh_l0"]
    p["Wo"], p["bo"] = sd["out.weight"].T, sd["out.bias"]
    if "combine.weight" in sd:
        p["Wc"] = sd["combine.weight"].T
    p.update({"att_" + k.split(".")[-1]: v for k, v in sd.items() if k.startswith("attention.")})
    return p, sd["embedding.weight"]


def _torch_grad(dec, name, cell):
    g = {n: p.grad.numpy() for n, p in dec.named_parameters()}
    table = {
        "Wx": g["rnn.weight_ih_l0"].T,
        "Wh": g["rnn.weight_hh_l0"].T,
        "Wo": g["out.weight"].T,
        "bo": g["out.bias"],
    }
    table.update(b=g["rnn.bias_ih_l0"], bx=g["rnn.bias_ih_l0"], bh=g["rnn.bias_hh_l0"])
    if "combine.weight" in g:
        table["Wc"] = g["combine.weight"].T
    return table.get(name, g.get("attention." + name[4:]))


def _source(rng):
    enc = rng.normal(size=(N, S, H))
    mask = np.arange(S)[None, :] < np.array([S, 3, 1])[:, None]
    return enc, mask


@pytest.mark.parametrize(("cls", "np_forward", "cell", "score"), CASES)
def test_decoder_parity_with_numpy(rng, cls, np_forward, cell, score):
    torch.manual_seed(0)  # the torch layers' default initialisation only; weights are copied
    dec = cls(V, E, H, H, cell=cell, score=score, A=A).double()
    p, emb = _numpy_params(dec, cell)
    enc, mask = _source(rng)
    tgt_in = rng.integers(0, V, size=(N, T))
    s0 = rng.normal(size=(N, H))
    x, emb_cache = embedding_forward(tgt_in, emb)
    logits_np, w_np, sT_np, cache = np_forward(x, s0, enc, mask, p, cell, score)
    dlogits = rng.normal(size=logits_np.shape)
    dx, ds0, denc, grads = attention_decoder_backward(dlogits, cache)

    t_enc, t_s0 = torch.from_numpy(enc).requires_grad_(), torch.from_numpy(s0).requires_grad_()
    memory = dec.prepare(t_enc, torch.from_numpy(mask))
    logits, w, sT = dec(torch.from_numpy(tgt_in), memory, t_s0[None])
    logits.backward(torch.from_numpy(dlogits))
    np.testing.assert_allclose(logits.detach().numpy(), logits_np, atol=TOL)
    np.testing.assert_allclose(w.detach().numpy(), w_np, atol=TOL)
    np.testing.assert_allclose(sT[0].detach().numpy(), sT_np, atol=TOL)
    np.testing.assert_allclose(t_s0.grad.numpy(), ds0, atol=TOL, err_msg="ds0")
    np.testing.assert_allclose(t_enc.grad.numpy(), denc, atol=TOL, err_msg="denc")
    demb = embedding_backward(dx, emb_cache)
    np.testing.assert_allclose(dec.embedding.weight.grad.numpy(), demb, atol=TOL, err_msg="dW_emb")
    for name, g in grads.items():
        if name == "b":  # NumPy's single RNN bias: both torch biases get its gradient
            np.testing.assert_allclose(dec.rnn.bias_hh_l0.grad.numpy(), g, atol=TOL)
        np.testing.assert_allclose(_torch_grad(dec, name, cell), g, atol=TOL, err_msg=name)


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_fused_luong_equals_its_step_loop(rng, cell, score):
    torch.manual_seed(1)
    dec = LuongDecoder(V, E, H, H, cell=cell, score=score, A=A).double()
    enc, mask = _source(rng)
    enc = torch.from_numpy(enc)
    tgt_in = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    h0 = torch.from_numpy(rng.normal(size=(1, N, H)))
    state = (h0, torch.zeros_like(h0)) if cell == "lstm" else h0
    outs = []
    for fused in (True, False):
        dec.zero_grad()
        logits, w, _ = dec(tgt_in, dec.prepare(enc, torch.from_numpy(mask)), state, fused=fused)
        (logits * torch.arange(V, dtype=logits.dtype)).sum().backward()
        outs.append((logits.detach(), w.detach(), _grads(dec)))
    (l1, w1, g1), (l2, w2, g2) = outs
    torch.testing.assert_close(l1, l2, rtol=0, atol=1e-12)
    torch.testing.assert_close(w1, w2, rtol=0, atol=1e-12)
    assert g1.keys() == g2.keys()
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], rtol=0, atol=1e-10, msg=name)


def test_fused_plain_equals_its_step_loop(rng):
    torch.manual_seed(2)
    dec = PlainDecoder(V, E, H, H).double()
    enc, mask = _source(rng)
    memory = dec.prepare(torch.from_numpy(enc), torch.from_numpy(mask))
    tgt_in = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    h0 = torch.from_numpy(rng.normal(size=(1, N, H)))
    a, _, _ = dec(tgt_in, memory, h0)
    b, _, _ = dec(tgt_in, memory, h0, fused=False)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def _model(decoder, seed=0, cell="gru"):
    g = torch.Generator().manual_seed(seed)
    return AttentionSeq2Seq(
        torch_tasks.VOCAB,
        torch_tasks.VOCAB,
        emb=8,
        hidden=16,
        cell=cell,
        decoder=decoder,
        attn=8,
        generator=g,
    )


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_output_t_does_not_depend_on_later_inputs_and_padding_changes_nothing(decoder):
    model = _model(decoder).double()
    data = torch_tasks.reversal_data(4, seed=3)
    logits = model(data.src, data.src_mask, data.tgt_in)
    changed = data.tgt_in.clone()
    changed[:, 3:] = 3
    torch.testing.assert_close(model(data.src, data.src_mask, changed)[:, :3], logits[:, :3])
    other = data.src.masked_fill(~data.src_mask, 5)  # different ids behind the mask
    torch.testing.assert_close(model(other, data.src_mask, data.tgt_in), logits)


@pytest.mark.parametrize("decoder", ["plain", "bahdanau", "luong"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_greedy_equals_teacher_forcing_on_its_own_output_and_beam_one(decoder, cell):
    model = _model(decoder, seed=4, cell=cell).eval()
    data = torch_tasks.reversal_data(5, seed=5)
    tokens, lengths, _ = greedy_decode(
        model, data.src, data.src_mask, torch_tasks.BOS, torch_tasks.EOS, max_len=6
    )
    tgt_in = torch.cat([torch.full((5, 1), torch_tasks.BOS), tokens[:, :-1]], dim=1)
    with torch.no_grad():
        forced = model(data.src, data.src_mask, tgt_in).argmax(-1)
    for n in range(5):
        L = int(lengths[n])
        assert forced[n, :L].tolist() == tokens[n, :L].tolist()
    beams = beam_search(
        model, data.src, data.src_mask, torch_tasks.BOS, torch_tasks.EOS, max_len=6, beam_size=1
    )
    for n in range(5):
        hyp = list(beams[n][0].tokens)
        L = int(lengths[n])
        greedy = tokens[n, :L].tolist()
        assert hyp == (greedy[:-1] if greedy[-1] == torch_tasks.EOS else greedy)


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_attention_seq2seq_learns_reversal_with_the_training_loop(decoder):
    data = torch_tasks.reversal_data(512, seed=6)
    test = torch_tasks.reversal_data(200, seed=8)
    model = _model(decoder, seed=7)

    def accuracy(m):
        pred = m(test.src, test.src_mask, test.tgt_in).argmax(-1)
        return float((pred == test.tgt_out)[test.tgt_mask].float().mean())

    config = TrainConfig(
        lr=1e-2,
        batch_size=64,
        max_steps=300,
        warmup_steps=10,
        eval_every=25,
        target=0.9,
        seed=0,
        device="cpu",
        cpu_threads=1,
        progress=False,
    )
    result = train(model, data, config, accuracy)
    assert result.stopped == "target" and result.best_metric >= 0.9, result


def test_scheduled_sampling_runs_and_rejects_bad_ratios():
    model = _model("luong")
    data = torch_tasks.reversal_data(4, seed=9)
    g = torch.Generator().manual_seed(0)
    logits = model(data.src, data.src_mask, data.tgt_in, teacher_forcing=0.5, generator=g)
    assert logits.shape == (4, data.tgt_in.shape[1], torch_tasks.VOCAB)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model(data.src, data.src_mask, data.tgt_in, teacher_forcing=1.5)
    with pytest.raises(ValueError, match="decoder must be one of"):
        AttentionSeq2Seq(5, 5, decoder="transformer")
