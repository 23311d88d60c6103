"""From token lists to padded integer batches: masks, lengths, shifted decoder inputs.

Book: chapter 3, "Batches, padding and masks".
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from s2s_ref.data.splits import check_count
from s2s_ref.data.vocab import EOS_ID, PAD_ID, SOS_ID, Vocab


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID, length: int | None = None):
    """Stack sequences of different lengths into one array, padding on the right.

    seqs: N sequences of integer ids; length: the padded length T (default: the longest)
    -> ids: (N, T) int64, mask: (N, T) bool (True = real token), lengths: (N,) int64
    Book: chapter 3, "Batches, padding and masks".
    """
    if len(seqs) == 0:
        raise ValueError("pad_batch: got no sequence; a batch needs at least one")
    arrays = [np.asarray(s) for s in seqs]
    for i, a in enumerate(arrays):
        if a.ndim != 1:
            raise ValueError(f"pad_batch: sequence {i} should be 1-D, got shape {a.shape}")
        if a.size and (a.dtype == bool or not np.issubdtype(a.dtype, np.integer)):
            raise TypeError(
                f"pad_batch: sequence {i} holds {a.dtype} values; token ids must be integers "
                "(a float id such as 1.7 has no token)"
            )
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    if length is not None:
        length = check_count("pad_batch", length, "length")
    T = int(lengths.max()) if length is None else length
    if lengths.max() > T:
        raise ValueError(f"pad_batch: a sequence of length {lengths.max()} does not fit in {T}")
    mask = np.arange(T)[None, :] < lengths[:, None]  # (N, T): position t is real iff t < length
    ids = np.full((len(seqs), T), pad_id, dtype=np.int64)
    ids[mask] = np.concatenate([a.astype(np.int64) for a in arrays])
    return ids, mask, lengths


def shift_for_decoder(targets: Sequence[Sequence[int]], sos_id=SOS_ID, eos_id=EOS_ID):
    """Teacher-forcing pairs: the decoder reads SOS + y and must predict y + EOS.

    targets: N id sequences y (without special tokens)
    -> dec_in: (N, T) with dec_in[:, 0] = SOS, dec_out: (N, T), mask: (N, T) bool, T = max|y| + 1
    At every real position, dec_out[:, t] == dec_in[:, t + 1]: the target is the next input.
    Book: chapter 3, "Batches, padding and masks".
    """
    dec_in, mask, _ = pad_batch([[sos_id, *y] for y in targets])
    dec_out, mask_out, _ = pad_batch([[*y, eos_id] for y in targets])
    assert (mask == mask_out).all()  # same lengths by construction
    return dec_in, dec_out, mask


@dataclass(frozen=True)
class Batch:
    """A batch of encoded pairs, batch-first.

    src: (N, S) int64 source ids, src_mask: (N, S) bool, src_lengths: (N,)
    tgt_in: (N, T) decoder inputs SOS + y, tgt_out: (N, T) targets y + EOS, tgt_mask: (N, T) bool
    """

    src: np.ndarray
    src_mask: np.ndarray
    src_lengths: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray
    tgt_mask: np.ndarray

    def __len__(self) -> int:
        return self.src.shape[0]


def make_batch(pairs: Sequence[tuple], src_vocab: Vocab, tgt_vocab: Vocab) -> Batch:
    """Encode and pad ``(source tokens, target tokens)`` pairs into one Batch.

    Book: chapter 3, "Batches, padding and masks".
    """
    src, src_mask, src_lengths = pad_batch([src_vocab.encode(s) for s, _ in pairs])
    tgt_in, tgt_out, tgt_mask = shift_for_decoder([tgt_vocab.encode(t) for _, t in pairs])
    return Batch(src, src_mask, src_lengths, tgt_in, tgt_out, tgt_mask)


def iterate_batches(
    pairs: Sequence[tuple],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    batch_size: int,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """One epoch of batches, shuffled by ``rng`` (in order when rng is None).

    Same rng state, same batches. Each batch is padded to its own longest sequence.
    Book: chapter 3, "Batches, padding and masks".
    """
    if batch_size < 1:
        raise ValueError(f"iterate_batches: batch_size must be >= 1, got {batch_size}")
    order = np.arange(len(pairs)) if rng is None else rng.permutation(len(pairs))
    stop = len(pairs) - (len(pairs) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        yield make_batch(
            [pairs[i] for i in order[start : start + batch_size]], src_vocab, tgt_vocab
        )
