"""The embedding twin: a lookup table ``W (V, E)``, as in ``numpy_nn.embedding``.

Book: chapter 6, "From NumPy to autograd".
"""

import torch
from torch import nn


class Embedding(nn.Module):
    """out[n, t] = W[ids[n, t]]; autograd scatter-adds the gradient into the rows used.

    Parameter: W (V, E), initialised N(0, 1) like torch.nn.Embedding.
    Book: chapter 6, "From NumPy to autograd" (chapter 3 for the layer).
    """

    def __init__(self, V, E, generator=None):
        super().__init__()
        self.W = nn.Parameter(torch.empty(V, E).normal_(generator=generator))

    def forward(self, ids):
        """ids: (N, T) integers in [0, V) -> out: (N, T, E)"""
        if ids.dtype.is_floating_point:
            raise TypeError(f"Embedding: ids must be integers, got dtype {ids.dtype}")
        V = self.W.shape[0]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= V):
            raise IndexError(
                f"Embedding: ids must lie in [0, {V}) for a table of {V} rows, "
                f"got values from {int(ids.min())} to {int(ids.max())}"
            )
        return self.W[ids]
