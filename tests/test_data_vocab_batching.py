"""Vocab round trips and errors; padding, masks, decoder shifting, the seeded batch iterator."""

import numpy as np
import pytest

from s2s_ref.data.batching import iterate_batches, make_batch, pad_batch, shift_for_decoder
from s2s_ref.data.tasks import make_reverse
from s2s_ref.data.vocab import EOS_ID, PAD, PAD_ID, SOS_ID, UNK_ID, Vocab


def test_special_ids_and_round_trip():
    v = Vocab(["a", "b", "c"])
    assert (PAD_ID, SOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3) and len(v) == 7
    ids = v.encode(["c", "a", "b", "a"])
    assert ids.dtype == np.int64 and ids.tolist() == [6, 4, 5, 4]
    assert v.decode(ids) == ["c", "a", "b", "a"]


def test_decode_strips_specials_and_stops_at_eos():
    v = Vocab(["x", "y"])
    assert v.decode([SOS_ID, 4, 5, EOS_ID, 4, PAD_ID]) == ["x", "y"]
    assert v.decode([SOS_ID, 4, EOS_ID], strip=False) == ["<sos>", "x", "<eos>"]


def test_unknown_symbol_is_a_clear_error_unless_unk_allowed():
    with pytest.raises(KeyError, match=r"unknown symbol 'z' at position 1.*allow_unk=True"):
        Vocab(["a"]).encode(["a", "z"])
    assert Vocab(["a"], allow_unk=True).encode(["a", "z"]).tolist() == [4, UNK_ID]


def test_bad_vocabularies_and_ids_are_rejected():
    with pytest.raises(ValueError, match="reserved"):
        Vocab(["a", PAD])
    with pytest.raises(ValueError, match="more than once"):
        Vocab(["a", "a"])
    with pytest.raises(IndexError, match=r"id 9 is outside \[0, 5\)"):
        Vocab(["a"]).decode([9])


def test_from_corpus_orders_by_frequency_and_respects_min_count():
    v = Vocab.from_corpus([["b", "a", "b"], ["c", "b", "a"]], min_count=2)
    assert v.itos[4:] == ["b", "a"]


def test_pad_batch_masks_and_lengths():
    ids, mask, lengths = pad_batch([[5, 6, 7], [8], [9, 9]])
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [9, 9, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    assert mask.dtype == bool and lengths.tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match="does not fit"):
        pad_batch([[1, 2, 3]], length=2)


def test_decoder_input_is_sos_plus_y_and_target_is_y_plus_eos():
    dec_in, dec_out, mask = shift_for_decoder([[7, 8, 9], [5]])
    np.testing.assert_array_equal(dec_in, [[SOS_ID, 7, 8, 9], [SOS_ID, 5, 0, 0]])
    np.testing.assert_array_equal(dec_out, [[7, 8, 9, EOS_ID], [5, EOS_ID, 0, 0]])
    np.testing.assert_array_equal(mask.sum(1), [4, 2])
    # the target at t is the input at t + 1 wherever both are real
    both = mask[:, :-1] & mask[:, 1:]
    np.testing.assert_array_equal(dec_out[:, :-1][both], dec_in[:, 1:][both])


def test_make_batch_round_trips_every_pair():
    pairs = make_reverse(20, np.random.default_rng(0), max_len=6)
    v = Vocab.from_corpus(s for s, _ in pairs)
    b = make_batch(pairs, v, v)
    for i, (s, t) in enumerate(pairs):
        assert v.decode(b.src[i]) == s and v.decode(b.tgt_out[i]) == t
        assert b.src_lengths[i] == len(s) and b.tgt_mask[i].sum() == len(t) + 1


def test_batch_iterator_is_seeded_and_covers_each_pair_once():
    pairs = make_reverse(23, np.random.default_rng(0))
    v = Vocab.from_corpus(s for s, _ in pairs)

    def epoch(seed):
        return list(iterate_batches(pairs, v, v, 5, np.random.default_rng(seed)))

    a, b, c = epoch(1), epoch(1), epoch(2)
    assert [len(x) for x in a] == [5, 5, 5, 5, 3]
    assert all((x.src == y.src).all() for x, y in zip(a, b, strict=True))
    assert any(
        x.src.shape != y.src.shape or (x.src != y.src).any() for x, y in zip(a, c, strict=True)
    )
    seen = sorted(" ".join(v.decode(row)) for x in a for row in x.src)
    assert seen == sorted(" ".join(s) for s, _ in pairs)
    assert len(list(iterate_batches(pairs, v, v, 5, drop_last=True))) == 4
