"""The training test of ex06: the learner's Encoder and Decoder, joined by a bridge, trained
briefly on sequence reversal with the course's training loop, scored by greedy exact match.

Book: chapter 6, "The training loop"; notebook: ex06_torch_seq2seq.ipynb.
"""

import numpy as np
import torch
from torch import nn

from s2s_ref.data.batching import make_batch
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.metrics import exact_match
from s2s_ref.torch_nn.search import greedy_decode
from s2s_ref.torch_nn.training import TrainConfig, train

E, H, STEPS = 16, 32, 200


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


def train_and_score(Encoder, Decoder, call=lambda what, f, *a: f(*a), seed=0):
    """Train Encoder(V, E, H) + Decoder(V, E, H, 2H) for STEPS steps; held-out exact match.

    call(what, fn, *args) runs learner code (the grader turns its errors into feedback).
    Global torch random state is restored afterwards: the grader may run in a learner's kernel.
    """
    rng = np.random.default_rng(seed)
    train_pairs = make_reverse(3000, rng, min_len=2, max_len=5, n_symbols=6)
    test_pairs = make_reverse(300, rng, min_len=2, max_len=5, n_symbols=6, split="test")
    vocab = Vocab([chr(ord("a") + i) for i in range(6)])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = JoinedModel(Encoder(len(vocab), E, H), Decoder(len(vocab), E, H, 2 * H), 2 * H, H)
        config = TrainConfig(lr=1e-2, batch_size=32, max_steps=STEPS, warmup_steps=10,
                             device="cpu", cpu_threads=1, progress=False)  # fmt: skip
        data = make_batch(train_pairs, vocab, vocab)
        call("training your Encoder and Decoder", train, model, data, config)
    batch = make_batch(test_pairs, vocab, vocab)
    model.eval()
    tokens, _, _ = call("greedy decoding with your modules", greedy_decode, model,
                        torch.as_tensor(batch.src), torch.as_tensor(batch.src_mask),
                        vocab.sos_id, vocab.eos_id, 7)  # fmt: skip
    outputs = [vocab.decode(row) for row in tokens.numpy()]
    return exact_match([t for _, t in test_pairs], outputs)
