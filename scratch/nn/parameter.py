"""Parameter: an array the optimizer may change, with the gradient that tells it how.

Twin of `torch.nn.Parameter`. `.data` holds the values; `.grad` is None until a backward pass
fills it, and backward passes *add* into it (as autograd does) until `zero_grad()`.
"""

import numpy as np

from scratch._backend import array_module
from scratch.nn import _atomic


class Parameter:
    """A learnable array.   data (*) ; grad None or (*), same shape and dtype as data."""

    def __init__(self, data, requires_grad=True):
        xp = array_module(data)
        data = xp.asarray(data)
        # dtypes are NumPy dtypes for CuPy arrays too
        if not np.issubdtype(data.dtype, np.floating):
            # torch: "Only Tensors of floating point dtype can require gradients"
            raise TypeError(f"Parameter data must be floating point, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __repr__(self):
        return f"Parameter containing:\n{self.data!r}"


def accumulate_grad(param, grad):
    """param.grad += grad (None counts as 0), as autograd accumulates until zero_grad().

    The gradient keeps the parameter's dtype whatever promotion made `grad` (autograd casts too).
    """
    grad = grad.astype(param.data.dtype, copy=False)
    _atomic.remember(setattr, param, "grad", param.grad)  # a failed call undoes it
    param.grad = grad if param.grad is None else param.grad + grad


def data_of(param):
    """param.data, or None for an absent parameter (a layer built with bias=False)."""
    return None if param is None else param.data
