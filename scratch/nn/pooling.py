"""Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d and their functional forms. Twins of torch.nn's.

Both take windows of the (implicitly) padded input, as convolution does (scratch/nn/_sliding.py),
and reduce each one: to its largest value, or to its mean. Their backwards are the windows' adjoint:

    max: each window's gradient goes to the one input value that won (torch's argmax: the first of
         equal values, in the window's row-major order; a NaN wins, as it propagates)
    avg: each window's gradient, divided by the window's divisor, goes to every value it averaged

ceil_mode adds a last, partial window where floor would drop one (if it starts inside the input or
its left padding, torch's rule); the divisor of a partial or padded average follows torch: with
count_include_pad, the positions inside the padded input; without, the positions inside the input.
"""

import math

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn import _sliding
from scratch.nn.conv import _tuple
from scratch.nn.module import Module


def pool_geometry(owner, input, kernel, stride, padding, dilation, ceil_mode, n):
    """(out sizes, pads per axis ((before, after), ...)): torch's output size, and the right padding
    the last (ceil_mode) window needs. Checks the input's rank and torch's limits on padding."""
    _validate.array(owner, "input", input)
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"{owner}: expected {n + 1}D (unbatched) or {n + 2}D (batched) input, got shape "
            f"{tuple(input.shape)}"
        )
    if 0 in input.shape[-n - 1 :]:  # torch: only the batch may be empty
        raise ValueError(
            f"{owner}: expected an input with non-zero sizes but for the batch, got shape "
            f"{tuple(input.shape)}"
        )
    out, pads = [], []
    for size, k, s, p, d in zip(input.shape[-n:], kernel, stride, padding, dilation):
        if p > k // 2:  # torch's rule: half the kernel, whatever the dilation
            raise ValueError(
                f"{owner}: pad should be smaller than or equal to half of kernel size, but got "
                f"pad={p} "
                f"and kernel_size={k}"
            )
        span = size + 2 * p - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        # the last window must start inside the input or the left padding
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        if o < 1:
            raise ValueError(
                f"{owner}: given input size {tuple(input.shape)}, the output size would be {o}: "
                f"output size is too small (kernel_size={tuple(kernel)}, padding={tuple(padding)})"
            )
        out.append(o)
        # right: what the last window reaches
        pads.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - size - p)))
    return tuple(out), tuple(pads)


def _first(win, out, n):
    """Only the first out[d] windows along each axis (the padded extent may fit one more)."""
    return win[(Ellipsis,) + tuple(slice(0, o) for o in out) + (slice(None),) * n]


def max_pool(input, kernel, stride, padding, dilation, ceil_mode, owner="max_pool"):
    """(out, argmax): out (N, C, *O) or (C, *O); argmax, the winner's flat offset within its
    window."""
    n = len(kernel)
    out_size, pads = pool_geometry(owner, input, kernel, stride, padding, dilation, ceil_mode, n)
    x = _sliding.pad(input, pads, "zeros", value=-np.inf)  # padding never wins
    win = _first(_sliding.windows(x, kernel, stride, dilation), out_size, n)
    flat = win.reshape(win.shape[:-n] + (math.prod(kernel),))  # (..., *O, prod K): a copy
    argmax = flat.argmax(axis=-1)  # the first of equal values, as torch
    return flat.max(axis=-1), argmax


def max_pool_indices(argmax, input_shape, kernel, stride, padding, dilation):
    """torch's return_indices: each winner's flat index into its input plane (e.g. h * W + w)."""
    xp = array_module(argmax)
    n = len(kernel)
    spatial = input_shape[-n:]
    index = xp.zeros(argmax.shape, dtype=np.int64)
    rest = argmax
    # unravel the offset in the window (row-major over the kernel), then place it
    for d in range(n):
        inner = math.prod(kernel[d + 1 :])
        k, rest = rest // inner, rest % inner
        o = xp.arange(argmax.shape[argmax.ndim - n + d]).reshape((-1,) + (1,) * (n - 1 - d))
        coordinate = o * stride[d] - padding[d] + k * dilation[d]
        index = index * spatial[d] + coordinate
    return index


def avg_pool(
    input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, owner="avg_pool"
):
    """(out, divisor): out (N, C, *O) or (C, *O); divisor (*O), what each window's sum was divided
    by."""
    xp = array_module(input)
    n = len(kernel)
    ones = (1,) * n
    out_size, pads = pool_geometry(owner, input, kernel, stride, padding, ones, ceil_mode, n)
    x = _sliding.pad(input, pads, "zeros")
    win = _first(_sliding.windows(x, kernel, stride, ones), out_size, n)
    sums = win.sum(axis=tuple(range(win.ndim - n, win.ndim)))
    if divisor_override is not None and divisor_override == 0:  # torch's words
        raise ValueError(f"{owner}: divisor must be not zero (divisor_override=0)")
    if divisor_override:
        divisor = xp.full(out_size, float(divisor_override), dtype=input.dtype)
    else:  # count, in each window, the positions that count: a window sum of a mask of ones
        spatial = input.shape[-n:]
        if count_include_pad:  # the padding counts; the ceil_mode overhang beyond it does not
            counted = xp.ones(tuple(s + 2 * p for s, p in zip(spatial, padding)), dtype=input.dtype)
            around = tuple((0, a - p) for (b, a), p in zip(pads, padding))
        else:  # only the input's own positions count
            counted, around = xp.ones(spatial, dtype=input.dtype), pads
        mask = _sliding.pad(counted, around, "zeros")
        divisor = _first(_sliding.windows(mask, kernel, stride, ones), out_size, n).sum(
            axis=tuple(range(n, 2 * n))
        )
    return sums / divisor, divisor


class _MaxPoolNd(Module):
    n = 0

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False
    ):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        self._geometry = (
            _tuple("kernel_size", kernel_size, self.n, 1),
            _tuple("stride", self.stride, self.n, 1),
            _tuple("padding", padding, self.n, 0),
            _tuple("dilation", dilation, self.n, 1),
        )

    def forward(self, input):
        """input (N, C, *S) or (C, *S) -> (N, C, *O), and with return_indices the winners' flat
        indices"""
        kernel, stride, padding, dilation = self._geometry
        out, argmax = max_pool(
            input, kernel, stride, padding, dilation, self.ceil_mode, type(self).__name__
        )
        self.save_for_backward(argmax, input.shape, input.dtype)
        if self.return_indices:
            return out, max_pool_indices(argmax, input.shape, kernel, stride, padding, dilation)
        return out

    def backward(self, grad_output, *, input_grad=True):
        """grad_output (the output's shape) -> dL/dinput: each window's gradient to the value that
        won it. With return_indices, grad_output is (grad_out, None): indices get no gradient."""
        argmax, input_shape, dtype = self.saved_tensors
        if self.return_indices and isinstance(grad_output, tuple):
            grad_output = grad_output[0]
        g = self.grad_like(grad_output, argmax.shape, dtype)
        if not input_grad:
            return None
        kernel, stride, padding, dilation = self._geometry
        xp = array_module(g)
        # the window's gradient: g at the winner's offset, 0 at the others   (..., *O, prod K) ->
        # (..., *O, *K)
        grad_windows = (g[..., None] * (argmax[..., None] == xp.arange(math.prod(kernel)))).reshape(
            g.shape + kernel
        )
        return _scatter(grad_windows, input_shape, kernel, stride, padding, dilation)

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class _AvgPoolNd(Module):
    n = 0

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = (
            padding,
            bool(ceil_mode),
            bool(count_include_pad),
        )
        if divisor_override is not None:
            divisor_override = _validate.integer("divisor_override", divisor_override, low=1)
        self.divisor_override = divisor_override
        self._geometry = (
            _tuple("kernel_size", kernel_size, self.n, 1),
            _tuple("stride", self.stride, self.n, 1),
            _tuple("padding", padding, self.n, 0),
        )

    def forward(self, input):
        """input (N, C, *S) or (C, *S) -> (N, C, *O)"""
        kernel, stride, padding = self._geometry
        out, divisor = avg_pool(
            input,
            kernel,
            stride,
            padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            type(self).__name__,
        )
        self.save_for_backward(divisor, input.shape, input.dtype)
        return out

    def backward(self, grad_output, *, input_grad=True):
        """grad_output (the output's shape) -> dL/dinput: each window's gradient / divisor to every
        value in it"""
        divisor, input_shape, dtype = self.saved_tensors
        kernel, stride, padding = self._geometry
        n = len(kernel)
        out_shape = input_shape[:-n] + divisor.shape
        g = self.grad_like(grad_output, out_shape, dtype)
        if not input_grad:
            return None
        # y = sum(window) / divisor  =>  dy/dx = 1 / divisor for every x in the window
        share = (g / divisor).reshape(g.shape + (1,) * n)
        grad_windows = array_module(g).broadcast_to(share, g.shape + kernel)
        return _scatter(grad_windows, input_shape, kernel, stride, padding, (1,) * n)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _scatter(grad_windows, input_shape, kernel, stride, padding, dilation):
    """The windows' gradients added back to the input (the windows' adjoint), the padding cut
    off."""
    n = len(kernel)
    out = grad_windows.shape[-2 * n : -n]
    # the padded extent the windows covered, the ceil_mode overhang included
    extent = tuple(
        max(s + 2 * p, (o - 1) * st + d * (k - 1) + 1)
        for s, p, o, st, d, k in zip(input_shape[-n:], padding, out, stride, dilation, kernel)
    )
    grad = _sliding.add_windows(grad_windows, input_shape[:-n] + extent, kernel, stride, dilation)
    return grad[(Ellipsis,) + tuple(slice(p, p + s) for p, s in zip(padding, input_shape[-n:]))]


class MaxPool1d(_MaxPoolNd):
    """input (N, C, L) or (C, L) -> (N, C, L_out): the largest value of each window"""

    n = 1


class MaxPool2d(_MaxPoolNd):
    """input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out): the largest value of each window"""

    n = 2


class MaxPool3d(_MaxPoolNd):
    """input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out): the largest value of
    each window"""

    n = 3


class AvgPool1d(_AvgPoolNd):
    """input (N, C, L) or (C, L) -> (N, C, L_out): the mean of each window"""

    n = 1

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
    ):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps AvgPool1d's sizes as 1-tuples (and has no divisor_override for it)
        self.kernel_size, self.stride, self.padding = self._geometry


class AvgPool2d(_AvgPoolNd):
    """input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out): the mean of each window"""

    n = 2


class AvgPool3d(_AvgPoolNd):
    """input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out): the mean of each
    window"""

    n = 3


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """torch.nn.functional.max_pool1d's forward.   input (N, C, L) or (C, L) -> (N, C, L_out)"""
    return _max_pool_nd(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """torch.nn.functional.max_pool2d's forward.
    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out)"""
    return _max_pool_nd(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """torch.nn.functional.max_pool3d's forward.
    input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out)"""
    return _max_pool_nd(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def _stride_or_kernel(stride, kernel_size):
    """torch's default stride is the kernel size, for None and for an empty tuple alike."""
    return (
        kernel_size
        if stride is None or (isinstance(stride, (tuple, list)) and not stride)
        else stride
    )


def _max_pool_nd(name, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geometry = (
        _tuple("kernel_size", kernel_size, n, 1),
        _tuple("stride", _stride_or_kernel(stride, kernel_size), n, 1),
        _tuple("padding", padding, n, 0),
        _tuple("dilation", dilation, n, 1),
    )
    out, argmax = max_pool(input, *geometry, ceil_mode, name)
    return (out, max_pool_indices(argmax, input.shape, *geometry)) if return_indices else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch.nn.functional.avg_pool1d's forward (it has no divisor_override).
    input (N, C, L) or (C, L)"""
    return _avg_pool_nd(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """torch.nn.functional.avg_pool2d's forward.
    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out)"""
    return _avg_pool_nd(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """torch.nn.functional.avg_pool3d's forward.
    input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out)"""
    return _avg_pool_nd(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def _avg_pool_nd(
    name, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    kernel = _tuple("kernel_size", kernel_size, n, 1)
    stride = _tuple("stride", _stride_or_kernel(stride, kernel_size), n, 1)
    return avg_pool(
        input,
        kernel,
        stride,
        _tuple("padding", padding, n, 0),
        ceil_mode,
        count_include_pad,
        divisor_override,
        name,
    )[0]


class Flatten(Module):
    """input (N, d1, ..., dk, ...) -> the dimensions start_dim..end_dim merged into one (a
    reshape)"""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        _validate.array("Flatten", "input", input)
        dims = []
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            # torch's IndexError, as a ValueError
            if not -max(input.ndim, 1) <= d < max(input.ndim, 1):
                raise ValueError(
                    f"Flatten: {name}={d} is out of range for an input of {input.ndim} dimensions"
                )
            dims.append(d % max(input.ndim, 1))
        start, end = dims
        if start > end:
            raise ValueError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim}"
            )
        self.save_for_backward(input.shape, input.dtype)
        return (
            input.reshape(input.shape[:start] + (-1,) + input.shape[end + 1 :])
            if input.ndim
            else input.reshape(1)
        )

    def backward(self, grad_output, *, input_grad=True):
        shape, dtype = self.saved_tensors
        flat = (1,) if not shape else None  # a 0-d input was flattened to (1,)
        g = self.grad_like(
            grad_output, flat or _flattened(shape, self.start_dim, self.end_dim), dtype
        )
        # y = x.reshape(...) moves no value: dL/dx is dL/dy, reshaped back
        return g.reshape(shape) if input_grad else None

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


def _flattened(shape, start_dim, end_dim):
    start, end = start_dim % len(shape), end_dim % len(shape)
    return shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :]
