"""The training part of ex06, on the learner's side: the learner's Encoder and Decoder joined by a
bridge, trained briefly with the course's training loop, then decoded greedily.

``learner_predictions`` runs where the learner's code runs (the grading worker, or the notebook's
kernel for a check cell): it gets the training batch and the held-out SOURCES, and returns the
predicted token ids and the trained weights; the targets of the held-out sources stay with the
checker (``ex06``), which scores the predictions that the weights, in the reference's modules,
also give. Book: chapter 6, "The training loop"; notebook: ex06_torch_seq2seq.ipynb.
"""

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from s2s_ref.grading.torch_ops import deterministic, state
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.training import TrainConfig, train

E, H, STEPS = 16, 32, 200
MAX_LEN = 7  # tokens decoded per held-out source (sources have 2..5 symbols, then EOS)


class JoinedModel(nn.Module):
    """encoder summary -> tanh bridge -> decoder initial state; the summary is also the context."""

    def __init__(self, encoder, decoder, C, H):
        super().__init__()
        self.encoder, self.decoder, self.bridge = encoder, decoder, nn.Linear(C, H)

    def encode(self, src, src_mask):
        _, summary = self.encoder(src, src_mask)
        return summary, torch.tanh(self.bridge(summary)).unsqueeze(0)

    def step(self, tokens, context, state):
        logits, state = self.decoder(tokens[:, None], context, state)
        return torch.log_softmax(logits[:, 0].float(), dim=-1), state

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, generator=None):
        context, state = self.encode(src, src_mask)
        return self.decoder(tgt_in, context, state)[0]


def learner_predictions(Encoder, Decoder, data, src, src_mask, V, sos_id, eos_id, seed):
    """Train Encoder(V, E, H) + Decoder(V, E, H, 2H) for STEPS steps on ``data``; greedy ids.

    data: {"src", "src_mask", "tgt_in", "tgt_out", "tgt_mask"} arrays (the training batch);
    src (M, S) int64, src_mask (M, S) bool: held-out sources; seed: torch's seed for the run.
    -> ((M, L) int64 token ids, L <= MAX_LEN (EOS and padding after it included), the trained
    model's state {name: float64 ndarray}).
    """
    with deterministic(seed):
        model = JoinedModel(Encoder(V, E, H), Decoder(V, E, H, 2 * H), 2 * H, H)
        config = TrainConfig(lr=1e-2, batch_size=32, max_steps=STEPS, warmup_steps=10,
                             device="cpu", cpu_threads=1, progress=False)  # fmt: skip
        train(model, SimpleNamespace(**{k: torch.as_tensor(v) for k, v in data.items()}), config)
        model.eval()
        tokens, _, _ = greedy_decode(model, torch.as_tensor(src), torch.as_tensor(src_mask),
                                     sos_id, eos_id, MAX_LEN)  # fmt: skip
    return np.asarray(tokens.detach().cpu().numpy(), dtype=np.int64), state(model)
