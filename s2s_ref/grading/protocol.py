"""The channel between the checker and a worker: framed messages of JSON and ``.npy`` bytes.

A message is an 8-byte big-endian length, a JSON header of that length, and the blobs the header
lists (``"blobs": [n_bytes, ...]``), each a ``.npy`` file written with ``allow_pickle=False``.
Nothing on the channel is ever unpickled or executed: the checker reads values from it, never a
verdict. Sizes are capped so that a worker cannot make the checker allocate without bound.
"""

import io
import json
import os
import selectors
import time

import numpy as np

MAX_HEADER = 64 * 2**20  # bytes of one JSON header
MAX_MESSAGE = 1 * 2**30  # bytes of one message's blobs together


class ChannelError(Exception):
    """The other side sent something that is not a message, went silent, or closed the channel."""


def encode_array(array: np.ndarray) -> bytes:
    """``array`` (numeric or boolean, any shape) as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_array(data: bytes) -> np.ndarray:
    """The array of a ``.npy`` file's bytes; object arrays are refused (no unpickling)."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ChannelError(f"not an array: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufc":
        raise ChannelError("not a numeric array")
    return array


def send(fd: int, header: dict, blobs=()) -> None:
    """Write one message (``header`` as JSON, then ``blobs``) to file descriptor ``fd``."""
    blobs = list(blobs)
    text = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    data = b"".join([len(text).to_bytes(8, "big"), text, *blobs])
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError as exc:
            raise ChannelError(f"the channel broke ({exc})") from None


def receive(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """Read one message from ``fd``; ChannelError when it is malformed, late or the fd closed.

    deadline: a ``time.monotonic()`` instant, or None to wait for as long as it takes.
    """
    size = int.from_bytes(_read_exactly(fd, 8, deadline), "big")
    if size > MAX_HEADER:
        raise ChannelError(f"a header of {size} bytes")
    try:
        header = json.loads(_read_exactly(fd, size, deadline))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ChannelError(f"a header that is not JSON ({exc})") from None
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ChannelError("a header without its list of blob sizes")
    if sum(sizes) > MAX_MESSAGE:
        raise ChannelError(f"a message of {sum(sizes)} bytes")
    return header, [_read_exactly(fd, n, deadline) for n in sizes]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while left:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and (wait <= 0 or not selector.select(wait)):
                raise ChannelError("no answer in time")
            try:
                chunk = os.read(fd, min(left, 2**22))
            except OSError as exc:
                raise ChannelError(f"the channel broke ({exc})") from None
            if not chunk:
                raise ChannelError("the channel was closed")
            chunks.append(chunk)
            left -= len(chunk)
    return b"".join(chunks)
