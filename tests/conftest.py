"""Shared fixtures: seeded generators and the distinct sizes every oracle test uses.

Sizes are pairwise different (N, T, D, H, V, E) so that a transposed or mixed-up axis cannot
pass a shape check by accident.
"""

import numpy as np
import pytest

N, T, D, H, V, E = 3, 5, 4, 6, 7, 8


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
