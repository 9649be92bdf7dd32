"""What the tests draw from, in one place: the dtypes every twin is tested in, and the values a
drawn array holds. Each test file names the range that suits its layers (an RNN's tanh saturates
past 1.5; a loss's logits can go to 3), through `values_within`.
"""

import numpy as np
import pytest
from hypothesis import strategies as st

# every equivalence test runs in both: float64 to ~1e-10, float32 at torch.testing's tolerance
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32])


def floats(dtype, low, high):
    """Finite values in [low, high] that `dtype` holds exactly (float32 ones for float32)."""
    return st.floats(low, high, width=32 if np.dtype(dtype) == np.float32 else 64)


def values_within(default_bound):
    """values(dtype, bound=default_bound): finite values in [-bound, bound], for a file whose
    layers want that range."""

    def values(dtype, bound=default_bound):
        return floats(dtype, -bound, bound)

    return values
