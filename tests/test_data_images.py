"""The IDX (MNIST) loader on small files written here, and the bundled 8x8 digits."""

import gzip
import struct

import numpy as np
import pytest

from s2s_ref.data.images import (
    DIGIT_WORDS,
    load_digits_rows,
    load_idx,
    load_mnist,
    split_indices,
)


def _write_idx(path, array, type_byte):
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(
        ">" + "I" * array.ndim, *array.shape
    )
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize(
    ("dtype", "type_byte"), [(np.uint8, 0x08), (np.int32, 0x0C), (np.float64, 0x0E)]
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_idx_reads_what_was_written(tmp_path, rng, dtype, type_byte, suffix):
    a = (rng.integers(0, 200, size=(3, 5, 4))).astype(dtype)
    path = tmp_path / ("x.idx" + suffix)
    _write_idx(path, a, type_byte)
    b = load_idx(path)
    assert b.shape == (3, 5, 4) and b.dtype == dtype and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_load_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01abcd")
    with pytest.raises(ValueError, match="does not start like an IDX file"):
        load_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="needs 18"):
        load_idx(short)


def test_load_mnist_from_idx_files(tmp_path, rng):
    images = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=6).astype(np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, 0x08)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, 0x08)
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (6, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x * 255, images)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")


def test_bundled_digits_and_split(rng):
    x, y = load_digits_rows()
    assert x.shape == (1797, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert set(y.tolist()) == set(range(10)) and len(DIGIT_WORDS) == 10
    train, test = split_indices(len(y), rng)
    assert len(test) == 359 and not set(train) & set(test) and len(train) + len(test) == 1797
