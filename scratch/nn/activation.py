"""Activations: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax. Twins of torch.nn's, each with its backward.

Every backward takes grad_output (dL/dy, the output's shape) and returns dL/dx (the input's shape).
"""
from scratch._backend import array_module
from scratch.nn import functional as F
from scratch.nn.module import Module


class _Elementwise(Module):
    """Shared bookkeeping: forward keeps what backward needs; backward checks it has a forward."""

    def _saved(self, grad_output):
        saved = getattr(self, "_cache", None)
        if saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if grad_output.shape != saved.shape:
            raise ValueError(f"grad_output must have the output's shape {tuple(saved.shape)}, got {tuple(grad_output.shape)}")
        return saved


class ReLU(_Elementwise):
    """y = max(x, 0).   input (*) -> (*)"""

    def __init__(self, inplace=False):
        super().__init__()
        if inplace:
            raise NotImplementedError("ReLU(inplace=True) is not supported")

    def forward(self, input):
        self._cache = input
        return F.relu(input)

    def backward(self, grad_output):
        x = self._saved(grad_output)
        # dy/dx = 1 where x > 0, else 0 — also exactly at x == 0, as torch defines it
        return grad_output * (x > 0)


class Sigmoid(_Elementwise):
    """y = 1 / (1 + e^-x).   input (*) -> (*)"""

    def forward(self, input):
        self._cache = y = F.sigmoid(input)
        return y

    def backward(self, grad_output):
        y = self._saved(grad_output)
        return grad_output * y * (1 - y)  # dy/dx = y (1 - y)


class Tanh(_Elementwise):
    """y = tanh(x).   input (*) -> (*)"""

    def forward(self, input):
        self._cache = y = F.tanh(input)
        return y

    def backward(self, grad_output):
        y = self._saved(grad_output)
        return grad_output * (1 - y * y)  # dy/dx = 1 - y^2


class Softmax(_Elementwise):
    """y = e^x / sum e^x along dim.   input (*) -> (*)"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        self._cache = y = F.softmax(input, self.dim)
        return y

    def backward(self, grad_output):
        y = self._saved(grad_output)
        # dy_i/dx_j = y_i (delta_ij - y_j)  =>  dL/dx = y * (g - sum_i g_i y_i)
        return y * (grad_output - (grad_output * y).sum(axis=self.dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(_Elementwise):
    """y = x - log sum e^x along dim.   input (*) -> (*)"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        self._cache = y = F.log_softmax(input, self.dim)
        return y

    def backward(self, grad_output):
        y = self._saved(grad_output)
        xp = array_module(y)
        # dy_i/dx_j = delta_ij - softmax_j  =>  dL/dx = g - softmax * sum_i g_i
        return grad_output - xp.exp(y) * grad_output.sum(axis=self.dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"
