"""A Transformer encoder layer and decoder layer, pre-norm, forward and backward by hand.

    encoder layer:  x = x + SelfAttention(LN1(x), mask)
                    y = x + FFN(LN2(x))
    decoder layer:  x = x + SelfAttention(LN1(x), self_mask)          (causal & target padding)
                    x = x + CrossAttention(LN2(x), memory, cross_mask) (source padding)
                    y = x + FFN(LN3(x))
    FFN(h) = relu(h W1 + b1) W2 + b2

Pre-norm (the norm inside each residual branch, Xiong et al. 2020) rather than post-norm
(``y = LN(x + f(x))``, Vaswani et al. 2017): the residual path from the output back to the input
is then the identity, so gradients reach the first layers undamped and a stack trains stably
without the careful learning-rate warm-up that post-norm needs. A stack of pre-norm layers needs
one final LayerNorm on its output (``torch.nn.TransformerEncoderLayer(norm_first=True)`` is the
same layer). The memory is used as it comes: the encoder stack's final norm has already run.

Parameters are one flat dict per layer, keyed like ``"self_attn.Wq"``, ``"norm1.gamma"``,
``"ffn.W1"`` (``encoder_layer_keys()``, ``decoder_layer_keys()``); backward returns a dict of
gradients with the same keys.
Book: chapter 8, "The Transformer layer".
"""

import numpy as np

from s2s_ref.numpy_nn.layer_norm import layer_norm_backward, layer_norm_forward
from s2s_ref.numpy_nn.multihead import multi_head_attention_backward, multi_head_attention_forward
from s2s_ref.numpy_nn.transformer_checks import check_float
from s2s_ref.shapes import check_shapes

_ATTN = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")
_SPECS = {
    **{n: "D D" if n[0] == "W" else "D" for n in _ATTN},
    "gamma": "D", "beta": "D", "W1": "D H", "b1": "H", "W2": "H D", "b2": "D",
}  # fmt: skip


_FFN = ("W1", "b1", "W2", "b2")


def _keys(blocks):
    """("norm1", "self_attn", ...) -> ("norm1.gamma", "norm1.beta", "self_attn.Wq", ...)"""
    names = {"norm": ("gamma", "beta"), "attn": _ATTN, "ffn": _FFN}
    kind = {
        b: "norm" if b.startswith("norm") else "attn" if b.endswith("attn") else b for b in blocks
    }
    return tuple(f"{b}.{n}" for b in blocks for n in names[kind[b]])


def encoder_layer_keys():
    """The parameter names of an encoder layer, in a fixed order."""
    return _keys(("norm1", "self_attn", "norm2", "ffn"))


def decoder_layer_keys():
    """The parameter names of a decoder layer, in a fixed order."""
    return _keys(("norm1", "self_attn", "norm2", "cross_attn", "norm3", "ffn"))


def init_layer(keys, D, H, rng, dtype=np.float64):
    """Fresh parameters for the layer named by ``keys`` (encoder_layer_keys() or decoder_...).

    D: model size, H: the FFN's hidden size, rng: numpy.random.Generator -> dict of arrays:
    weights uniform in +-1/sqrt(fan-in), biases likewise, gamma = 1, beta = 0.
    """
    params = {}
    for key in keys:
        name = key.split(".")[1]
        shape = tuple({"D": D, "H": H}[s] for s in _SPECS[name].split())
        if name in ("gamma", "beta"):
            params[key] = np.full(shape, 1.0 if name == "gamma" else 0.0, dtype=dtype)
        else:
            bound = 1 / np.sqrt(H if name in ("W2", "b2") else D)
            params[key] = rng.uniform(-bound, bound, size=shape).astype(dtype)
    return params


def feed_forward_forward(x, W1, b1, W2, b2):
    """Position-wise FFN: relu(x W1 + b1) W2 + b2, the same for every position.

    x: (N, T, D), W1: (D, H), b1: (H,), W2: (H, D), b2: (D,) -> y: (N, T, D), cache
    Book: chapter 8, "The Transformer layer".
    """
    pre = x @ W1 + b1  # (N, T, H)
    hidden = np.maximum(pre, 0)
    return hidden @ W2 + b2, (x, W1, W2, hidden)


def feed_forward_backward(dy, cache):
    """dy: (N, T, D) -> dx: (N, T, D), dW1: (D, H), db1: (H,), dW2: (H, D), db2: (D,)"""
    x, W1, W2, hidden = cache
    D, H = W1.shape
    dpre = (dy @ W2.T) * (hidden > 0)  # relu passes the gradient where it was active
    flat_dy, flat_dpre = dy.reshape(-1, D), dpre.reshape(-1, H)
    dW2 = hidden.reshape(-1, H).T @ flat_dy
    dW1 = x.reshape(-1, D).T @ flat_dpre
    return dpre @ W1.T, dW1, flat_dpre.sum(axis=0), dW2, flat_dy.sum(axis=0)


def _check_layer(func, keys, params, **arrays):
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(f"{func}: params lacks {missing}; expected the keys {list(keys)}")
    check_float(func, **arrays, **{k: params[k] for k in keys})
    specs = {name: (a, "N T D" if name == "x" else "N S D") for name, a in arrays.items()}
    check_shapes(func, **specs, **{k: (params[k], _SPECS[k.split(".")[1]]) for k in keys})


def _attention_block(x, memory, mask, params, norm, attn, n_heads):
    """x + MHA(LN(x), kv) with kv = LN(x) (self-attention, memory None) or the memory."""
    h, c_norm = layer_norm_forward(x, params[f"{norm}.gamma"], params[f"{norm}.beta"])
    kv = h if memory is None else memory
    weights = [params[f"{attn}.{n}"] for n in _ATTN]
    a, _, c_attn = multi_head_attention_forward(h, kv, mask, *weights, n_heads)
    return x + a, (memory is None, norm, attn, c_norm, c_attn)


def _attention_block_backward(dy, cache, grads):
    """-> dx, dmemory (None for self-attention); writes the block's gradients into grads."""
    is_self, norm, attn, c_norm, c_attn = cache
    dh, dkv, *dparams = multi_head_attention_backward(dy, c_attn)
    grads.update(zip((f"{attn}.{n}" for n in _ATTN), dparams, strict=True))
    dmemory = None
    if is_self:
        dh = dh + dkv  # the normalised input was both the queries and the keys/values
    else:
        dmemory = dkv
    dx, grads[f"{norm}.gamma"], grads[f"{norm}.beta"] = layer_norm_backward(dh, c_norm)
    return dy + dx, dmemory  # the residual path carries dy through unchanged


def _ffn_block(x, params, norm):
    h, c_norm = layer_norm_forward(x, params[f"{norm}.gamma"], params[f"{norm}.beta"])
    f, c_ffn = feed_forward_forward(h, *(params[f"ffn.{n}"] for n in _FFN))
    return x + f, (norm, c_norm, c_ffn)


def _ffn_block_backward(dy, cache, grads):
    norm, c_norm, c_ffn = cache
    dh, *dparams = feed_forward_backward(dy, c_ffn)
    grads.update(zip((f"ffn.{n}" for n in _FFN), dparams, strict=True))
    dx, grads[f"{norm}.gamma"], grads[f"{norm}.beta"] = layer_norm_backward(dh, c_norm)
    return dy + dx


def encoder_layer_forward(x, mask, params, n_heads):
    """One pre-norm encoder layer: self-attention then FFN, each in a residual branch.

    x: (N, T, D), mask: (N, T, T) bool, True = may attend (padding: the padded keys False),
    params: dict with encoder_layer_keys() (W* (D, D), b* (D,), W1 (D, H), W2 (H, D), ...),
    n_heads: divides D -> y: (N, T, D), cache
    Book: chapter 8, "The Transformer layer".
    """
    _check_layer("encoder_layer_forward", encoder_layer_keys(), params, x=x)
    x1, c_attn = _attention_block(x, None, mask, params, "norm1", "self_attn", n_heads)
    y, c_ffn = _ffn_block(x1, params, "norm2")
    return y, (c_attn, c_ffn)


def encoder_layer_backward(dy, cache):
    """dy: (N, T, D) -> dx: (N, T, D), grads: dict with encoder_layer_keys()"""
    c_attn, c_ffn = cache
    grads = {}
    dx1 = _ffn_block_backward(dy, c_ffn, grads)
    dx, _ = _attention_block_backward(dx1, c_attn, grads)
    return dx, {k: grads[k] for k in encoder_layer_keys()}


def decoder_layer_forward(x, memory, self_mask, cross_mask, params, n_heads):
    """One pre-norm decoder layer: masked self-attention, cross-attention to memory, FFN.

    x: (N, T, D) the target side, memory: (N, S, D) the encoder's (normalised) output,
    self_mask: (N, T, T) bool (causal_mask(T) & target padding), cross_mask: (N, T, S) bool
    (source padding), params: dict with decoder_layer_keys(), n_heads: divides D
    -> y: (N, T, D), cache
    Book: chapter 8, "The Transformer layer".
    """
    _check_layer("decoder_layer_forward", decoder_layer_keys(), params, x=x, memory=memory)
    x1, c_self = _attention_block(x, None, self_mask, params, "norm1", "self_attn", n_heads)
    x2, c_cross = _attention_block(x1, memory, cross_mask, params, "norm2", "cross_attn", n_heads)
    y, c_ffn = _ffn_block(x2, params, "norm3")
    return y, (c_self, c_cross, c_ffn)


def decoder_layer_backward(dy, cache):
    """dy: (N, T, D) -> dx: (N, T, D), dmemory: (N, S, D), grads: dict with decoder_layer_keys()"""
    c_self, c_cross, c_ffn = cache
    grads = {}
    dx2 = _ffn_block_backward(dy, c_ffn, grads)
    dx1, dmemory = _attention_block_backward(dx2, c_cross, grads)
    dx, _ = _attention_block_backward(dx1, c_self, grads)
    return dx, dmemory, {k: grads[k] for k in decoder_layer_keys()}
