"""Images read row by row as sequences: scikit-learn's bundled 8x8 digits (offline), and an
MNIST loader for learners who have the IDX files (nothing here downloads anything).

An image of R rows and C columns becomes a sequence of R steps of C features, so a recurrent
encoder reads it top to bottom. Labels 0..9 become the English word of the digit, so that a
decoder emits several tokens and its attention can be compared across output steps.
Book: chapter 7, "Rows of an image".
"""

import gzip
import math
import os

import numpy as np

from s2s_ref.data.splits import check_count

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# the IDX type byte -> NumPy dtype, big-endian as the format stores it
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_idx(path):
    """Read one IDX file (optionally gzipped): magic 0x0000 TT DD, D big-endian uint32 sizes,
    then the data -> np.ndarray of those sizes, native byte order.

    Raises ValueError with a sentence for a bad magic number, type or size, and for a damaged
    or truncated gzip file.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"load_idx: {path} is a damaged or truncated gzip file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"load_idx: {path} does not start like an IDX file (00 00 type dims)")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ValueError(
            f"load_idx: {path} announces {ndim} dimensions but holds {len(raw)} bytes, fewer "
            f"than the {offset} bytes of their sizes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = offset + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) != expected:
        raise ValueError(
            f"load_idx: {path} holds {len(raw)} bytes; shape {shape} of {dtype} needs {expected}"
        )
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(folder, split="train"):
    """MNIST from its four IDX files in ``folder`` (gzipped or not), as row sequences.

    -> images (M, 28, 28) float32 in [0, 1] (28 steps of 28 features), labels (M,) int64
    Byte images (type 0x08) are divided by 255; float images must already lie in [0, 1];
    labels must be digits 0..9.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    arrays = []
    for name in MNIST_FILES[split]:
        path = os.path.join(folder, name)
        path = path if os.path.exists(path) else path + ".gz"
        if not os.path.exists(path):
            raise FileNotFoundError(f"load_mnist: neither {name} nor {name}.gz in {folder}")
        arrays.append(load_idx(path))
    images, labels = arrays
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} disagree")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    elif np.issubdtype(images.dtype, np.floating):
        if images.size and not (
            np.isfinite(images).all() and 0 <= images.min() <= images.max() <= 1
        ):
            raise ValueError(f"load_mnist: float images in {folder} must lie in [0, 1]")
        images = images.astype(np.float32)
    else:
        raise ValueError(f"load_mnist: images in {folder} are {images.dtype}; expected bytes")
    bad = np.unique(labels[(labels < 0) | (labels > 9)])
    if bad.size:
        raise ValueError(
            f"load_mnist: labels in {folder} must be digits 0..9, found {bad[:5].tolist()}"
        )
    return images, labels.astype(np.int64)


def load_digits_rows():
    """scikit-learn's 1,797 bundled 8x8 digits (no download) -> images (M, 8, 8) float32 in
    [0, 1], labels (M,) int64."""
    from sklearn.datasets import load_digits  # optional dependency, needed only here

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def split_indices(M, rng, test_fraction=0.2):
    """A random train/test split of M examples -> (train indices, test indices).

    M: an integer >= 0; test_fraction: in (0, 1).
    """
    M = check_count("split_indices", M, "M")
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"split_indices: test_fraction must lie in (0, 1), got {test_fraction!r}")
    order = rng.permutation(M)
    n_test = int(round(M * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
