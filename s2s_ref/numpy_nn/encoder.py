"""The encoder: embed the source, run a GRU over it, keep the state after the last real token.

    e_t = W_emb[x_t]                 h_t = GRU(e_t, h_{t-1}), h_0 = 0
    c = h_{L}                        L = the number of real tokens (the context vector)

Sources are padded on the right, so the GRU reads the padding only after the last real token:
the context, taken at position L - 1, never depends on it, and states at padded positions are
returned but masked out by whoever reads them (attention, chapter 5). The GRU over the source is
``numpy_nn.fused``'s: the same values as chapter 2's ``gru_forward``, faster, and float32 stays
float32. ``encode_with`` is the same encoder for any cell; chapter 5's models use it with theirs.
Book: chapter 3, "The encoder and the context vector".
"""

import numpy as np

from s2s_ref.numpy_nn.embedding import embedding_backward, embedding_forward
from s2s_ref.numpy_nn.fused import fused_gru_backward, fused_gru_forward
from s2s_ref.shapes import check_shapes


def _lengths(src_mask, func):
    mask = np.asarray(src_mask)
    if mask.dtype != bool:
        raise TypeError(f"{func}: src_mask must be boolean (True = real token), got {mask.dtype}")
    lengths = mask.sum(axis=1)
    if (lengths == 0).any() or (mask != (np.arange(mask.shape[1]) < lengths[:, None])).any():
        raise ValueError(f"{func}: every source needs >= 1 real token, padding only on the right")
    return lengths


def encoder_forward(src, src_mask, W_emb, Wx, Wh, bx, bh):
    """Embed and encode a padded batch of sources.

    src: (N, S) int ids, src_mask: (N, S) bool, W_emb: (V, E), Wx: (E, 3H), Wh: (H, 3H),
    bx, bh: (3H,) -> enc: (N, S, H) every state, context: (N, H) the last real state, cache
    Book: chapter 3, "The encoder and the context vector".
    """
    check_shapes(
        "encoder_forward", src=(src, "N S"), src_mask=(src_mask, "N S"), W_emb=(W_emb, "V E"),
        Wx=(Wx, "E 3H"), Wh=(Wh, "H 3H"),
    )  # fmt: skip
    return encode_with(fused_gru_forward, src, src_mask, W_emb, Wx, Wh, bx, bh)


def encoder_backward(denc, dcontext, cache):
    """Backward of the encoder, given the gradients of every state and of the context.

    denc: (N, S, H) (zeros when only the context is used), dcontext: (N, H)
    -> dW_emb: (V, E), dWx: (E, 3H), dWh: (H, 3H), dbx: (3H,), dbh: (3H,)
    The context is a copy of state L - 1, so its gradient is added there; BPTT through the GRU
    then carries it back to every earlier token.
    Book: chapter 3, "Backpropagation through decoder and encoder".
    """
    check_shapes("encoder_backward", denc=(denc, "N S H"), dcontext=(dcontext, "N H"))
    if denc.shape != cache[-1]:
        raise ValueError(f"encoder_backward: denc should have shape {cache[-1]}, got {denc.shape}")
    return encode_with_backward(fused_gru_backward, denc, dcontext, cache)


def encode_with(cell_forward, src, src_mask, W_emb, *cell):
    """The encoder with any recurrent cell: embed, run ``cell_forward`` from h_0 = 0, keep the
    state after each source's last real token.

    cell_forward: a sequence forward (x, h0, *cell) -> (states, cache), such as
    ``fused_gru_forward`` or ``rnn_forward``; cell: its weights, Wh (H, G * H) second.
    src: (N, S) ids, src_mask: (N, S) bool, W_emb: (V, E)
    -> enc: (N, S, H) every state, context: (N, H) the last real state, cache
    """
    lengths = _lengths(src_mask, "encoder")
    emb, emb_cache = embedding_forward(src, W_emb)  # (N, S, E)
    h0 = np.zeros((src.shape[0], cell[1].shape[0]), dtype=emb.dtype)
    enc, cell_cache = cell_forward(emb, h0, *cell)  # (N, S, H)
    context = enc[np.arange(src.shape[0]), lengths - 1]  # (N, H), a copy (fancy indexing)
    return enc, context, (emb_cache, cell_cache, lengths, enc.shape)


def encode_with_backward(cell_backward, denc, dcontext, cache):
    """Backward of ``encode_with``, given the gradients of every state and of the context.

    cell_backward: the backward of the cell_forward used; denc: (N, S, H), or 0 when only the
    context is used; dcontext: (N, H) -> dW_emb: (V, E), then the cell's weight gradients
    The context is a copy of state L - 1, so its gradient is added there; BPTT through the cell
    then carries it back to every earlier token.
    """
    emb_cache, cell_cache, lengths, shape = cache
    dh = denc + np.zeros(shape, dcontext.dtype)  # a new array: never write into the caller's
    dh[np.arange(shape[0]), lengths - 1] += dcontext
    demb, _, *dcell = cell_backward(dh, cell_cache)
    return embedding_backward(demb, emb_cache), *dcell
