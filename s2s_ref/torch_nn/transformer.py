"""A Transformer encoder-decoder from the course's own modules, with a key/value cache for search.

The twins of ``numpy_nn.multihead`` and ``numpy_nn.transformer``: the same parameter names and
layouts (``Wq (D, D)`` used as ``x @ Wq``, ``ffn.W1 (D, H)``), the same boolean mask convention
(True = may attend), pre-norm layers with torch's ``nn.LayerNorm``, sinusoidal positions added to
embeddings scaled by sqrt(D). Given the same weights it computes what ``torch.nn.Transformer``
(``norm_first=True``, relu, no dropout) computes.

Training runs the decoder over all T target positions at once (the causal mask hides the future).
Decoding cannot: token t + 1 needs token t. ``step`` feeds one token per hypothesis and keeps, for
every decoder layer, the keys and values of the positions already decoded (the KV cache), so a
step costs one position's work instead of recomputing the whole prefix. ``encode`` / ``step`` are
those of ``Seq2Seq``, so ``search.greedy_decode`` and ``search.beam_search`` take the model as it
is; ``decoding_step`` adapts it to ``s2s_ref.decoding``.
Book: chapter 8, "The Transformer layer", "The key/value cache".
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_ATTN = ("Wq", "Wk", "Wv", "Wo")


def _uniform(shape, fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Transformer(generator=...) redraws every weight."""
    bound = fan_in**-0.5
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


def positional_encoding(T, D, start=0, device=None, dtype=torch.float32):
    """Sinusoidal positions start .. start + T - 1 (Vaswani et al. 2017) -> (T, D).

    PE[t, 2i] = sin(t w_i), PE[t, 2i + 1] = cos(t w_i), w_i = 10000^(-2i / D); computed in
    float64 then cast, so that a float32 or bf16 model gets correctly rounded angles at large t.
    Book: chapter 8, "Why positions need encoding".
    """
    pos = torch.arange(start, start + T, device=device, dtype=torch.float64)[:, None]
    angles = pos * 10000.0 ** (-torch.arange(0, D, 2, device=device, dtype=torch.float64) / D)
    pe = torch.empty(T, D, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : D // 2])
    return pe.to(dtype)


def check_attention_mask(mask, N, T, S):
    """Raise a sentence unless mask is boolean, broadcastable to (N, T, S), every query a key."""
    ok = mask.dtype == torch.bool and mask.dim() == 3
    if not ok or any(m not in (1, n) for m, n in zip(mask.shape, (N, T, S), strict=True)):
        raise ValueError(
            f"attention: mask should be boolean, broadcastable to (N, T, S) = ({N}, {T}, {S}), "
            f"True = may attend; got {mask.dtype} {tuple(mask.shape)}"
        )
    empty = ~mask.any(dim=2)
    if bool(empty.any()):
        rows = torch.nonzero(empty)[:5].tolist()
        raise ValueError(
            f"attention: {int(empty.sum())} quer(y/ies) may attend to no key (mask row all False), "
            f"(n, t) = {rows}; a softmax over nothing is undefined"
        )


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention; parameters as in numpy_nn.multihead.

    Wq, Wk, Wv, Wo: (D, D) used as x @ W; bq, bk, bv, bo: (D,); n_heads divides D.
    Without return_weights it calls the fused ``F.scaled_dot_product_attention`` (whose boolean
    mask also means True = take part); with it, the softmax written out.
    Book: chapter 8, "What self-attention adds".
    """

    def __init__(self, D, n_heads):
        super().__init__()
        if n_heads < 1 or D % n_heads:
            raise ValueError(f"n_heads must be a positive divisor of D = {D}, got {n_heads}")
        self.n_heads = n_heads
        for name in _ATTN:
            setattr(self, name, _uniform((D, D), D))
            setattr(self, "b" + name[1], nn.Parameter(torch.zeros(D)))

    def _split(self, x):
        N, L, D = x.shape
        return x.view(N, L, self.n_heads, D // self.n_heads).transpose(1, 2)  # (N, heads, L, d)

    def project_kv(self, kv):
        """kv: (N, S, D) -> keys, values: (N, n_heads, S, D / n_heads), computed once per source."""
        return self._split(kv @ self.Wk + self.bk), self._split(kv @ self.Wv + self.bv)

    def forward(self, q, kv, mask, kv_proj=None, return_weights=False, checked=False):
        """q: (N, T, D), kv: (N, S, D) (None when kv_proj = project_kv(...) is given),
        mask: bool, broadcastable to (N, T, S), True = may attend
        -> out (N, T, D), weights (N, n_heads, T, S) (None unless return_weights).
        checked: the caller has validated the mask (skips a host sync).
        """
        K, V = self.project_kv(kv) if kv_proj is None else kv_proj
        N, T, D = q.shape
        if not checked:
            check_attention_mask(mask, N, T, K.shape[2])
        Q = self._split(q @ self.Wq + self.bq)  # (N, heads, T, d)
        K, V = K.to(Q.dtype), V.to(Q.dtype)  # a cache made outside autocast, read inside it
        weights = None
        if return_weights:
            scores = Q @ K.transpose(2, 3) / math.sqrt(D // self.n_heads)  # (N, heads, T, S)
            weights = torch.softmax(scores.masked_fill(~mask[:, None], -math.inf), dim=-1)
            context = weights.to(V.dtype) @ V
        else:
            context = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask[:, None])
        return context.transpose(1, 2).reshape(N, T, D) @ self.Wo + self.bo, weights


class FeedForward(nn.Module):
    """relu(x W1 + b1) W2 + b2 at every position. W1: (D, H), W2: (H, D), as in numpy_nn."""

    def __init__(self, D, H):
        super().__init__()
        self.W1, self.b1 = _uniform((D, H), D), nn.Parameter(torch.zeros(H))
        self.W2, self.b2 = _uniform((H, D), H), nn.Parameter(torch.zeros(D))

    def forward(self, x):
        return torch.relu(x @ self.W1 + self.b1) @ self.W2 + self.b2


class EncoderLayer(nn.Module):
    """Pre-norm: x + SelfAttention(LN1(x)), then + FFN(LN2(x)). See numpy_nn.transformer.

    Book: chapter 8, "The Transformer layer".
    """

    def __init__(self, D, n_heads, H):
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(D), MultiHeadAttention(D, n_heads)
        self.norm2, self.ffn = nn.LayerNorm(D), FeedForward(D, H)

    def forward(self, x, mask, checked=False):
        """x: (N, T, D), mask: broadcastable to (N, T, T) -> (N, T, D)"""
        h = self.norm1(x)
        x = x + self.self_attn(h, h, mask, checked=checked)[0]
        return x + self.ffn(self.norm2(x))


class DecoderLayer(nn.Module):
    """Pre-norm: masked self-attention, cross-attention to the memory, FFN, each residual.

    Book: chapter 8, "The Transformer layer" ("Decoding with a KV cache" for the cache).
    """

    def __init__(self, D, n_heads, H):
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(D), MultiHeadAttention(D, n_heads)
        self.norm2, self.cross_attn = nn.LayerNorm(D), MultiHeadAttention(D, n_heads)
        self.norm3, self.ffn = nn.LayerNorm(D), FeedForward(D, H)

    def forward(self, x, memory_kv, cross_mask, self_mask, cache=None, return_weights=False):
        """x: (N, T, D) positions t0 .. t0 + T - 1; memory_kv: cross_attn.project_kv(memory);
        cross_mask: (N, 1, S); self_mask: (1, T, t0 + T); cache: the (keys, values) of positions
        0 .. t0 - 1, (N, heads, t0, d) each, or None (t0 = 0). Masks are not checked here.
        -> y (N, T, D), the cache extended to t0 + T positions, cross weights (or None)
        """
        h = self.norm1(x)
        K, V = self.self_attn.project_kv(h)
        if cache is not None:  # the past positions' keys and values, instead of recomputing them
            K, V = torch.cat([cache[0], K], 2), torch.cat([cache[1], V], 2)
        x = x + self.self_attn(h, None, self_mask, kv_proj=(K, V), checked=True)[0]
        c, w = self.cross_attn(self.norm2(x), None, cross_mask, memory_kv, return_weights, True)
        x = x + c
        return x + self.ffn(self.norm3(x)), (K, V), w


@dataclass
class TransformerMemory:
    """The encoded source: mask (N, S) bool and, per decoder layer, its cross keys and values
    (N, heads, S, d). Indexing selects batch rows (beam search makes K copies of each source)."""

    mask: torch.Tensor
    keys: tuple
    values: tuple

    def __getitem__(self, index):
        pick = tuple(t[index] for t in self.keys), tuple(t[index] for t in self.values)
        return TransformerMemory(self.mask[index], *pick)

    @property
    def device(self):
        return self.mask.device


class Transformer(nn.Module):
    """Embeddings, n_layers pre-norm encoder and decoder layers, final norms, output layer.

    src_vocab, tgt_vocab: V of each side; D: model size; n_heads: divides D; H: FFN size
    (default 4 D); n_layers: encoder and decoder layers each; generator: a torch.Generator for
    every initial weight (matrices uniform +-1/sqrt(fan-in), embeddings N(0, 1/D), norms 1 and 0,
    biases 0). forward / encode / step as ``Seq2Seq``.
    Book: chapter 8, "The Transformer layer".
    """

    def __init__(self, src_vocab, tgt_vocab, D=64, n_heads=4, H=None, n_layers=2, generator=None):
        super().__init__()
        H = 4 * D if H is None else H
        self.D, self.n_heads, self.n_layers = D, n_heads, n_layers
        self.src_embedding, self.tgt_embedding = (
            nn.Embedding(src_vocab, D),
            nn.Embedding(tgt_vocab, D),
        )
        self.encoder_layers = nn.ModuleList(EncoderLayer(D, n_heads, H) for _ in range(n_layers))
        self.encoder_norm = nn.LayerNorm(D)
        self.decoder_layers = nn.ModuleList(DecoderLayer(D, n_heads, H) for _ in range(n_layers))
        self.decoder_norm = nn.LayerNorm(D)
        self.out = nn.Linear(D, tgt_vocab)
        self._init(generator)

    def _init(self, generator):
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "norm" in name:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                elif "embedding" in name:
                    p.normal_(0.0, self.D**-0.5, generator=generator)
                elif p.dim() == 1:
                    p.zero_()
                else:  # out.weight is nn.Linear's (V, D); the others are (in, out)
                    fan_in = p.shape[1] if name == "out.weight" else p.shape[0]
                    p.uniform_(-(fan_in**-0.5), fan_in**-0.5, generator=generator)

    def _embed(self, embedding, ids, start=0):
        """ids (N, T) -> embedding * sqrt(D) + PE(start ..), (N, T, D)"""
        x = embedding(ids) * math.sqrt(self.D)
        return x + positional_encoding(ids.shape[1], self.D, start, x.device, x.dtype)

    def encode_embedded(self, x, src_mask):
        """x: (N, S, D) embedded source, src_mask: (N, S) bool -> TransformerMemory, encoder
        output (N, S, D) (after the final norm)."""
        _check_src(x.shape[:2], src_mask)
        mask = src_mask[:, None, :]  # (N, 1, S): the same real keys for every query
        for layer in self.encoder_layers:
            x = layer(x, mask, checked=True)
        enc = self.encoder_norm(x)
        kv = [layer.cross_attn.project_kv(enc) for layer in self.decoder_layers]
        return TransformerMemory(src_mask, *map(tuple, zip(*kv, strict=True))), enc

    def decode_embedded(self, y, memory, cache=None, return_weights=False):
        """y: (N, T, D) embedded target positions t0 .. t0 + T - 1; memory: TransformerMemory;
        cache: per layer (keys, values) of positions 0 .. t0 - 1, or None
        -> (N, T, D) after the final norm, the new cache, per layer cross weights (N, heads, T, S)
        """
        t0 = 0 if cache is None else cache[0][0].shape[2]
        T = y.shape[1]
        self_mask = torch.ones(T, t0 + T, dtype=torch.bool, device=y.device).tril(t0)[None]
        cross_mask = memory.mask[:, None, :]
        new_cache, weights = [], []
        for i, layer in enumerate(self.decoder_layers):
            past = None if cache is None else cache[i]
            kv = memory.keys[i], memory.values[i]
            y, layer_cache, w = layer(y, kv, cross_mask, self_mask, past, return_weights)
            new_cache.append(layer_cache)
            weights.append(w)
        return self.decoder_norm(y), new_cache, weights

    def encode(self, src, src_mask):
        """src, src_mask: (N, S) -> TransformerMemory, empty KV cache (keys, values), each
        (n_layers, N, heads, 0, d): batch on axis 1, as search._reorder expects."""
        memory, _ = self.encode_embedded(self._embed(self.src_embedding, src), src_mask)
        d = self.D // self.n_heads
        empty = memory.keys[0].new_zeros(self.n_layers, src.shape[0], self.n_heads, 0, d)
        return memory, (empty, empty)

    def step(self, tokens, memory, state):
        """tokens: (B,) the last token of each hypothesis; state: the KV cache (keys, values),
        each (n_layers, B, heads, t, d) -> log-probabilities (B, V), the cache with t + 1."""
        keys, values = state
        t = keys.shape[3]
        y = self._embed(self.tgt_embedding, tokens[:, None], start=t)  # (B, 1, D) at position t
        out, cache, _ = self.decode_embedded(y, memory, list(zip(keys, values, strict=True)))
        new = tuple(torch.stack(c) for c in zip(*cache, strict=True))
        return torch.log_softmax(self.out(out[:, 0]).float(), dim=-1), new

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, generator=None,
                return_weights=False):  # fmt: skip
        """src, src_mask: (N, S); tgt_in: (N, T), BOS then the target shifted right
        -> logits (N, T, V), and per decoder layer the cross weights (N, heads, T, S) if
        return_weights. Target padding needs no mask: it only follows the real tokens, which
        the causal mask never lets a real position see. teacher_forcing must be 1: feeding
        back its own predictions would make the decoder step by step.
        """
        if teacher_forcing != 1.0:
            raise ValueError(
                "Transformer: teacher_forcing must be 1.0; the decoder sees all T positions at "
                f"once, so scheduled sampling does not apply (got {teacher_forcing})"
            )
        memory, _ = self.encode_embedded(self._embed(self.src_embedding, src), src_mask)
        out, _, weights = self.decode_embedded(self._embed(self.tgt_embedding, tgt_in), memory,
                                               return_weights=return_weights)  # fmt: skip
        logits = self.out(out)
        return (logits, weights) if return_weights else logits


def _check_src(shape, src_mask):
    if src_mask.dtype != torch.bool or tuple(src_mask.shape) != tuple(shape):
        raise ValueError(
            f"Transformer: src_mask should be boolean (N, S) = {tuple(shape)}, True = real token; "
            f"got {src_mask.dtype} {tuple(src_mask.shape)}"
        )
    if not bool(src_mask.any(dim=1).all()):
        empty = torch.nonzero(~src_mask.any(dim=1)).flatten().tolist()
        raise ValueError(f"Transformer: source row(s) {empty} have no real token (mask all False)")


def decoding_step(model, src, src_mask):
    """Adapt a Transformer to ``s2s_ref.decoding``: -> step(tokens, state), state, with every
    state leaf batch-first (the memory, and the KV cache as (B, n_layers, heads, t, d))."""
    with torch.no_grad():
        memory, (keys, values) = model.encode(src, src_mask)

    def step(tokens, state):
        memory, keys, values = state
        tokens = torch.as_tensor(tokens, device=memory.device)
        with torch.no_grad():
            log_probs, (k, v) = model.step(
                tokens, memory, (keys.transpose(0, 1), values.transpose(0, 1))
            )
        return log_probs.double().cpu().numpy(), (memory, k.transpose(0, 1), v.transpose(0, 1))

    return step, (memory, keys.transpose(0, 1), values.transpose(0, 1))
