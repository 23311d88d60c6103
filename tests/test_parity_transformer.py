"""numpy_nn and torch_nn Transformer twins on identical weights: outputs and every gradient."""

import numpy as np
import pytest
import torch

from s2s_ref.numpy_nn import multihead as np_mh
from s2s_ref.numpy_nn import transformer as np_tf
from s2s_ref.torch_nn import transformer as torch_tf

# N, T, S, D, heads, D / heads and the FFN size H all different.
N, T, S, D, HEADS, H = 2, 5, 7, 12, 4, 10
ATTN = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")


NAMES = {"gamma": "weight", "beta": "bias"}  # nn.LayerNorm's names for the norms' parameters


def _load_(module, params):
    """Copy a NumPy layer's params (keys like "self_attn.Wq", "norm1.gamma") into its twin."""
    own = dict(module.named_parameters())
    with torch.no_grad():
        for key, value in params.items():
            block, name = key.split(".")
            own[f"{block}.{NAMES.get(name, name)}"].copy_(torch.from_numpy(value))
    assert len(own) == len(params)


def _grads(module, keys):
    own = dict(module.named_parameters())
    out = {}
    for key in keys:
        block, name = key.split(".")
        out[key] = own[f"{block}.{NAMES.get(name, name)}"].grad.numpy()
    return out


def _params(keys, seed):
    rng = np.random.default_rng(seed)
    params = np_tf.init_layer(keys, D, H, rng)
    return {k: v + rng.normal(scale=0.2, size=v.shape) for k, v in params.items()}


def _masks(seed):
    rng = np.random.default_rng(seed)
    src = np.arange(S)[None, :] < np.array([S, 3])[:, None]  # (N, S)
    self_mask = np.repeat(np_mh.causal_mask(T)[None], N, axis=0)
    return np.repeat(src[:, None, :], T, axis=1), self_mask, rng


def test_multi_head_attention_twins_agree():
    rng = np.random.default_rng(0)
    q, kv, dout = rng.normal(size=(N, T, D)), rng.normal(size=(N, S, D)), rng.normal(size=(N, T, D))
    W = {k: rng.normal(scale=0.4, size=(D, D) if k[0] == "W" else D) for k in ATTN}
    mask = rng.random((N, T, S)) < 0.6
    mask[:, :, 1] = True
    out, weights, cache = np_mh.multi_head_attention_forward(q, kv, mask, *W.values(), HEADS)
    grads = np_mh.multi_head_attention_backward(dout, cache)
    twin = torch_tf.MultiHeadAttention(D, HEADS).double()
    with torch.no_grad():
        for k, v in W.items():
            getattr(twin, k).copy_(torch.from_numpy(v))
    tq, tkv = (torch.tensor(a, requires_grad=True) for a in (q, kv))
    t_out, t_weights = twin(tq, tkv, torch.from_numpy(mask), return_weights=True)
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(t_out.detach().numpy(), out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t_weights.detach().numpy(), weights, rtol=1e-10, atol=1e-12)
    expected = [tq.grad, tkv.grad, *(getattr(twin, k).grad for k in ATTN)]
    for name, g, t in zip(("dq", "dkv", *ATTN), grads, expected, strict=True):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


def test_encoder_layer_twins_agree():
    mask, _, rng = _masks(1)
    mask = mask[:, :, :T]
    x, dy = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, D))
    params = _params(np_tf.encoder_layer_keys(), 2)
    y, cache = np_tf.encoder_layer_forward(x, mask, params, HEADS)
    dx, grads = np_tf.encoder_layer_backward(dy, cache)
    twin = torch_tf.EncoderLayer(D, HEADS, H).double()
    _load_(twin, params)
    tx = torch.tensor(x, requires_grad=True)
    t_y = twin(tx, torch.from_numpy(mask))
    t_y.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(t_y.detach().numpy(), y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-9, atol=1e-11)
    for k, g in _grads(twin, params).items():
        np.testing.assert_allclose(g, grads[k], rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("with_cache", [False, True])
def test_decoder_layer_twins_agree(with_cache):
    cross_mask, self_mask, rng = _masks(3)
    x, memory, dy = (
        rng.normal(size=(N, T, D)),
        rng.normal(size=(N, S, D)),
        rng.normal(size=(N, T, D)),
    )
    params = _params(np_tf.decoder_layer_keys(), 4)
    y, cache = np_tf.decoder_layer_forward(x, memory, self_mask, cross_mask, params, HEADS)
    dx, dmemory, grads = np_tf.decoder_layer_backward(dy, cache)
    twin = torch_tf.DecoderLayer(D, HEADS, H).double()
    _load_(twin, params)
    tx, tm = (torch.tensor(a, requires_grad=True) for a in (x, memory))
    kv = twin.cross_attn.project_kv(tm)
    cross = torch.from_numpy(cross_mask[:, :1])  # (N, 1, S): the same for every query
    if with_cache:  # the first T - 1 positions at once, then the last one from the cache
        head, past, _ = twin(tx[:, :-1], kv, cross, torch.from_numpy(self_mask[:1, :-1, :-1]))
        last, _, _ = twin(tx[:, -1:], kv, cross, torch.ones(1, 1, T, dtype=torch.bool), past)
        t_y = torch.cat([head, last], dim=1)
    else:
        t_y, _, _ = twin(tx, kv, cross, torch.from_numpy(self_mask[:1]))
    t_y.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(t_y.detach().numpy(), y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(tm.grad.numpy(), dmemory, rtol=1e-9, atol=1e-11)
    for k, g in _grads(twin, params).items():
        np.testing.assert_allclose(g, grads[k], rtol=1e-9, atol=1e-11, err_msg=k)


def test_positional_encodings_agree():
    for T_, D_ in [(30, 16), (7, 5), (1, 1)]:
        np.testing.assert_allclose(
            torch_tf.positional_encoding(T_, D_, dtype=torch.float64).numpy(),
            np_mh.positional_encoding(T_, D_), rtol=0, atol=1e-12,
        )  # fmt: skip
