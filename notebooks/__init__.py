"""The study path: one chapter a file, each a jupytext percent-format script (see the README).

Run a chapter as a script (`python notebooks/01_gradient_descent.py`), open it as a notebook
(VS Code, PyCharm, or Jupyter with jupytext), or execute them all into .ipynb files with their
outputs: `make notebooks` (`python -m notebooks`).

What the chapters share is here: `agree`, which prints how far the scratch value is from the torch
one and fails the chapter when they are further apart than rounding explains; `pin_threads`, for
the chapters that train.
"""

import os

import numpy as np

# Tolerances by dtype, and why. float64: the twins compute the same formulas in possibly another
# order, so they differ by a few ulps a step (1e-16 relative) grown by the conditioning of what
# follows; 1e-10 leaves room for long trajectories and still catches any wrong term. float32:
# torch.testing's defaults for float32 (its documented rtol 1.3e-6, atol 1e-5).
TOLERANCES = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (1.3e-6, 1e-5)}


def as_numpy(value):
    """A torch tensor (any device, with or without grad), a CuPy or NumPy array or a number, as
    a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "get"):
        value = value.get()
    return np.asarray(value)


def agree(what, scratch_value, torch_value, rtol=None, atol=None):
    """Print max |scratch - torch| for `what` and assert the two agree: within rtol, atol (by
    default TOLERANCES for the scratch value's dtype; integers and booleans must be equal).
    Returns the largest absolute difference."""
    s, t = as_numpy(scratch_value), as_numpy(torch_value)
    if s.shape != t.shape:
        raise AssertionError(f"{what}: scratch has shape {s.shape}, torch {t.shape}")
    if s.dtype.kind in "biu":
        gap = float(np.abs(s.astype(np.int64) - t.astype(np.int64)).max(initial=0))
        tolerance = "equal"
        ok = gap == 0
    else:
        default_rtol, default_atol = TOLERANCES.get(s.dtype, TOLERANCES[np.dtype(np.float32)])
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol if atol is None else atol
        gap = float(np.abs(s - t).max(initial=0.0))
        tolerance = f"rtol {rtol:.0e}, atol {atol:.0e}"
        ok = np.allclose(s, t, rtol=rtol, atol=atol)
    print(f"{what:<48} largest difference {gap:.1e}  ({tolerance}): {'agree' if ok else 'DIFFER'}")
    if not ok:
        raise AssertionError(f"{what}: scratch and torch differ by {gap:.3e} ({tolerance})")
    return gap


def pin_threads(threads=2):
    """torch's threads and NumPy's BLAS threads pinned to `threads` (at most the cores): the
    chapters' models are small, and on a busy machine every extra thread waits for a core (an
    unpinned chapter 7 took 246 s in a kernel under load, against 16 s on a quiet machine).
    Returns the number pinned."""
    import torch

    from scratch import _validate

    threads = min(_validate.integer("threads", threads, low=1), os.cpu_count() or 1)
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it, NumPy's BLAS keeps its own count
        return threads
    threadpool_limits(limits=threads, user_api="blas")
    return threads
