"""The encoder-decoder of chapter 3: GRU encoder, context vector, GRU decoder, masked loss.

Parameters live in one dict (names below), so that an optimiser, a gradient check and a torch
re-implementation can walk them in one loop:

    enc_emb (Vs, E), enc_Wx (E, 3H), enc_Wh (H, 3H), enc_bx (3H,), enc_bh (3H,)
    dec_emb (Vt, E), dec_Wx (E + H, 3H), dec_Wh (H, 3H), dec_bx (3H,), dec_bh (3H,),
    dec_Wo (2H, Vt), dec_bo (Vt,)

``seq2seq_loss`` runs encoder and decoder and backpropagates through both (full BPTT);
``decoder_step_fn`` wraps the decoder in the step function of ``s2s_ref.decoding``.
Book: chapter 3, "The whole model" and "Backpropagation through decoder and encoder".
"""

import numpy as np

from s2s_ref.numpy_nn.decoder import decoder_backward, decoder_forward
from s2s_ref.numpy_nn.encoder import encoder_backward, encoder_forward
from s2s_ref.numpy_nn.gru import gru_step_forward
from s2s_ref.numpy_nn.loss import log_softmax, softmax_cross_entropy

ENCODER = ("enc_emb", "enc_Wx", "enc_Wh", "enc_bx", "enc_bh")
DECODER = ("dec_emb", "dec_Wx", "dec_Wh", "dec_bx", "dec_bh", "dec_Wo", "dec_bo")


def init_seq2seq(src_vocab, tgt_vocab, emb, hidden, rng, dtype=np.float32):
    """Random parameters: weights N(0, 1 / fan_in), embeddings N(0, 1), zero biases.

    src_vocab, tgt_vocab: Vs, Vt; emb: E; hidden: H; rng: numpy.random.Generator -> dict
    """
    E, H = emb, hidden

    def w(fan_in, *shape):
        return (rng.normal(size=shape) / np.sqrt(fan_in)).astype(dtype)

    return {
        "enc_emb": w(1, src_vocab, E),
        "enc_Wx": w(E, E, 3 * H),
        "enc_Wh": w(H, H, 3 * H),
        "enc_bx": np.zeros(3 * H, dtype),
        "enc_bh": np.zeros(3 * H, dtype),
        "dec_emb": w(1, tgt_vocab, E),
        "dec_Wx": w(E + H, E + H, 3 * H),
        "dec_Wh": w(H, H, 3 * H),
        "dec_bx": np.zeros(3 * H, dtype),
        "dec_bh": np.zeros(3 * H, dtype),
        "dec_Wo": w(2 * H, 2 * H, tgt_vocab),
        "dec_bo": np.zeros(tgt_vocab, dtype),
    }


def seq2seq_forward(params, src, src_mask, tgt_in, teacher_ratio=1.0, rng=None):
    """Encode the sources and decode T steps.

    src, src_mask: (N, S); tgt_in: (N, T) decoder inputs SOS + y
    -> logits: (N, T, Vt), fed: (N, T) decoder inputs actually used, cache
    """
    enc, context, enc_cache = encoder_forward(src, src_mask, *(params[k] for k in ENCODER))
    logits, fed, dec_cache = decoder_forward(
        tgt_in, context, *(params[k] for k in DECODER), teacher_ratio=teacher_ratio, rng=rng
    )
    return logits, fed, (enc, enc_cache, dec_cache)


def seq2seq_loss(params, src, src_mask, tgt_in, tgt_out, tgt_mask, teacher_ratio=1.0, rng=None):
    """Mean cross-entropy over real target tokens, and its gradient for every parameter.

    src, src_mask: (N, S); tgt_in, tgt_out, tgt_mask: (N, T) (see data.batching.Batch)
    -> loss: float, grads: dict shaped like params, logits: (N, T, Vt)
    Book: chapter 3, "Backpropagation through decoder and encoder".
    """
    logits, _, (enc, enc_cache, dec_cache) = seq2seq_forward(
        params, src, src_mask, tgt_in, teacher_ratio, rng
    )
    loss, dlogits = softmax_cross_entropy(logits, tgt_out, tgt_mask)
    dcontext, *dec_grads = decoder_backward(dlogits, dec_cache)
    enc_grads = encoder_backward(np.zeros_like(enc), dcontext, enc_cache)
    grads = dict(zip(ENCODER + DECODER, (*enc_grads, *dec_grads), strict=True))
    return loss, grads, logits


def decoder_step_fn(params):
    """The decoder as ``step(tokens, state) -> (log_probs, state)`` for s2s_ref.decoding.

    state: (s, c), both (B, H): the decoder state and the context of each hypothesis.
    Start from ``initial_state(params, src, src_mask)``.
    Book: chapter 4, "Greedy decoding".
    """
    p = params

    def step(tokens, state):
        s, c = state
        x = np.concatenate([p["dec_emb"][tokens], c], axis=1)
        s, _ = gru_step_forward(x, s, p["dec_Wx"], p["dec_Wh"], p["dec_bx"], p["dec_bh"])
        logits = np.concatenate([s, c], axis=1) @ p["dec_Wo"] + p["dec_bo"]
        return log_softmax(logits), (s, c)

    return step


def initial_state(params, src, src_mask):
    """(s_0, c) = (context, context) for the decoder step function; both (N, H)."""
    _, context, _ = encoder_forward(src, src_mask, *(params[k] for k in ENCODER))
    return context, context
