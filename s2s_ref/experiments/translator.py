"""The play page's translator: a small English -> German Transformer shipped in ``s2s_ref.assets``
(``translator_de.npz`` and ``.json``), translating the text it is given greedily or by beam search.

It was trained character by character on a thousand user-interface messages
(``python -m s2s_ref.experiments.transformer_translation --target de --models transformer
--seeds 0 --budget 100 --save s2s_ref/assets/translator_de --out /tmp/translator_de_run.json``);
its JSON holds its held-out scores and samples.
Book: "Play", "Translate a sentence".
"""

import torch

from s2s_ref.assets import load_json, load_npz
from s2s_ref.data.batching import make_batch
from s2s_ref.data.vocab import Vocab
from s2s_ref.experiments.transformer_common import build
from s2s_ref.torch_nn.search import beam_search, greedy_decode


class Translator:
    """A shipped translation model: ``Translator().translate("Save file")`` -> its German.

    name: the assets' name without extension. Loading is deterministic (no random state), and
    so is every translation.
    """

    def __init__(self, name="translator_de"):
        self.meta = load_json(name + ".json")
        self.src_vocab = Vocab(self.meta["source_symbols"], allow_unk=True)
        self.tgt_vocab = Vocab(self.meta["target_symbols"], allow_unk=True)
        self.model = build(self.meta["model"], len(self.src_vocab), len(self.tgt_vocab), seed=0)
        weights = {k: torch.from_numpy(v) for k, v in load_npz(name + ".npz").items()}
        self.model.load_state_dict(weights)
        self.model.eval()

    def translate(self, text: str, beam: int | None = None, alpha: float = 0.6) -> str:
        """text: one sentence (characters outside the training data become <unk>) -> its
        translation, greedy (beam None) or the best of beam search with `beam` hypotheses and
        the GNMT length penalty alpha."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"translate: expected a non-empty sentence, got {text!r}")
        if beam is not None and (not isinstance(beam, int) or beam < 1):
            raise ValueError(
                f"translate: beam must be None (greedy) or an integer >= 1, got {beam!r}"
            )
        b = make_batch([(list(text), [])], self.src_vocab, self.tgt_vocab)
        src, mask = torch.as_tensor(b.src), torch.as_tensor(b.src_mask)
        max_len = self.meta["max_chars"] + 1  # as in the experiment's evaluation
        sos, eos = self.tgt_vocab.sos_id, self.tgt_vocab.eos_id
        with torch.no_grad():
            if beam is None:
                tokens = greedy_decode(self.model, src, mask, sos, eos, max_len)[0][0].tolist()
            else:
                best = beam_search(self.model, src, mask, sos, eos, max_len, beam, alpha=alpha)
                tokens = best[0][0].tokens
        return "".join(self.tgt_vocab.decode(tokens))
