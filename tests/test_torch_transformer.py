"""The course's Transformer against torch.nn.Transformer / nn.MultiheadAttention (copied weights),
its KV cache against full recomputation, and greedy/beam search through the course's search code."""

import numpy as np
import pytest
import torch

from s2s_ref import decoding
from s2s_ref.torch_nn.devices import autocast, model_device
from s2s_ref.torch_nn.search import beam_search, greedy_decode
from s2s_ref.torch_nn.training import TrainConfig, train
from s2s_ref.torch_nn.transformer import (
    FeedForward,
    MultiHeadAttention,
    Transformer,
    decoding_step,
    positional_encoding,
)

from .torch_tasks import BOS, EOS, VOCAB, reversal_data

HAS_CUDA = torch.cuda.is_available()
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.cuda,
                                pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")]),
]  # fmt: skip
# D, heads, D / heads, the FFN size H, the layers and the vocabularies all different.
D, HEADS, H, LAYERS, SRC_V, TGT_V = 12, 3, 10, 2, 11, 9


def _model(seed=0, **kw):
    sizes = dict(D=D, n_heads=HEADS, H=H, n_layers=LAYERS) | kw
    return Transformer(SRC_V, TGT_V, generator=torch.Generator().manual_seed(seed), **sizes)


def _ref_pairs(model, ref):
    """(our parameter, torch.nn.Transformer's, map from torch's layout to ours) for every weight."""
    for ours, theirs, cross in [
        (model.encoder_layers, ref.encoder.layers, False),
        (model.decoder_layers, ref.decoder.layers, True),
    ]:
        for mine, other in zip(ours, theirs, strict=True):
            attns = [(mine.self_attn, other.self_attn)]
            if cross:
                attns.append((mine.cross_attn, other.multihead_attn))
            for a, b in attns:
                for i, n in enumerate("qkv"):
                    yield (
                        getattr(a, f"W{n}"),
                        b.in_proj_weight,
                        lambda w, i=i: w[i * D : (i + 1) * D].T,
                    )
                    yield getattr(a, f"b{n}"), b.in_proj_bias, lambda w, i=i: w[i * D : (i + 1) * D]
                yield a.Wo, b.out_proj.weight, lambda w: w.T
                yield a.bo, b.out_proj.bias, lambda w: w
            yield mine.ffn.W1, other.linear1.weight, lambda w: w.T
            yield mine.ffn.b1, other.linear1.bias, lambda w: w
            yield mine.ffn.W2, other.linear2.weight, lambda w: w.T
            yield mine.ffn.b2, other.linear2.bias, lambda w: w
            for k in ("norm1", "norm2", "norm3") if cross else ("norm1", "norm2"):
                yield getattr(mine, k).weight, getattr(other, k).weight, lambda w: w
                yield getattr(mine, k).bias, getattr(other, k).bias, lambda w: w
    for mine, other in [
        (model.encoder_norm, ref.encoder.norm),
        (model.decoder_norm, ref.decoder.norm),
    ]:
        yield mine.weight, other.weight, lambda w: w
        yield mine.bias, other.bias, lambda w: w


def _torch_transformer(model):
    """torch.nn.Transformer (pre-norm, relu, no dropout, float64) holding the model's weights."""
    ref = torch.nn.Transformer(D, HEADS, LAYERS, LAYERS, H, dropout=0.0, batch_first=True,
                               norm_first=True, dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        for mine, theirs, to_ours in _ref_pairs(model, ref):
            theirs.normal_(generator=torch.Generator().manual_seed(mine.numel()))
            mine.copy_(to_ours(theirs))  # torch's random weights, not ours: nothing hides
    return ref


def _inputs(N=4, S=7, T=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, S, D, generator=g, dtype=torch.float64)
    y = torch.randn(N, T, D, generator=g, dtype=torch.float64)
    lengths = torch.tensor([S, 1, 3, S - 1][:N])
    return x, y, torch.arange(S)[None] < lengths[:, None]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's, about norm_first
@pytest.mark.parametrize("N, S, T", [(4, 7, 5), (1, 1, 1), (2, 40, 33)])
def test_stacks_equal_torch_transformer_outputs_and_gradients(N, S, T):
    model = _model().double()
    ref = _torch_transformer(model)
    x, y, mask = _inputs(N, S, T)
    memory, enc = model.encode_embedded(x, mask)
    out, _, _ = model.decode_embedded(y, memory)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.bool)
    ref_out = ref(x, y, tgt_mask=causal, src_key_padding_mask=~mask, memory_key_padding_mask=~mask)
    ref_enc = ref.encoder(x, src_key_padding_mask=~mask)
    torch.testing.assert_close(enc, ref_enc, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (out * weight).sum().backward()
    (ref_out * weight).sum().backward()
    for mine, theirs, to_ours in _ref_pairs(model, ref):
        torch.testing.assert_close(mine.grad, to_ours(theirs.grad), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("return_weights", [False, True])
def test_attention_equals_torch_multihead_attention(return_weights):
    g = torch.Generator().manual_seed(3)
    N, T, S = 2, 5, 7
    ours = MultiHeadAttention(D, HEADS).double()
    ref = torch.nn.MultiheadAttention(D, HEADS, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(generator=g)
        ref.in_proj_weight.copy_(torch.cat([ours.Wq.T, ours.Wk.T, ours.Wv.T]))
        ref.in_proj_bias.copy_(torch.cat([ours.bq, ours.bk, ours.bv]))
        ref.out_proj.weight.copy_(ours.Wo.T)
        ref.out_proj.bias.copy_(ours.bo)
    q = torch.randn(N, T, D, generator=g, dtype=torch.float64, requires_grad=True)
    kv = torch.randn(N, S, D, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(N, T, S, generator=g) < 0.7
    mask[:, :, 2] = True
    out, weights = ours(q, kv, mask, return_weights=return_weights)
    ref_out, ref_weights = ref(q, kv, kv, attn_mask=(~mask).repeat_interleave(HEADS, 0),
                               average_attn_weights=False)  # fmt: skip
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    if return_weights:
        torch.testing.assert_close(weights, ref_weights, rtol=1e-10, atol=1e-12)
        assert bool((weights[~mask[:, None].expand_as(weights)] == 0).all())
    dq, dkv = torch.autograd.grad(out.sum(), (q, kv))
    ref_dq, ref_dkv = torch.autograd.grad(ref_out.sum(), (q, kv))
    torch.testing.assert_close(dq, ref_dq, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(dkv, ref_dkv, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("n, seed", [(5, 0), (1, 4), (3, 9)])
def test_kv_cache_equals_full_recomputation(n, seed):
    model = _model(seed, n_layers=3).double().eval()
    data = reversal_data(n, seed=seed)
    src = data.src.clamp(max=SRC_V - 1)
    tgt_in = data.tgt_in.clamp(max=TGT_V - 1)
    with torch.no_grad():
        full, full_weights = model(src, data.src_mask, tgt_in, return_weights=True)
        memory, state = model.encode(src, data.src_mask)
        for t in range(tgt_in.shape[1]):
            log_probs, state = model.step(tgt_in[:, t], memory, state)
            assert state[0].shape == (3, n, HEADS, t + 1, D // HEADS)
            expected = torch.log_softmax(full[:, t].float(), dim=-1)
            torch.testing.assert_close(log_probs, expected, rtol=1e-6, atol=1e-6)
    assert all(bool(((w.sum(-1) - 1).abs() < 1e-12).all()) for w in full_weights)


def test_output_t_ignores_target_tokens_after_t_and_padded_sources():
    model = _model(5).double()
    data = reversal_data(4, seed=5)
    with torch.no_grad():
        logits = model(data.src, data.src_mask, data.tgt_in)
        for t in range(data.tgt_in.shape[1] - 1):
            changed = data.tgt_in.clone()
            changed[:, t + 1 :] = (changed[:, t + 1 :] + 3) % TGT_V
            assert torch.equal(
                model(data.src, data.src_mask, changed)[:, : t + 1], logits[:, : t + 1]
            )
        noisy = data.src.masked_fill(~data.src_mask, 7)  # other tokens behind the padding
        torch.testing.assert_close(
            model(noisy, data.src_mask, data.tgt_in), logits, rtol=0, atol=1e-12
        )


def test_batch_rows_are_independent():
    model = _model(6).double()
    data = reversal_data(3, seed=6)
    with torch.no_grad():
        logits = model(data.src, data.src_mask, data.tgt_in)
        for n in range(3):
            alone = model(data.src[n : n + 1], data.src_mask[n : n + 1], data.tgt_in[n : n + 1])
            torch.testing.assert_close(alone[0], logits[n], rtol=1e-10, atol=1e-12)


def _search_model(seed):
    model = Transformer(VOCAB, VOCAB, D=D, n_heads=HEADS, H=H, n_layers=LAYERS,
                        generator=torch.Generator().manual_seed(seed)).eval()  # fmt: skip
    with torch.no_grad():  # peaked distributions and an early EOS: hypotheses of all lengths
        model.out.weight.mul_(6.0)
        model.out.bias[EOS] += 4.0
    data = reversal_data(5, seed=seed + 1)
    return model, data.src, data.src_mask


def test_greedy_through_both_search_codes_and_teacher_forcing_agree():
    model, src, mask = _search_model(0)
    tokens, lengths, logp = greedy_decode(model, src, mask, BOS, EOS, max_len=7)
    step, state = decoding_step(model, src, mask)
    ref_tokens, ref_lengths, ref_logp = decoding.greedy_decode(step, state, 5, BOS, EOS, 7)
    np.testing.assert_array_equal(tokens.numpy(), ref_tokens)
    np.testing.assert_array_equal(lengths.numpy(), ref_lengths)
    np.testing.assert_allclose(logp.numpy(), ref_logp, rtol=1e-5)
    assert len(set(lengths.tolist())) > 1
    tgt_in = torch.cat([torch.full((5, 1), BOS), tokens[:, :-1]], dim=1)
    with torch.no_grad():
        predicted = model(src, mask, tgt_in).argmax(-1)
    real = torch.arange(tokens.shape[1])[None] < lengths[:, None]
    assert torch.equal(predicted[real], tokens[real])


@pytest.mark.parametrize(
    "beam_size, alpha, penalty, seed",
    [(1, 0.0, "gnmt", 1), (3, 0.7, "gnmt", 0), (4, 1.0, "power", 2)],
)
def test_batched_beam_equals_the_reference_beam(beam_size, alpha, penalty, seed):
    model, src, mask = _search_model(seed)
    ours = beam_search(model, src, mask, BOS, EOS, 7, beam_size, alpha, penalty)
    step, state = decoding_step(model, src, mask)
    ref = decoding.beam_search(step, state, 5, BOS, EOS, 7, beam_size, alpha, penalty)
    for hyps, ref_hyps in zip(ours, ref, strict=True):
        assert [h.tokens for h in hyps] == [h.tokens for h in ref_hyps]
        assert [h.finished for h in hyps] == [h.finished for h in ref_hyps]
        np.testing.assert_allclose([h.score for h in hyps], [h.score for h in ref_hyps], rtol=1e-5)
    lengths = {len(h.tokens) for hyps in ours for h in hyps if h.finished}
    assert len(lengths) > 1, "the test needs hypotheses finishing at different steps"


@pytest.mark.parametrize("device", DEVICES)
def test_training_and_search_run_on_each_device(device, tmp_path):
    cfg = TrainConfig(batch_size=8, max_steps=3, warmup_steps=1, eval_every=3, device=device,
                      progress=False, checkpoint_dir=str(tmp_path))  # fmt: skip
    model = Transformer(VOCAB, VOCAB, D=8, n_heads=2, H=6, n_layers=1)
    result = train(model, reversal_data(16, seed=0), cfg, evaluate=lambda m: 0.0)
    assert result.step == 3 and model_device(model).type == device
    data = reversal_data(4, seed=1)
    src, mask = data.src.to(device), data.src_mask.to(device)
    tokens, lengths, _ = greedy_decode(model.eval(), src, mask, BOS, EOS, max_len=5)
    assert tokens.device.type == device and lengths.device.type == device
    assert len(beam_search(model, src, mask, BOS, EOS, 5, beam_size=2)) == 4


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
def test_bf16_autocast_on_cuda_matches_fp32_roughly():
    model = _model(7).cuda().eval()
    data = reversal_data(6, seed=7)
    src, mask = data.src.clamp(max=SRC_V - 1).cuda(), data.src_mask.cuda()
    tgt_in = data.tgt_in.clamp(max=TGT_V - 1).cuda()
    with torch.no_grad():
        full = model(src, mask, tgt_in)
        with autocast(torch.device("cuda"), "bf16"):
            half = model(src, mask, tgt_in)
            memory, state = model.encode(src, mask)
            log_probs, state = model.step(tgt_in[:, 0], memory, state)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), full, atol=0.05, rtol=0.05)
    torch.testing.assert_close(log_probs, torch.log_softmax(full[:, 0], -1), atol=0.05, rtol=0.05)


def test_positional_encoding_formula():
    pe = positional_encoding(6, 5, start=3, dtype=torch.float64)
    for t in range(6):
        for j in range(5):
            angle = (t + 3) / 10000 ** ((j - j % 2) / 5)
            assert float(pe[t, j]) == pytest.approx(np.sin(angle) if j % 2 == 0 else np.cos(angle))


def test_bad_input_gets_a_sentence():
    model = _model()
    data = reversal_data(3, seed=8)
    with pytest.raises(ValueError, match=r"source row\(s\) \[1\] have no real token"):
        bad = data.src_mask.clone()
        bad[1] = False
        model(data.src, bad, data.tgt_in)
    with pytest.raises(ValueError, match="src_mask should be boolean"):
        model(data.src, data.src_mask.long(), data.tgt_in)
    with pytest.raises(ValueError, match="teacher_forcing must be 1.0"):
        model(data.src, data.src_mask, data.tgt_in, teacher_forcing=0.5)
    with pytest.raises(ValueError, match="n_heads must be a positive divisor of D = 12"):
        Transformer(SRC_V, TGT_V, D=12, n_heads=5)
    attn = MultiHeadAttention(D, HEADS)
    q = torch.zeros(2, 3, D)
    with pytest.raises(ValueError, match=r"may attend to no key .*\[\[1, 2\]\]"):
        mask = torch.ones(2, 3, 4, dtype=torch.bool)
        mask[1, 2] = False
        attn(q, torch.zeros(2, 4, D), mask)
    with pytest.raises(ValueError, match=r"broadcastable to \(N, T, S\) = \(2, 3, 4\)"):
        attn(q, torch.zeros(2, 4, D), torch.ones(2, 4, 3, dtype=torch.bool))


def test_initial_weights_are_seeded_and_bounded():
    a, b = _model(11), _model(11)
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not torch.equal(a.out.weight, _model(12).out.weight)
    torch.testing.assert_close(a.decoder_layers[0].norm3.weight, torch.ones(D))
    for module in (MultiHeadAttention(D, HEADS), FeedForward(D, H)):  # usable on their own too
        for name, p in module.named_parameters():
            assert (
                bool(p.isfinite().all())
                and float(p.detach().abs().max()) <= min(D, H) ** -0.5 + 1e-7
            ), name


@pytest.mark.slow
def test_learns_reversal_through_the_course_training_loop():
    """About 3 CPU seconds: 400 Adam steps, then greedy decoding of held-out sources."""
    data, test = reversal_data(2000, seed=0), reversal_data(200, seed=99)
    model = Transformer(VOCAB, VOCAB, D=32, n_heads=4, H=64, n_layers=1,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    cfg = TrainConfig(lr=3e-3, batch_size=32, max_steps=400, warmup_steps=30, eval_every=400,
                      device="cpu", progress=False, cpu_threads=1)  # fmt: skip
    train(model, data, cfg)
    tokens, _, _ = greedy_decode(model.eval(), test.src, test.src_mask, BOS, EOS, max_len=8)
    lengths = test.tgt_mask.sum(1)
    exact = [
        torch.equal(tokens[i, : lengths[i]], test.tgt_out[i, : lengths[i]]) for i in range(200)
    ]
    assert sum(exact) / 200 >= 0.95
