"""Checks at the public edge: each raises a ValueError or TypeError that names the argument, says
what was expected and what came. Both twins use them, so both reject the same input the same way.
Nothing here imports torch.
"""
import math
import numbers
from pathlib import Path

import numpy as np


def real_number(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in [low, high] (or open ends); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def integer(name, value, *, low=None):
    """An int (Python or NumPy, not bool) >= low; returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def float_array(name, value):
    """A finite, real, floating-point NumPy array (integers and bools are promoted to float64).

    Returns a new array; the caller's is never touched.
    """
    try:
        arr = np.array(value)  # always a copy
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of numbers, got {type(value).__name__}: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} must be finite, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return arr


def binary_classification_data(inputs, targets, input_dim):
    """Check a perceptron's training data; returns (X (n, input_dim), y (n,)) as float64 copies.

    inputs (n, input_dim) of finite numbers, n >= 1; targets (n,) or (n, 1) of 0s and 1s.
    """
    X = float_array("inputs", inputs).astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"inputs must have shape (num_samples, input_dim), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("inputs is empty: need at least one sample")
    if X.shape[1] != input_dim:
        raise ValueError(f"inputs must have {input_dim} features (the model's input_dim), got {X.shape[1]}")
    y = float_array("targets", targets).astype(np.float64)
    if not (y.shape == (X.shape[0],) or y.shape == (X.shape[0], 1)):
        raise ValueError(
            f"targets must have shape ({X.shape[0]},) or ({X.shape[0]}, 1) to match {X.shape[0]} inputs, got shape {y.shape}"
        )
    y = y.reshape(-1)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"targets must be 0 or 1, got {y[bad][0]} at index {int(np.argmax(bad))}")
    return X, y


def npz_path(path):
    """A path ending in .npz, as a Path: np.savez would append .npz to any other name without a word
    (weights.pt would become weights.pt.npz, which nothing then finds)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights are saved as .npz files: the path must end in .npz, got {str(path)!r}")
    return path


def sample_count(inputs, targets):
    """The number of samples n, after checking that inputs and targets have the same n >= 1."""
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets must have the same number of samples, got {len(inputs)} and {len(targets)}")
    if len(inputs) == 0:
        raise ValueError("inputs is empty: need at least one sample")
    return len(inputs)
