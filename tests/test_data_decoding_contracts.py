"""Bad input to the data generators, loaders and decoders: each a sentence naming what was
expected, never an empty list, a truncated value or a library's traceback."""

import datetime
import gzip
import struct

import numpy as np
import pytest
import torch

from s2s_ref import decoding
from s2s_ref.data.batching import pad_batch
from s2s_ref.data.dates import make_dates
from s2s_ref.data.images import load_idx, load_mnist, split_indices
from s2s_ref.data.numbers import make_numbers
from s2s_ref.data.tasks import make_addition, make_copy, make_reverse
from s2s_ref.data.vocab import Vocab
from s2s_ref.torch_nn import search
from s2s_ref.torch_nn.seq2seq import Seq2Seq

from .torch_tasks import BOS, EOS, VOCAB, reversal_data

# --- sizes, ids, locales, fractions ---------------------------------------------------------


@pytest.mark.parametrize(
    "make, name",
    [
        (make_copy, "make_copy"),
        (make_reverse, "make_reverse"),
        (make_addition, "make_addition"),
        (lambda n, rng: make_dates(n, rng), "make_dates"),
        (lambda n, rng: make_numbers(n, rng), "make_numbers"),
    ],
)
def test_negative_sizes_are_refused(rng, make, name):
    with pytest.raises(ValueError, match=f"{name}: n must be an integer >= 0, got -3"):
        make(-3, rng)


@pytest.mark.parametrize("n", [2.5, True, "4"])
def test_non_integer_sizes_are_refused(rng, n):
    with pytest.raises(TypeError, match="make_copy: n must be an integer >= 0"):
        make_copy(n, rng)


def test_zero_examples_is_an_empty_list(rng):
    assert make_copy(0, rng) == [] and make_dates(0, rng) == []


def test_pad_batch_refuses_float_token_ids():
    with pytest.raises(TypeError, match="pad_batch: sequence 0 holds float64 values"):
        pad_batch([[1.7, 2.2]])
    with pytest.raises(TypeError, match="sequence 1 holds bool"):
        pad_batch([[1, 2], np.array([True])])


@pytest.mark.parametrize("length", [2.5, "3"])
def test_pad_batch_refuses_impossible_lengths(length):
    with pytest.raises((ValueError, TypeError), match="pad_batch: length must be an integer >= 0"):
        pad_batch([[1, 2]], length=length)


def test_vocab_decode_refuses_booleans_and_floats():
    vocab = Vocab("abc")
    with pytest.raises(TypeError, match="Vocab.decode: ids must be integers in \\[0, 7\\)"):
        vocab.decode(np.array([True, False]))
    with pytest.raises(TypeError, match="got dtype float64"):
        vocab.decode(np.array([4.0, 5.0]))
    assert vocab.decode([]) == [] and vocab.decode([4, 5, 2, 6]) == ["a", "b"]


def test_a_string_of_locales_is_refused(rng):
    with pytest.raises(TypeError, match=r"locales must be a sequence of strings.*\('en',\)"):
        make_dates(3, rng, locales="en")
    with pytest.raises(TypeError, match="styles must be a sequence of strings"):
        make_dates(3, rng, styles="short")
    pairs = make_dates(3, rng, locales=("en",), start=datetime.date(2000, 1, 1))
    assert len(pairs) == 3


@pytest.mark.parametrize("fraction", [1.5, 0.0, 1.0, -0.2, float("nan")])
def test_split_indices_refuses_fractions_outside_0_1(rng, fraction):
    with pytest.raises(ValueError, match="split_indices: test_fraction must lie in \\(0, 1\\)"):
        split_indices(10, rng, fraction)


@pytest.mark.parametrize("M", [-1, 2.5])
def test_split_indices_refuses_impossible_sizes(rng, M):
    with pytest.raises((ValueError, TypeError), match="split_indices: M must be an integer >= 0"):
        split_indices(M, rng)


# --- IDX and MNIST files ------------------------------------------------------------------------


def _idx(path, array, type_byte, gz=False):
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(
        ">" + "I" * array.ndim, *array.shape
    )
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def _mnist(folder, images, labels, image_type=0x08):
    _idx(folder / "train-images-idx3-ubyte", images, image_type)
    _idx(folder / "train-labels-idx1-ubyte", labels, 0x08)


def test_float_mnist_images_are_not_divided_by_255_again(tmp_path, rng):
    images = rng.uniform(size=(4, 28, 28)).astype(np.float32)
    _mnist(tmp_path, images, np.array([1, 2, 3, 4], np.uint8), image_type=0x0D)
    loaded, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(loaded, images)


def test_float_mnist_images_outside_0_1_are_refused(tmp_path, rng):
    _mnist(tmp_path, np.full((2, 28, 28), 255.0, np.float32), np.array([1, 2], np.uint8), 0x0D)
    with pytest.raises(ValueError, match="float images .* must lie in \\[0, 1\\]"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("bad", [200, 255, 10])
def test_mnist_labels_must_be_digits(tmp_path, rng, bad):
    images = rng.integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
    _mnist(tmp_path, images, np.array([1, bad, 3], np.uint8))
    with pytest.raises(ValueError, match=f"labels .* must be digits 0..9, found \\[{bad}\\]"):
        load_mnist(tmp_path)


def test_idx_with_an_ndim_byte_of_255_is_refused(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(bytes([0, 0, 0x08, 255]) + b"\x00" * 40)
    with pytest.raises(ValueError, match="announces 255 dimensions but holds 44 bytes"):
        load_idx(path)


def test_idx_with_huge_dimensions_does_not_overflow(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + struct.pack(">IIII", *[2**16] * 4) + b"\x00" * 8)
    with pytest.raises(ValueError, match=f"needs {2**64 + 20}"):
        load_idx(path)


def test_truncated_gzip_idx_is_refused_naming_the_file(tmp_path, rng):
    path = tmp_path / "x.idx.gz"
    _idx(path, rng.integers(0, 256, size=(50, 9)).astype(np.uint8), 0x08, gz=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match=f"load_idx: {path} is a damaged or truncated gzip"):
        load_idx(path)


# --- decoding ----------------------------------------------------------------------------------

V = 5


def _table_step(rows):
    """A step function that returns the given (B, V) rows at every step."""
    rows = np.asarray(rows, dtype=float)

    def step(tokens, state):
        return rows[: len(tokens)], state

    return step


def _log_rows(rng, B):
    logits = rng.normal(size=(B, V))
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_a_nan_row_stops_greedy_and_beam_with_a_sentence(rng):
    rows = _log_rows(rng, 4)
    rows[1] = np.nan
    with pytest.raises(ValueError, match="greedy_decode: the step returned NaN log-probabilities"):
        decoding.greedy_decode(_table_step(rows), np.zeros((2, 1)), 2, 1, 2, 5)
    with pytest.raises(ValueError, match="beam_search: the step returned NaN"):
        decoding.beam_search(_table_step(rows), np.zeros((2, 1)), 2, 1, 2, 5, beam_size=2)


def test_eos_outside_the_vocabulary_is_refused(rng):
    with pytest.raises(ValueError, match="eos_id 99 is outside the vocabulary .*V = 5"):
        decoding.greedy_decode(_table_step(_log_rows(rng, 2)), np.zeros((2, 1)), 2, 1, 99, 5)


def test_probabilities_passed_as_log_probabilities_are_refused(rng):
    probs = np.exp(_log_rows(rng, 3))
    with pytest.raises(ValueError, match="log-probability of .* > 0; expected log-probabilities"):
        decoding.beam_search(_table_step(probs), np.zeros((1, 1)), 1, 1, 2, 4, beam_size=3)


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"max_len": -1}, "max_len"),
        ({"max_len": 2.5}, "max_len"),
        ({"eos_id": -2}, "eos_id"),
        ({"batch_size": -1}, "batch_size"),
    ],
)
def test_impossible_decoding_arguments_are_refused(rng, kw, name):
    args = {"batch_size": 2, "sos_id": 1, "eos_id": 2, "max_len": 5, **kw}
    with pytest.raises(ValueError, match=f"greedy_decode: need {name} >= "):
        decoding.greedy_decode(_table_step(_log_rows(rng, 2)), np.zeros((2, 1)), **args)


def _model():
    return Seq2Seq(VOCAB, VOCAB, emb=5, hidden=7, generator=torch.Generator().manual_seed(0)).eval()


def test_torch_search_of_no_source_gives_empty_results():
    data = reversal_data(3, seed=0)
    src, mask = data.src[:0], data.src_mask[:0]
    tokens, lengths, total = search.greedy_decode(_model(), src, mask, BOS, EOS, max_len=6)
    assert tokens.shape == (0, 0) and lengths.shape == (0,) and total.shape == (0,)
    assert search.beam_search(_model(), src, mask, BOS, EOS, max_len=6, beam_size=3) == []


def test_torch_search_refuses_negative_max_len_and_foreign_eos():
    data = reversal_data(3, seed=0)
    with pytest.raises(ValueError, match="greedy_decode: need max_len >= 1"):
        search.greedy_decode(_model(), data.src, data.src_mask, BOS, EOS, max_len=-1)
    with pytest.raises(ValueError, match="beam_search: need max_len >= 1"):
        search.beam_search(_model(), data.src, data.src_mask, BOS, EOS, max_len=-1, beam_size=2)
    with pytest.raises(ValueError, match=f"eos_id 99 is outside the vocabulary .*V = {VOCAB}"):
        search.greedy_decode(_model(), data.src, data.src_mask, BOS, 99, max_len=4)


def test_torch_search_refuses_a_nan_step():
    model = _model()
    with torch.no_grad():
        model.decoder.proj.bias[3] = float("nan")
    data = reversal_data(3, seed=0)
    with pytest.raises(ValueError, match="beam_search: the step returned NaN"):
        search.beam_search(model, data.src, data.src_mask, BOS, EOS, max_len=4, beam_size=2)
