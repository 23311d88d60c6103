"""Word embeddings: a lookup table whose rows are learned.

Book: chapter 3, "Tokens, ids and embeddings".
"""

import numpy as np

from s2s_ref.shapes import as_float, check_shapes


def embedding_forward(ids, W):
    """Look up one row of W per token id.

    ids: (N, T) integers in [0, V), W: (V, E) -> out: (N, T, E), cache
    Book: chapter 3, "Tokens, ids and embeddings".
    """
    check_shapes("embedding_forward", ids=(ids, "N T"), W=(W, "V E"))
    (W,) = as_float("embedding_forward", W=W)
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding_forward: ids must be integers, got dtype {ids.dtype}")
    V = W.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise IndexError(
            f"embedding_forward: ids must lie in [0, {V}) for a table of {V} rows, "
            f"got values from {ids.min()} to {ids.max()}"
        )
    out = W[ids]
    cache = (ids, W.shape, W.dtype)
    return out, cache


def embedding_backward(dout, cache):
    """Scatter-add each token's upstream gradient into its row.

    dout: (N, T, E) -> dW: (V, E)
    A row used k times receives the sum of k gradients (np.add.at, not fancy-index assignment,
    which would keep only the last).
    """
    ids, (V, E), dtype = cache
    check_shapes("embedding_backward", dout=(dout, "{} {} {}".format(*ids.shape, E)))
    (dout,) = as_float("embedding_backward", dout=dout)
    dW = np.zeros((V, E), dtype=dtype)
    np.add.at(dW, ids, dout)
    return dW
