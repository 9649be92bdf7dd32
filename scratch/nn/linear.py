"""Linear: y = x W^T + b. Twin of `torch.nn.Linear` (same arguments, weight (out, in), bias
(out,))."""

import math

import numpy as np

from scratch import _validate
from scratch._backend import sum_rows
from scratch.nn import init
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad, data_of


def linear(input, weight, bias=None):
    """y = x W^T + b.   input (*, in) · weight (out, in) · bias (out,) -> (*, out)"""
    if input.dtype != weight.dtype:  # torch's words; NumPy would promote silently
        raise TypeError(
            f"linear: expected m1 and m2 to have the same dtype, but got: {input.dtype} != "
            f"{weight.dtype}: pass input.astype(np.{weight.dtype})"
        )
    out = input @ weight.T
    if bias is not None:
        out += bias  # in place: out is a new array, and a second temporary costs a pass over it
    return out


class Linear(Module):
    """input (*, in_features) -> (*, out_features).   weight (out, in) · bias (out,)

    Initialised as torch does: weight by kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in),
    1/sqrt(in)), and bias from the same U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, generator=None):
        super().__init__()
        self.in_features = _validate.integer("in_features", in_features, low=1)
        self.out_features = _validate.integer("out_features", out_features, low=1)
        dtype = _validate.float_dtype(dtype)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty((out_features,), dtype=dtype)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        generator = _validate.generator(generator)
        init.kaiming_uniform_(self.weight.data, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias.data, -bound, bound, generator)

    def forward(self, input):
        """input (*, in) -> (*, out)"""
        _validate.layer_input("Linear", input, (self.in_features,), self.weight.dtype)
        self.save_for_backward(input)  # dL/dW needs x
        return linear(input, self.weight.data, data_of(self.bias))

    def backward(self, grad_output, *, input_grad=True):
        """grad_output (*, out) -> grad_input (*, in); adds dL/dW (out, in) and dL/db (out,) into
        .grad

        input_grad=False skips dL/dx and returns None (a first layer's input needs no gradient).
        """
        (x,) = self.saved_tensors
        grad_output = self.grad_like(grad_output, x.shape[:-1] + (self.out_features,), x.dtype)
        # fold the * dims
        g2, x2 = grad_output.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        # dL/dW = g^T x   (out, N) @ (N, in) -> (out, in)
        accumulate_grad(self.weight, g2.T @ x2)
        if self.bias is not None:
            # dL/db = sum over the batch of g   (N, out) -> (out,)
            accumulate_grad(self.bias, sum_rows(g2))
        if not input_grad:
            return None
        # dL/dx = g W   (*, out) @ (out, in) -> (*, in)
        return grad_output @ self.weight.data

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
