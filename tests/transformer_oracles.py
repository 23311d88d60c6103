"""torch.nn's own attention and Transformer layers loaded with NumPy-layout weights (the oracles).

torch keeps the three input projections packed: ``in_proj_weight`` (3D, D) = [Wq^T; Wk^T; Wv^T],
used as x @ W^T, and its masks say True = NOT allowed, the opposite of the course's.
"""

import numpy as np
import torch

ATTN = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def load_mha_(mha, W):
    """Copy W (dict Wq..bo, NumPy layout) into a torch.nn.MultiheadAttention."""
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([t64(W[k]).T for k in ("Wq", "Wk", "Wv")]))
        mha.in_proj_bias.copy_(torch.cat([t64(W[k]) for k in ("bq", "bk", "bv")]))
        mha.out_proj.weight.copy_(t64(W["Wo"]).T)
        mha.out_proj.bias.copy_(t64(W["bo"]))


def mha_grads(mha):
    """The gradients of a torch.nn.MultiheadAttention in NumPy layout, as a dict Wq..bo."""
    D = mha.embed_dim
    gw, gb = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    out = {k: gw[i * D : (i + 1) * D].T for i, k in enumerate(("Wq", "Wk", "Wv"))}
    out.update({k: gb[i * D : (i + 1) * D] for i, k in enumerate(("bq", "bk", "bv"))})
    out["Wo"], out["bo"] = mha.out_proj.weight.grad.numpy().T, mha.out_proj.bias.grad.numpy()
    return out


def torch_mask(mask, n_heads):
    """Course mask (N, T, S), True = may attend -> torch attn_mask (N * n_heads, T, S), True = not."""
    return torch.from_numpy(~np.asarray(mask)).repeat_interleave(n_heads, dim=0)


def _attn_of(params, prefix):
    return {k: params[f"{prefix}.{k}"] for k in ATTN}


def _torch_names(decoder):
    """NumPy layer key -> (torch submodule path, transpose?) for the norms and the FFN."""
    names = {
        "ffn.W1": ("linear1.weight", True), "ffn.b1": ("linear1.bias", False),
        "ffn.W2": ("linear2.weight", True), "ffn.b2": ("linear2.bias", False),
    }  # fmt: skip
    for i in (1, 2, 3) if decoder else (1, 2):
        names[f"norm{i}.gamma"] = (f"norm{i}.weight", False)
        names[f"norm{i}.beta"] = (f"norm{i}.bias", False)
    return names


def torch_layer(params, n_heads, decoder):
    """A float64 torch.nn.Transformer{En,De}coderLayer (pre-norm, relu, no dropout) with params."""
    D, H = params["ffn.W1"].shape
    cls = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    layer = cls(D, n_heads, dim_feedforward=H, dropout=0.0, activation="relu", batch_first=True,
                norm_first=True, dtype=torch.float64)  # fmt: skip
    load_mha_(layer.self_attn, _attn_of(params, "self_attn"))
    if decoder:
        load_mha_(layer.multihead_attn, _attn_of(params, "cross_attn"))
    modules = dict(layer.named_parameters())
    with torch.no_grad():
        for key, (name, transpose) in _torch_names(decoder).items():
            value = t64(params[key])
            modules[name].copy_(value.T if transpose else value)
    return layer


def torch_layer_grads(layer, decoder):
    """The parameter gradients of torch_layer(...) in the NumPy layer's keys and layout."""
    grads = {f"self_attn.{k}": g for k, g in mha_grads(layer.self_attn).items()}
    if decoder:
        grads.update({f"cross_attn.{k}": g for k, g in mha_grads(layer.multihead_attn).items()})
    modules = dict(layer.named_parameters())
    for key, (name, transpose) in _torch_names(decoder).items():
        g = modules[name].grad.numpy()
        grads[key] = g.T if transpose else g
    return grads
