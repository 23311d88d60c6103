"""Decoders for ``AttentionSeq2Seq``: plain, Bahdanau and Luong, as ``nn.Module``s.

They read a ``Memory`` (encoder outputs (N, S, C) as keys and values, the source mask, the keys
projected once) and a recurrent state h (1, N, H) (an LSTM's is (h, c)); the equations are those
of ``numpy_nn.attention_decoder``:

    plain:     s_t = cell(x_t, s_{t-1});                                   o_t = s_t
    Bahdanau:  c_t = attend(s_{t-1});  s_t = cell([x_t; c_t], s_{t-1});  o_t = [s_t; c_t]
    Luong:     s_t = cell(x_t, s_{t-1});  c_t = attend(s_t);  o_t = tanh([s_t; c_t] Wc)
    logits_t = o_t Wo + bo

The Bahdanau cell needs c_t before it can step, so it runs step by step. The plain and Luong
cells do not see the context: under teacher forcing they run as ONE fused ``nn.GRU``/``nn.LSTM``
call over all T steps, and Luong then attends for all T queries at once (one ``bmm``). Luong et
al.'s "input feeding" would feed o_{t-1} back into the cell and forbid that fusion; it is left out.
Book: chapter 7, "Bahdanau and Luong decoders in PyTorch".
"""

from dataclasses import dataclass

import torch
from torch import nn

from s2s_ref.torch_nn.attention import check_mask, make_score

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass
class Memory:
    """What the decoder reads of the source: enc (N, S, C), mask (N, S) bool, keys (projected).

    Indexing selects batch rows of all three (beam search makes K copies of each source).
    """

    enc: torch.Tensor
    mask: torch.Tensor
    keys: torch.Tensor | None = None

    def __getitem__(self, index):
        keys = None if self.keys is None else self.keys[index]
        return Memory(self.enc[index], self.mask[index], keys)

    @property
    def device(self):
        return self.enc.device


def _top(state):
    """The last layer's hidden state (N, H) of h (L, N, H) or an LSTM's (h, c)."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


class _Decoder(nn.Module):
    """Shared parts: target embedding, cell, output layer, and the step-by-step loop."""

    def __init__(self, V, E, H, C, cell, cell_input, out_size, score=None, A=None, generator=None):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.embedding = nn.Embedding(V, E)
        self.rnn = CELLS[cell](cell_input, H, batch_first=True)
        self.out = nn.Linear(out_size, V)
        self.attention = None if score is None else make_score(score, H, C, A, generator)

    def prepare(self, enc, mask):
        """-> Memory with the keys projected once for all steps."""
        check_mask(mask, *enc.shape[:2])
        keys = None if self.attention is None else self.attention.project_keys(enc)
        return Memory(enc, mask, keys)

    def _attend(self, q, memory):
        return self.attention(q, memory.enc, memory.enc, memory.mask, memory.keys, checked=True)

    def forward(self, tgt_in, memory, state, teacher_forcing=1.0, generator=None, fused=True):
        """tgt_in: (N, T) token ids, BOS first; memory: from prepare(); state: h (1, N, H)
        -> logits (N, T, V), weights (N, T, S) (None for plain), final state.

        teacher_forcing < 1: at each step t >= 1 an example feeds its own argmax unless its coin
        (from ``generator``) is below the ratio. fused=False forces the step loop (to test and
        time the fused path against it).
        """
        if teacher_forcing == 1.0 and fused and hasattr(self, "fused"):
            return self.fused(tgt_in, memory, state)
        tokens, logits, weights = tgt_in[:, 0], [], []
        for t in range(tgt_in.shape[1]):
            if t > 0 and teacher_forcing < 1.0:
                coin = torch.rand(tokens.shape, generator=generator, device="cpu")
                own = logits[-1].argmax(-1)
                tokens = torch.where(coin.to(tokens.device) < teacher_forcing, tgt_in[:, t], own)
            elif t > 0:
                tokens = tgt_in[:, t]
            step_logits, a, state = self.step(tokens, memory, state)
            logits.append(step_logits)
            weights.append(a)
        stacked = None if weights[0] is None else torch.stack(weights, 1)
        return torch.stack(logits, 1), stacked, state


class PlainDecoder(_Decoder):
    """No attention: the source reaches the decoder only through its initial state."""

    def __init__(self, V, E, H, C, cell="gru", generator=None):
        super().__init__(V, E, H, C, cell, E, H)

    def step(self, tokens, memory, state):
        """tokens (N,) -> logits (N, V), None, state"""
        s, state = self.rnn(self.embedding(tokens)[:, None], state)  # (N, 1, H)
        return self.out(s[:, 0]), None, state

    def fused(self, tgt_in, memory, state):
        s, state = self.rnn(self.embedding(tgt_in), state)  # one call over all T steps
        return self.out(s), None, state


class BahdanauDecoder(_Decoder):
    """Attention from the previous state; the context enters the cell and the output layer.

    V, E, H: target vocabulary, embedding, hidden sizes; C: encoder output size;
    score: "additive" (Bahdanau et al.), "general", "dot", "scaled_dot" or "pooled"; A: attention
    size for additive/pooled. Parameters: rnn (E + C -> H), out (H + C -> V), attention.
    """

    def __init__(self, V, E, H, C, cell="gru", score="additive", A=None, generator=None):
        super().__init__(V, E, H, C, cell, E + C, H + C, score, A, generator)

    def step(self, tokens, memory, state):
        """tokens (N,) -> logits (N, V), weights (N, S), state"""
        c, a = self._attend(_top(state), memory)  # query: the previous state s_{t-1}
        x = torch.cat([self.embedding(tokens), c], dim=-1)[:, None]  # (N, 1, E + C)
        s, state = self.rnn(x, state)
        return self.out(torch.cat([s[:, 0], c], dim=-1)), a, state


class LuongDecoder(_Decoder):
    """Attention on the new state, then o_t = tanh([s_t; c_t] Wc): Luong et al.'s global model.

    Same arguments as BahdanauDecoder (score defaults to "general"). Parameters: rnn (E -> H),
    combine (H + C -> H, no bias: Wc), out (H -> V), attention.
    """

    def __init__(self, V, E, H, C, cell="gru", score="general", A=None, generator=None):
        super().__init__(V, E, H, C, cell, E, H, score, A, generator)
        self.combine = nn.Linear(H + C, H, bias=False)

    def _read_out(self, s, memory):
        c, a = self._attend(s, memory)  # s (N, H) or all steps at once (N, T, H)
        return self.out(torch.tanh(self.combine(torch.cat([s, c], dim=-1)))), a

    def step(self, tokens, memory, state):
        """tokens (N,) -> logits (N, V), weights (N, S), state"""
        s, state = self.rnn(self.embedding(tokens)[:, None], state)
        logits, a = self._read_out(s[:, 0], memory)
        return logits, a, state

    def fused(self, tgt_in, memory, state):
        """Teacher forcing: one RNN call over all T steps, then attention for all T at once."""
        s, state = self.rnn(self.embedding(tgt_in), state)  # (N, T, H)
        logits, a = self._read_out(s, memory)  # (N, T, V), (N, T, S)
        return logits, a, state


DECODERS = {"plain": PlainDecoder, "bahdanau": BahdanauDecoder, "luong": LuongDecoder}
