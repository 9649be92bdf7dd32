"""Activations: ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax. Twins of torch.nn's, each with
its backward.

Every backward takes grad_output (dL/dy, the output's shape) and returns dL/dx (the input's shape).
Each keeps, with save_for_backward, the one array its derivative is written in: x for ReLU and
GELU, the output y for the others (sigmoid' = y (1 - y), tanh' = 1 - y^2: no exp to recompute).
"""

import math

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn.module import Module


def relu(input, inplace=False):
    """max(x, 0), elementwise; NaN stays NaN, as in torch."""
    if inplace:
        raise NotImplementedError("inplace=True is not supported by scratch.nn.functional.relu")
    if _validate.array("relu", "input", input).dtype == bool:  # torch refuses too
        raise TypeError("Boolean inputs not supported for relu: pass input.astype(np.float32)")
    return array_module(input).maximum(input, 0)  # maximum propagates NaN


def sigmoid(input):
    """1 / (1 + e^-x), as torch computes it: where e^-x overflows (x < -88.7 in float32, -709 in
    float64) it is inf and the result 0, torch's value there too. (A form with e^-|x| and a
    select never overflows, but the select, np.where, took 60% of the time and gave denormals
    where torch gives 0.) Integers are refused: torch would give float32, NumPy float64."""
    xp = array_module(_validate.floating("sigmoid", "input", input))
    with np.errstate(over="ignore"):  # e^-x = inf is the right limit: 1 / inf = 0
        return 1 / (1 + xp.exp(-input))


def tanh(input):
    """tanh(x); integers refused, as sigmoid's."""
    return array_module(input).tanh(_validate.floating("tanh", "input", input))


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715  # the tanh form's coefficient (Hendrycks and Gimpel, 2016)


def erf(x):
    """The error function, elementwise, to float64 rounding.

    NumPy has none. On the CPU this applies the C library's erf (Python's math.erf) to each value:
    correct to the last bit, and slow: about 75 ns a value (measured: 20 ms for 262,144 values,
    where one NumPy pass over them takes 0.05 ms), so the exact GELU dominates a small encoder
    layer's time. A rational approximation accurate to float64 would be ~10x faster, and another
    page of coefficients to trust; GELU('tanh') needs no erf. On a GPU, CuPy's own
    (cupyx.scipy.special.erf).
    """
    xp = array_module(x)
    if xp is not np:
        try:
            from cupyx.scipy.special import erf as device_erf
        except ImportError:  # the CPU stand-in for CuPy (tests): the host's, moved back
            return xp.asarray(erf(x.get()))
        return device_erf(x)
    # asarray: frompyfunc gives a Python float, not a 0-d array, for a 0-d input
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x)).astype(x.dtype)


def gelu(input, approximate="none"):
    """x Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)) (approximate='none');
    or 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _gelu_forward(_validate.floating("gelu", "input", input), approximate)[0]


def _gelu_forward(x, approximate):
    """(y, what the backward reuses: Phi(x), or tanh(u) for the tanh form; each costs a
    transcendental per value, the exact form's erf most of all)."""
    xp = array_module(x)
    if approximate == "tanh":
        t = xp.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))
        # asarray: NumPy's arithmetic on a 0-d array gives a scalar; torch gives a 0-d tensor
        return xp.asarray(0.5 * x * (1 + t)), t
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    return xp.asarray(x * cdf), cdf


def gelu_backward(grad_output, input, saved, approximate="none"):
    """dL/dx of gelu, beside it (saved: what _gelu_forward returned beside y).
    none:  d/dx x Phi(x) = Phi(x) + x phi(x),  phi(x) = e^(-x^2 / 2) / sqrt(2 pi)
    tanh:  with t = tanh(u), u = sqrt(2 / pi) (x + 0.044715 x^3):
           0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2)"""
    xp = array_module(input)
    x = input
    if approximate == "tanh":
        t = saved
        du_dx = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x)
        return grad_output * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)
    cdf = saved
    pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return grad_output * (cdf + x * pdf)


def _implicit_dim(name, dim):
    if dim is None:
        raise NotImplementedError(
            f"{name}: dim=None (torch's deprecated implicit choice of dim) is not supported: pass "
            "dim"
        )


def _cast(input, dtype):
    return input if dtype is None else input.astype(dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim: shifting by the max first keeps exp from overflowing."""
    _implicit_dim("log_softmax", dim)
    input = _cast(_validate.floating("log_softmax", "input", input), dtype)
    if input.size == 0:  # nothing to normalise (a zero-length dim has no max): torch's empty result
        return input.copy()
    xp = array_module(input)
    shifted = input - input.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """e^x / sum(e^x) along dim, shifted by the max (the ratio is unchanged, exp cannot
    overflow)."""
    _implicit_dim("softmax", dim)
    input = _cast(_validate.floating("softmax", "input", input), dtype)
    if input.size == 0:  # nothing to normalise (a zero-length dim has no max): torch's empty result
        return input.copy()
    xp = array_module(input)
    e = xp.exp(input - input.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


class ReLU(Module):
    """y = max(x, 0).   input (*) -> (*)"""

    def __init__(self, inplace=False):
        super().__init__()
        if inplace:
            raise NotImplementedError("ReLU(inplace=True) is not supported")

    def forward(self, input):
        self.save_for_backward(_validate.floating("ReLU", "input", input))
        return relu(input)

    def backward(self, grad_output, *, input_grad=True):
        (x,) = self.saved_tensors
        g = self.grad_like(grad_output, x.shape, x.dtype)
        # dy/dx = 1 where x > 0, else 0 — also exactly at x == 0, as torch defines it
        return g * (x > 0) if input_grad else None


class Sigmoid(Module):
    """y = 1 / (1 + e^-x).   input (*) -> (*)"""

    def forward(self, input):
        y = sigmoid(_validate.floating("Sigmoid", "input", input))
        self.save_for_backward(y)
        return y

    def backward(self, grad_output, *, input_grad=True):
        (y,) = self.saved_tensors
        g = self.grad_like(grad_output, y.shape, y.dtype)
        return g * y * (1 - y) if input_grad else None  # dy/dx = y (1 - y)


class Tanh(Module):
    """y = tanh(x).   input (*) -> (*)"""

    def forward(self, input):
        y = tanh(_validate.floating("Tanh", "input", input))
        self.save_for_backward(y)
        return y

    def backward(self, grad_output, *, input_grad=True):
        (y,) = self.saved_tensors
        g = self.grad_like(grad_output, y.shape, y.dtype)
        return g * (1 - y * y) if input_grad else None  # dy/dx = 1 - y^2


class GELU(Module):
    """y = x Phi(x) (approximate='none') or its tanh form (approximate='tanh').
    input (*) -> (*)"""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"approximate argument must be either none or tanh, got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, input):
        y, saved = _gelu_forward(_validate.floating("GELU", "input", input), self.approximate)
        self.save_for_backward(input, saved)
        return y

    def backward(self, grad_output, *, input_grad=True):
        x, saved = self.saved_tensors
        g = self.grad_like(grad_output, x.shape, x.dtype)
        if not input_grad:
            return None
        return gelu_backward(g, x, saved, self.approximate).astype(x.dtype, copy=False)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """y = e^x / sum e^x along dim.   input (*) -> (*)"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        y = softmax(_validate.floating("Softmax", "input", input), self.dim)
        self.save_for_backward(y)
        return y

    def backward(self, grad_output, *, input_grad=True):
        (y,) = self.saved_tensors
        g = self.grad_like(grad_output, y.shape, y.dtype)
        if not input_grad:
            return None
        # dy_i/dx_j = y_i (delta_ij - y_j)  =>  dL/dx = y * (g - sum_i g_i y_i)
        return y * (g - (g * y).sum(axis=self.dim, keepdims=True))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = x - log sum e^x along dim.   input (*) -> (*)"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        y = log_softmax(_validate.floating("LogSoftmax", "input", input), self.dim)
        self.save_for_backward(y)
        return y

    def backward(self, grad_output, *, input_grad=True):
        (y,) = self.saved_tensors
        g = self.grad_like(grad_output, y.shape, y.dtype)
        if not input_grad:
            return None
        # dy_i/dx_j = delta_ij - softmax_j  =>  dL/dx = g - softmax * sum_i g_i
        return g - array_module(y).exp(y) * g.sum(axis=self.dim, keepdims=True)

    def extra_repr(self):
        return f"dim={self.dim}"
