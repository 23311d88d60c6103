"""An encoder-decoder with a choice of decoder (plain, Bahdanau, Luong), ready for training and
search: the same ``forward``, ``encode`` and ``step`` as ``Seq2Seq``, so ``training.train``,
``search.greedy_decode`` and ``search.beam_search`` take it unchanged.

The encoder is chapter 6's packed (bi)directional ``Encoder``, or any module with the same
contract (``forward(src, src_mask) -> outputs (N, S, C), summary (N, C)`` and ``out_size``),
such as ``RowEncoder`` for images read row by row. The decoder starts from
tanh(summary Wb + bb) and reads the encoder outputs through attention.
Book: chapter 7, "Bahdanau and Luong decoders in PyTorch".
"""

import torch
from torch import nn

from s2s_ref.torch_nn.attention_decoder import DECODERS
from s2s_ref.torch_nn.seq2seq import Encoder, reset_uniform_


class RowEncoder(nn.Module):
    """Real-valued inputs (N, S, D), e.g. the S rows of an image, through a GRU.

    forward(src (N, S, D) float, src_mask (N, S) bool) -> outputs (N, S, H), summary (N, H):
    the same contract as ``seq2seq.Encoder``, without the embedding (rows are already vectors).
    Book: chapter 7, "Rows of an image".
    """

    def __init__(self, D, H):
        super().__init__()
        self.rnn = nn.GRU(D, H, batch_first=True)
        self.out_size = H

    def forward(self, src, src_mask):
        out, h_n = self.rnn(src)  # every image has all its rows: nothing to pack
        return out * src_mask[..., None], h_n[-1]


class AttentionSeq2Seq(nn.Module):
    """Encoder, bridge, and a decoder from ``attention_decoder.DECODERS``.

    src_vocab: V of the source (or an encoder module); tgt_vocab: V of the target; emb: E;
    hidden: H; decoder: "plain", "bahdanau" or "luong"; score: the scorer ("additive" for
    Bahdanau, "general" for Luong by default); attn: A for additive/pooled scores;
    generator: a torch.Generator for all initial weights (uniform +-1/sqrt(fan-in)).
    Book: chapter 7, "Bahdanau and Luong decoders in PyTorch".
    """

    def __init__(
        self, src_vocab, tgt_vocab, emb=32, hidden=64, cell="gru", decoder="luong", score=None,
        attn=32, bidirectional=True, generator=None,
    ):  # fmt: skip
        super().__init__()
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {sorted(DECODERS)}, got {decoder!r}")
        if isinstance(src_vocab, nn.Module):
            self.encoder = src_vocab
        else:
            self.encoder = Encoder(src_vocab, emb, hidden, cell, bidirectional)
        C = self.encoder.out_size
        self.cell = cell
        self.bridge = nn.Linear(C, hidden)
        kwargs = {} if decoder == "plain" else {"score": score or _DEFAULT_SCORE[decoder]}
        if decoder != "plain":
            kwargs["A"] = attn
        self.decoder = DECODERS[decoder](tgt_vocab, emb, hidden, C, cell, **kwargs)
        if generator is not None:
            reset_uniform_(self, generator)

    def encode(self, src, src_mask):
        """src, src_mask: (N, S) -> Memory, initial decoder state h (1, N, H) (LSTM: (h, c))."""
        enc, summary = self.encoder(src, src_mask)
        h0 = torch.tanh(self.bridge(summary)).unsqueeze(0)  # (1, N, H)
        state = (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0
        return self.decoder.prepare(enc, src_mask), state

    def step(self, tokens, memory, state):
        """One decoder step for search: tokens (N,) -> log-probabilities (N, V), new state."""
        logits, _, state = self.decoder.step(tokens, memory, state)
        return torch.log_softmax(logits.float(), dim=-1), state

    def forward(
        self, src, src_mask, tgt_in, teacher_forcing=1.0, generator=None, return_weights=False,
        fused=True,
    ):  # fmt: skip
        """src, src_mask: (N, S); tgt_in: (N, T), BOS then the target shifted right
        -> logits (N, T, V), and the attention weights (N, T, S) if return_weights.

        teacher_forcing, generator: scheduled sampling as in ``Seq2Seq.forward``; fused=False
        runs the decoder step by step even where one fused call would do.
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must lie in [0, 1], got {teacher_forcing}")
        memory, state = self.encode(src, src_mask)
        logits, weights, _ = self.decoder(tgt_in, memory, state, teacher_forcing, generator, fused)
        return (logits, weights) if return_weights else logits


_DEFAULT_SCORE = {"bahdanau": "additive", "luong": "general"}
