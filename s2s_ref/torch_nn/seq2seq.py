"""The fast encoder-decoder: fused ``nn.GRU``/``nn.LSTM`` calls (cuDNN on GPUs), packed sources.

The encoder reads the source as a packed sequence, so padding never enters its final state; the
decoder gets that summary as its initial state (through a ``tanh`` bridge) and, as in Cho et al.
(2014), as an extra input at every step. Under full teacher forcing the decoder is one fused RNN
call over all target positions; with a teacher-forcing ratio below 1 (scheduled sampling) it runs
step by step, feeding back its own argmax where the coin says so.
Book: chapter 6, "Batching, padding and packing" and "The training loop".
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _check_batch(src, src_mask):
    if src.dim() != 2 or src_mask.shape != src.shape or src_mask.dtype != torch.bool:
        raise ValueError(
            f"expected src (N, S) ids and a boolean src_mask of the same shape, got "
            f"{tuple(src.shape)} and {tuple(src_mask.shape)} {src_mask.dtype}"
        )
    lengths = src_mask.sum(dim=1)
    if bool((lengths == 0).any()):
        raise ValueError("every source sequence needs at least one real token (mask all False)")
    return lengths


def _fan_in(layer: nn.Module, p: torch.Tensor) -> int:
    """The fan-in torch.nn's own reset gives ``p``, a parameter of ``layer``: in_features for a
    Linear and hidden_size for a GRU/LSTM (biases included), else the last axis of ``p``."""
    if isinstance(layer, nn.Linear):
        return layer.in_features
    if isinstance(layer, nn.RNNBase):
        return layer.hidden_size
    return p.shape[-1]


def reset_uniform_(module: nn.Module, generator: torch.Generator) -> None:
    """Draw every parameter from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``generator``, in the
    order of ``module.parameters()``, so that a seed fixes the initial weights on any device.
    A bias (1-D) takes the fan-in of its layer, as in torch.nn (see ``_fan_in``)."""
    with torch.no_grad():
        for layer in module.modules():
            for p in layer.parameters(recurse=False):
                bound = 1.0 / _fan_in(layer, p) ** 0.5
                p.uniform_(-bound, bound, generator=generator)


class Encoder(nn.Module):
    """Embedding + (bi)directional GRU/LSTM over a padded batch.

    forward(src (N, S), src_mask (N, S) bool) -> outputs (N, S, C), summary (N, C), where
    C = H * (2 if bidirectional else 1); outputs are 0 on padding, summary is the final state of
    each direction after the last *real* token. pack=False runs the RNN over the padding too
    (kept to measure what packing buys in the book).
    Book: chapter 6, "Batching, padding and packing".
    """

    def __init__(self, V, E, H, cell="gru", bidirectional=True, pack=True):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.embedding = nn.Embedding(V, E)
        self.rnn = CELLS[cell](E, H, batch_first=True, bidirectional=bidirectional)
        self.pack = pack
        self.out_size = H * (2 if bidirectional else 1)

    def forward(self, src, src_mask):
        lengths = _check_batch(src, src_mask)
        N, S = src.shape
        x = self.embedding(src)  # (N, S, E)
        if self.pack:
            # lengths live on the CPU: pack_padded_sequence reads them to sort the batch
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
        else:
            out, state = self.rnn(x)
            out = out * src_mask.unsqueeze(-1)
        h_n = state[0] if isinstance(state, tuple) else state  # (dirs, N, H)
        summary = h_n.transpose(0, 1).reshape(N, self.out_size)  # (N, dirs * H)
        return out, summary


class Decoder(nn.Module):
    """Embedding + GRU/LSTM whose input at every step is [embedded token; context] + projection.

    forward(tgt_in (N, T), context (N, C), state) -> logits (N, T, V), state, one fused call.
    state: h (1, N, H) for a GRU, (h, c) for an LSTM.
    Book: chapter 6, "The training loop".
    """

    def __init__(self, V, E, H, C, cell="gru"):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = CELLS[cell](E + C, H, batch_first=True)
        self.proj = nn.Linear(H, V)

    def forward(self, tgt_in, context, state):
        x = self.embedding(tgt_in)  # (N, T, E)
        ctx = context.unsqueeze(1).expand(-1, x.shape[1], -1)  # (N, T, C), a view
        out, state = self.rnn(torch.cat([x, ctx.to(x.dtype)], dim=-1), state)
        return self.proj(out), state


class Seq2Seq(nn.Module):
    """Encoder, bridge (initial decoder state = tanh(summary @ W + b)), decoder.

    src_vocab, tgt_vocab: V of each side; emb: E; hidden: H; cell: "gru" or "lstm".
    generator: a torch.Generator for the initial weights (uniform, +-1/sqrt(fan)), so that a seed
    reproduces a model without touching torch's global random state.
    Book: chapter 6, "The training loop".
    """

    def __init__(
        self, src_vocab, tgt_vocab, emb=32, hidden=128, cell="gru", bidirectional=True,
        pack=True, generator=None,
    ):  # fmt: skip
        super().__init__()
        self.cell = cell
        self.encoder = Encoder(src_vocab, emb, hidden, cell, bidirectional, pack)
        C = self.encoder.out_size
        self.bridge = nn.Linear(C, hidden)
        self.decoder = Decoder(tgt_vocab, emb, hidden, C, cell)
        if generator is not None:
            reset_uniform_(self, generator)

    def encode(self, src, src_mask):
        """src, src_mask: (N, S) -> context (N, C), initial decoder state."""
        _, summary = self.encoder(src, src_mask)
        h0 = torch.tanh(self.bridge(summary)).unsqueeze(0)  # (1, N, H)
        state = (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0
        return summary, state

    def step(self, tokens, context, state):
        """One decoder step for search: tokens (N,) -> log-probabilities (N, V), new state."""
        logits, state = self.decoder(tokens.unsqueeze(1), context, state)
        return torch.log_softmax(logits[:, 0].float(), dim=-1), state

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, generator=None):
        """src, src_mask: (N, S); tgt_in: (N, T), BOS then the target shifted right.

        teacher_forcing: probability of feeding the true previous token at each step t >= 1
        (per example, drawn from ``generator``); otherwise the model's own argmax is fed.
        -> logits (N, T, V)
        Book: chapter 6, "The training loop" (chapter 4 for scheduled sampling).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must lie in [0, 1], got {teacher_forcing}")
        context, state = self.encode(src, src_mask)
        if teacher_forcing == 1.0:
            return self.decoder(tgt_in, context, state)[0]
        tokens, steps = tgt_in[:, 0], []
        for t in range(tgt_in.shape[1]):
            if t > 0:
                coin = torch.rand(tokens.shape, generator=generator, device="cpu")
                own = steps[-1][:, 0].argmax(-1)
                tokens = torch.where(coin.to(tokens.device) < teacher_forcing, tgt_in[:, t], own)
            logits, state = self.decoder(tokens.unsqueeze(1), context, state)
            steps.append(logits)
        return torch.cat(steps, dim=1)
