"""An encoder-decoder with a choice of decoder: plain, Bahdanau or Luong attention.

One encoder (embedding + recurrent cell) for all three, so that a comparison between them
changes the decoder only. Parameters live in one flat dict: "src_emb", "tgt_emb", "enc_*" (the
encoder cell) and "dec_*" (the decoder's, see attention_decoder). The plain decoder starts from the
encoder's last real state and sees nothing else of the source: the forgetting problem.
Book: chapter 5, "The forgetting problem, measured".
"""

from dataclasses import dataclass

import numpy as np

from s2s_ref.numpy_nn.attention_decoder import (
    CELLS,
    attention_decoder_backward,
    bahdanau_decoder_forward,
    luong_decoder_forward,
)
from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.encoder import encode_with, encode_with_backward
from s2s_ref.numpy_nn.loss import softmax_cross_entropy
from s2s_ref.shapes import check_shapes


@dataclass(frozen=True)
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    emb: int = 16  # E
    hidden: int = 64  # H, shared by encoder and decoder
    attn: int = 32  # A, additive scorer only
    decoder: str = "bahdanau"  # "plain", "bahdanau" or "luong"
    cell: str = "rnn"  # a key of attention_decoder.CELLS
    score: str = "additive"  # "dot", "general", "additive" or "pooled" (not attention)


def init_seq2seq(config, rng, dtype=np.float32):
    """Small random weights (scaled by 1 / sqrt(fan-in)), zero biases -> dict of arrays."""
    c, H, E = config, config.hidden, config.emb
    G = CELLS[c.cell].gates  # gate blocks stacked along the output axis

    def w(fan_in, *shape):
        return (rng.normal(size=shape) / np.sqrt(fan_in)).astype(dtype)

    def cell(prefix, D):
        names = CELLS[c.cell].params
        shapes = {"Wx": (D, G * H), "Wh": (H, G * H)}
        return {
            prefix + n: w(shapes[n][0], *shapes[n]) if n in shapes else np.zeros(G * H, dtype)
            for n in names
        }

    p = {"src_emb": w(1, c.src_vocab, E), "tgt_emb": w(1, c.tgt_vocab, E), **cell("enc_", E)}
    if c.decoder == "plain":
        return {
            **p,
            **cell("dec_", E),
            "dec_Wo": w(H, H, c.tgt_vocab),
            "dec_bo": np.zeros(c.tgt_vocab, dtype),
        }
    p.update(cell("dec_", E + H if c.decoder == "bahdanau" else E))
    p["dec_Wo"] = w(2 * H, 2 * H, c.tgt_vocab) if c.decoder == "bahdanau" else w(H, H, c.tgt_vocab)
    if c.decoder == "luong":
        p["dec_Wc"] = w(2 * H, 2 * H, H)
    scorer = {"dot": {}, "general": {"att_W": w(H, H, H)}}.get(c.score)
    if scorer is None:  # additive, or pooled (the same without the query's half)
        scorer = {"att_Wq": w(H, H, c.attn), "att_Wk": w(H, H, c.attn), "att_w": w(c.attn, c.attn)}
        if c.score == "pooled":
            del scorer["att_Wq"]
    p.update({"dec_" + n: a for n, a in scorer.items()})
    return {**p, "dec_bo": np.zeros(c.tgt_vocab, dtype)}


def _decode(config, p, x, s0, enc, mask):
    """-> logits, weights (None for plain), s_T, cache"""
    if config.decoder == "plain":
        fwd = CELLS[config.cell].forward
        s, cache = fwd(x, s0, *(p[n] for n in CELLS[config.cell].params))
        return s @ p["Wo"] + p["bo"], None, s[:, -1], ("plain", s, cache)
    decoder = bahdanau_decoder_forward if config.decoder == "bahdanau" else luong_decoder_forward
    return decoder(x, s0, enc, mask, p, config.cell, config.score)


def _decode_backward(config, p, dlogits, cache):
    if config.decoder != "plain":
        return attention_decoder_backward(dlogits, cache)
    _, s, cell_cache = cache
    ds = dlogits @ p["Wo"].T
    dx, ds0, *dcell = CELLS[config.cell].backward(ds, cell_cache)
    grads = dict(zip(CELLS[config.cell].params, dcell, strict=True))
    grads.update(
        Wo=s.reshape(-1, s.shape[2]).T @ dlogits.reshape(-1, dlogits.shape[2]),
        bo=dlogits.sum(axis=(0, 1)),
    )
    return dx, ds0, 0, grads


def _sub(p, prefix):
    return {n[len(prefix) :]: a for n, a in p.items() if n.startswith(prefix)}


def encode(config, p, src, src_mask):
    """Run the encoder cell over the embedded source (``encoder.encode_with``).

    src: (N, S) ids, src_mask: (N, S) bool, real tokens first -> enc: (N, S, H), s0: (N, H), cache
    """
    check_shapes("encode", src=(src, "N S"), src_mask=(src_mask, "N S"))
    enc_p = _sub(p, "enc_")
    cell = CELLS[config.cell]
    return encode_with(cell.forward, src, src_mask, p["src_emb"], *(enc_p[n] for n in cell.params))


def seq2seq_forward(config, p, src, src_mask, tgt_in):
    """Teacher-forced logits for every target position.

    src, src_mask: (N, S); tgt_in: (N, T) decoder inputs, starting with BOS
    -> logits: (N, T, V), weights: (N, T, S) (None for the plain decoder), cache
    Book: chapter 5, "Two attention decoders".
    """
    enc, s0, enc_cache = encode(config, p, src, src_mask)
    x, x_cache = embedding_forward(tgt_in, p["tgt_emb"])
    dec_p = _sub(p, "dec_")
    logits, weights, _, dec_cache = _decode(config, dec_p, x, s0, enc, src_mask)
    return logits, weights, (config, dec_p, enc_cache, x_cache, dec_cache)


def seq2seq_backward(dlogits, cache):
    """dlogits: (N, T, V) -> grads: dict shaped like the parameters"""
    config, dec_p, enc_cache, x_cache, dec_cache = cache
    dx, ds0, denc, dgrads = _decode_backward(config, dec_p, dlogits, dec_cache)
    grads = {"dec_" + n: g for n, g in dgrads.items()}
    grads["tgt_emb"] = embedding_backward(dx, x_cache)
    cell = CELLS[config.cell]
    grads["src_emb"], *dcell = encode_with_backward(cell.backward, denc, ds0, enc_cache)
    grads.update({"enc_" + n: g for n, g in zip(cell.params, dcell, strict=True)})
    return grads


def seq2seq_loss(config, p, src, src_mask, tgt_in, tgt_out, tgt_mask):
    """Teacher-forced mean cross-entropy over real target tokens, and its gradient.

    src, src_mask: (N, S); tgt_in, tgt_out, tgt_mask: (N, T) -> loss: float, grads: dict like p
    Book: chapter 5, "The forgetting problem, measured".
    """
    logits, _, cache = seq2seq_forward(config, p, src, src_mask, tgt_in)
    loss, dlogits = softmax_cross_entropy(logits, tgt_out, tgt_mask)
    return loss, seq2seq_backward(dlogits, cache)


def greedy_decode(config, p, src, src_mask, steps, bos):
    """Feed back the most likely token for a fixed number of steps.

    -> ids: (N, steps), weights: (N, steps, S) attention weights (None for the plain decoder)
    Book: chapter 5, "Reading attention maps".
    """
    enc, s, _ = encode(config, p, src, src_mask)
    dec_p = _sub(p, "dec_")
    token = np.full((src.shape[0], 1), bos)
    ids, weights = [], []
    for _ in range(steps):
        x, _ = embedding_forward(token, p["tgt_emb"])
        logits, a, s, _ = _decode(config, dec_p, x, s, enc, src_mask)
        token = logits.argmax(axis=2)
        ids.append(token[:, 0])
        weights.append(None if a is None else a[:, 0])
    return np.stack(ids, 1), None if weights[0] is None else np.stack(weights, 1)
