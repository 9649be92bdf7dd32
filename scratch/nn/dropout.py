"""Dropout: inverted dropout, the twin of torch.nn.Dropout and F.dropout.

In training each value is kept with probability 1 - p and scaled by 1 / (1 - p), so that its
expectation is unchanged and evaluation needs no rescaling; in eval it is the identity:

    y = x * mask,   mask = keep / (1 - p),   keep ~ Bernoulli(1 - p)     (p = 1: mask = 0)
    dL/dx = dL/dy * mask                                     (the same mask: y is linear in x)

The mask comes from the module's NumPy generator (torch draws from its own, so the twins' masks
differ: the tests compare them through a shared mask, and in eval).
"""

import numbers

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn import _atomic
from scratch.nn.module import Module


def dropout_mask(shape, p, dtype, generator, xp=np):
    """keep / (1 - p) for each value, keep ~ Bernoulli(1 - p) drawn from `generator` (on the host,
    then on xp's device); all zeros at p = 1."""
    _atomic.remember_generator(generator)  # a call that fails later has drawn nothing
    keep = xp.asarray(generator.random(shape) >= p)
    return (keep / (1 - p) if p < 1 else keep * 0.0).astype(dtype)


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """F.dropout: input * dropout_mask in training, input itself otherwise.

    generator: the NumPy Generator the mask is drawn from (scratch's addition: NumPy has no global
    generator of torch's kind); None draws from a fresh one.
    """
    _check_p(p)
    training = _validate.flag("training", training, "dropout")
    if inplace:
        raise NotImplementedError("dropout: inplace=True is not supported by scratch")
    _validate.floating("dropout", "input", input)
    if not training or p == 0:
        return input
    generator = _validate.generator(generator)
    return input * dropout_mask(input.shape, p, input.dtype, generator, array_module(input))


class Dropout(Module):
    """Zero each value with probability p in training, scale the rest by 1 / (1 - p).
    input (*) -> (*)"""

    def __init__(self, p=0.5, inplace=False, *, generator=None):
        super().__init__()
        self.p = _check_p(p)
        if inplace:
            raise NotImplementedError("Dropout(inplace=True) is not supported by scratch")
        self.inplace = inplace
        self.generator = _validate.generator(generator)

    def forward(self, input):
        _validate.floating("Dropout", "input", input)
        mask = None
        if self.training and self.p > 0:
            xp = array_module(input)
            mask = dropout_mask(input.shape, self.p, input.dtype, self.generator, xp)
        self.save_for_backward(mask, input.shape, input.dtype)
        return input if mask is None else input * mask

    def backward(self, grad_output, *, input_grad=True):
        mask, shape, dtype = self.saved_tensors
        g = self.grad_like(grad_output, shape, dtype)
        if not input_grad:
            return None
        # y = x * mask  =>  dL/dx = dL/dy * mask (the identity in eval)
        return g if mask is None else g * mask

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


def _check_p(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)
