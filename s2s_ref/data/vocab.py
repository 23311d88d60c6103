"""A vocabulary: the table between symbols (strings) and integer ids.

Book: chapter 3, "Tokens, ids and embeddings".
"""

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = range(4)  # PAD = 0 so that np.zeros is an all-padding batch


class Vocab:
    """Symbols <-> ids. Ids 0..3 are always PAD, SOS, EOS, UNK; the symbols follow in order.

    symbols: the ordinary symbols (no duplicates, no special token);
    allow_unk: if True, ``encode`` maps an unknown symbol to UNK; if False (the default) an
    unknown symbol raises KeyError naming it, because on a synthetic task it is always a bug.
    Book: chapter 3, "Tokens, ids and embeddings".
    """

    pad_id, sos_id, eos_id, unk_id = PAD_ID, SOS_ID, EOS_ID, UNK_ID

    def __init__(self, symbols: Iterable[str], allow_unk: bool = False):
        symbols = list(symbols)
        clash = [s for s in symbols if s in SPECIALS]
        if clash:
            raise ValueError(f"Vocab: {clash[0]!r} is a reserved special token")
        if len(set(symbols)) != len(symbols):
            dup = next(s for s, c in Counter(symbols).items() if c > 1)
            raise ValueError(f"Vocab: symbol {dup!r} appears more than once")
        self.itos: list[str] = [*SPECIALS, *symbols]
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.allow_unk = allow_unk

    @classmethod
    def from_corpus(
        cls, sequences: Iterable[Sequence[str]], min_count: int = 1, allow_unk: bool = False
    ) -> "Vocab":
        """Every symbol seen at least ``min_count`` times, most frequent first (ties: sorted).

        sequences: an iterable of token lists (e.g. the sources of a training set).
        """
        counts = Counter(tok for seq in sequences for tok in seq)
        kept = sorted(
            (s for s, c in counts.items() if c >= min_count), key=lambda s: (-counts[s], s)
        )
        return cls(kept, allow_unk=allow_unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} symbols: {self.itos[4:12]}{'...' if len(self) > 12 else ''})"

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Token strings -> ids, shape (T,), int64. Special tokens are not added here."""
        if isinstance(tokens, str):
            tokens = list(tokens)  # a string is a sequence of characters: say so explicitly
        ids = np.empty(len(tokens), dtype=np.int64)
        for i, tok in enumerate(tokens):
            idx = self.stoi.get(tok)
            if idx is None:
                if not self.allow_unk:
                    raise KeyError(
                        f"Vocab.encode: unknown symbol {tok!r} at position {i}; build the "
                        f"vocabulary from this data or create it with allow_unk=True"
                    )
                idx = UNK_ID
            ids[i] = idx
        return ids

    def decode(self, ids: Iterable[int], strip: bool = True) -> list[str]:
        """Ids -> token strings. With ``strip``, stop at the first EOS and drop PAD and SOS.

        ids: a 1-D sequence of integers in [0, len(self)).
        """
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"Vocab.decode: ids should be 1-D, got shape {ids.shape}")
        if ids.size and (ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer)):
            raise TypeError(
                f"Vocab.decode: ids must be integers in [0, {len(self.itos)}), got dtype "
                f"{ids.dtype} (a mask is not a sequence of ids)"
            )
        out = []
        for i in ids.tolist():
            if not 0 <= i < len(self.itos):
                raise IndexError(f"Vocab.decode: id {i} is outside [0, {len(self.itos)})")
            if strip and i == EOS_ID:
                break
            if strip and i in (PAD_ID, SOS_ID):
                continue
            out.append(self.itos[i])
        return out
