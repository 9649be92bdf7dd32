"""Convolution: Conv1d, Conv2d, Conv3d and F.conv1d/2d/3d, one N-d implementation. Twins of torch.nn's.

    out[n, o_c, *p] = bias[o_c] + sum_{i_c, *k} weight[o_c, i_c, *k] * x_pad[n, i_c, *(p * stride + k * dilation)]

(i_c running over the input channels of o_c's group.) The forward takes every window of the padded
input as a strided view (no copy, scratch/nn/_sliding.py) and contracts it with the weight in one
matrix product per group (np.tensordot copies the windows into rows first: im2col). The backward:

    dL/dweight  a correlation of the windows with the output gradient: one product per group
    dL/dbias    the output gradient summed over the batch and every position
    dL/dx       each window's gradient, g W, added back where the window was read (a transposed
                convolution): one strided slice-add per kernel offset, then padding's adjoint

Stride, dilation and padding enter only through the window view and its adjoint, so they need no
special cases. torch's padding='same' pads dilation * (kernel - 1) in all, the extra one (for an even
total) on the right, as torch does; padding_mode reflect / replicate / circular pads by copying
input values, so their gradient flows back to those values.
"""
import math
import numbers

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn import _sliding, init
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad


def _tuple(name, value, n, low):
    """An int or an n-tuple of ints >= low, as an n-tuple (torch's _single/_pair/_triple, checked)."""
    values = (value,) * n if isinstance(value, numbers.Integral) and not isinstance(value, bool) else tuple(value)
    if len(values) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(_validate.integer(name, v, low=low) for v in values)


def _padding(padding, kernel, stride, dilation):
    """torch's padding argument -> ((before, after), ...) per spatial axis, and the form torch reprs."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if padding == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)  # the odd one out goes on the right, as in torch
    return tuple((p, p) for p in _tuple("padding", padding, n, 0))


def conv(input, weight, bias, stride, pads, dilation, groups, padding_mode="zeros"):
    """The N-d convolution: (out, the padded input's windows). pads ((before, after), ...) per axis.

    input (N, C_in, *S) · weight (C_out, C_in / groups, *K) · bias (C_out,) -> (N, C_out, *O)
    """
    xp = array_module(input)
    n = weight.ndim - 2
    x = _sliding.pad(input, pads, padding_mode)
    kernel = weight.shape[2:]
    win = _sliding.windows(x, kernel, stride, dilation)  # (N, C_in, *O, *K), a view
    N, C_in, out = x.shape[0], x.shape[1], win.shape[2:2 + n]
    c_in, c_out = C_in // groups, weight.shape[0] // groups  # channels per group
    parts = []
    for g in range(groups):
        w_g = win[:, g * c_in:(g + 1) * c_in]  # (N, c_in, *O, *K)
        # contract (c_in, *K): (N, c_in, *O, *K) . (c_out, c_in, *K) -> (N, *O, c_out)
        y = xp.tensordot(w_g, weight[g * c_out:(g + 1) * c_out],
                         axes=([1] + list(range(2 + n, 2 + 2 * n)), list(range(1, n + 2))))
        parts.append(xp.moveaxis(y, -1, 1))  # (N, c_out, *O)
    y = xp.concatenate(parts, axis=1) if groups > 1 else xp.ascontiguousarray(parts[0])
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * n)
    return y, win


def conv_backward(grad, weight, win, input_shape, pads, stride, dilation, groups, padding_mode, input_grad=True):
    """(dL/dinput or None, dL/dweight, dL/dbias) from grad = dL/dout (N, C_out, *O) and the forward's windows."""
    xp = array_module(grad)
    n = weight.ndim - 2
    kernel = weight.shape[2:]
    c_in, c_out = weight.shape[1], weight.shape[0] // groups
    positions = [0] + list(range(2, 2 + n))  # the batch and every output position: what the products sum over
    grad_weight, grad_windows = [], []
    for g in range(groups):
        g_g = grad[:, g * c_out:(g + 1) * c_out]  # (N, c_out, *O)
        # dL/dW[o, i, k] = sum_{n, p} g[n, o, p] win[n, i, p, k]   -> (c_out, c_in, *K)
        grad_weight.append(xp.tensordot(g_g, win[:, g * c_in:(g + 1) * c_in], axes=(positions, positions)))
        if input_grad:
            # dL/dwin[n, i, p, k] = sum_o g[n, o, p] W[o, i, k]   (N, *O, c_in, *K) -> (N, c_in, *O, *K)
            d = xp.tensordot(g_g, weight[g * c_out:(g + 1) * c_out], axes=([1], [0]))
            grad_windows.append(xp.moveaxis(d, 1 + n, 1))
    grad_weight = xp.concatenate(grad_weight, axis=0) if groups > 1 else grad_weight[0]
    grad_bias = grad.sum(axis=tuple(positions))
    if not input_grad:
        return None, grad_weight, grad_bias
    d_win = xp.concatenate(grad_windows, axis=1) if groups > 1 else grad_windows[0]
    padded = input_shape[:2] + tuple(s + b + a for s, (b, a) in zip(input_shape[2:], pads))
    grad_padded = _sliding.add_windows(d_win, padded, kernel, stride, dilation)  # the transposed convolution
    return _sliding.pad_adjoint(grad_padded, pads, padding_mode), grad_weight, grad_bias


def check_conv(owner, input, weight, pads, stride, dilation, groups, padding_mode):
    """torch's checks, in words that say what to change; nothing is computed before they pass."""
    _validate.array(owner, "input", input)
    n = weight.ndim - 2
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {owner}, "
                         f"but got input of size: {list(input.shape)}")
    channels = input.shape[-n - 1]
    if channels != weight.shape[1] * groups:
        raise ValueError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(input.shape)} "
                         f"to have {weight.shape[1] * groups} channels, but got {channels} channels instead")
    if input.dtype != weight.dtype:
        raise TypeError(f"{owner} expected input of dtype {weight.dtype} (its weight's), got {input.dtype}: pass "
                        f"input.astype(np.{weight.dtype}), or build the layer with dtype=np.{input.dtype}")
    spatial = input.shape[-n:]
    for d, (size, (b, a)) in enumerate(zip(spatial, pads)):
        limit = size - 1 if padding_mode == "reflect" else size  # reflect skips the edge value; circular wraps once
        if padding_mode in ("reflect", "circular") and max(b, a) > limit:
            raise ValueError(f"{owner}: padding {(b, a)} with padding_mode={padding_mode!r} must be at most {limit} "
                             f"for an input of size {size} along spatial dimension {d}")
    padded = tuple(s + b + a for s, (b, a) in zip(spatial, pads))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dilation))
    if any(e > p for e, p in zip(effective, padded)):
        raise ValueError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                         f"({' x '.join(map(str, effective))}). Kernel size can't be greater than actual input size")


class _ConvNd(Module):
    """The three classes differ only in n, the number of spatial dimensions."""

    n = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", *, dtype=np.float32, generator=None):
        super().__init__()
        n = self.n
        self.in_channels = _validate.integer("in_channels", in_channels, low=1)
        self.out_channels = _validate.integer("out_channels", out_channels, low=1)
        self.groups = _validate.integer("groups", groups, low=1)
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in modes:
            raise ValueError(f"padding_mode must be one of {modes}, but got padding_mode='{padding_mode}'")
        self.kernel_size = _tuple("kernel_size", kernel_size, n, 1)
        self.stride = _tuple("stride", stride, n, 1)
        self.dilation = _tuple("dilation", dilation, n, 1)
        self.padding = padding if isinstance(padding, str) else _tuple("padding", padding, n, 0)
        self._pads = _padding(padding, self.kernel_size, self.stride, self.dilation)
        self.padding_mode = padding_mode
        dtype = _validate.float_dtype(dtype)
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """torch's init: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)), fan_in = in_channels / groups * prod(kernel)."""
        generator = np.random.default_rng() if generator is None else generator
        init.kaiming_uniform_(self.weight.data, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.data[0].size)
            init.uniform_(self.bias.data, -bound, bound, generator)

    def forward(self, input):
        """input (N, C_in, *S) or unbatched (C_in, *S) -> (N, C_out, *O) or (C_out, *O)"""
        name = type(self).__name__
        check_conv(name, input, self.weight.data, self._pads, self.stride, self.dilation, self.groups, self.padding_mode)
        batched = input if input.ndim == self.n + 2 else input[None]  # unbatched: a batch of one
        out, win = conv(batched, self.weight.data, _data(self.bias), self.stride, self._pads, self.dilation,
                        self.groups, self.padding_mode)
        self.save_for_backward(win, batched.shape, input.ndim == self.n + 2)
        return out if input.ndim == self.n + 2 else out[0]

    def backward(self, grad_output, *, input_grad=True):
        """grad_output: the output's shape -> dL/dinput, the input's shape; adds dL/dweight, dL/dbias into .grad"""
        win, input_shape, batched = self.saved_tensors
        out_shape = (input_shape[0], self.out_channels) + win.shape[2:2 + self.n]
        grad = self.grad_like(grad_output, out_shape if batched else out_shape[1:], win.dtype)
        grad = grad if batched else grad[None]
        grad_input, grad_weight, grad_bias = conv_backward(grad, self.weight.data, win, input_shape, self._pads,
                                                           self.stride, self.dilation, self.groups, self.padding_mode,
                                                           input_grad)
        accumulate_grad(self.weight, grad_weight)
        if self.bias is not None:
            accumulate_grad(self.bias, grad_bias)
        if not input_grad:
            return None
        return grad_input if batched else grad_input[0]

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out).   weight (C_out, C_in / groups, K) · bias (C_out,)"""

    n = 1


class Conv2d(_ConvNd):
    """input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out).   weight (C_out, C_in / groups, kH, kW)"""

    n = 2


class Conv3d(_ConvNd):
    """input (N, C_in, D, H, W) or (C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out).   weight (C_out, C_in / groups, kD, kH, kW)"""

    n = 3


def _functional(n):
    def conv_nd(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        name = f"conv{n}d"
        _validate.array(name, "weight", weight)
        if weight.ndim != n + 2:
            raise ValueError(f"{name}: weight must have shape (C_out, C_in / groups, {', '.join('k' * n)}), got {tuple(weight.shape)}")
        groups = _validate.integer("groups", groups, low=1)
        kernel, stride, dilation = weight.shape[2:], _tuple("stride", stride, n, 1), _tuple("dilation", dilation, n, 1)
        pads = _padding(padding, kernel, stride, dilation)
        check_conv(name, input, weight, pads, stride, dilation, groups, "zeros")
        batched = input if input.ndim == n + 2 else input[None]
        out = conv(batched, weight, bias, stride, pads, dilation, groups)[0]
        return out if input.ndim == n + 2 else out[0]

    conv_nd.__name__ = conv_nd.__qualname__ = f"conv{n}d"
    conv_nd.__doc__ = (f"The {n}-d convolution of torch.nn.functional.conv{n}d.   input (N, C_in, *S) or (C_in, *S) · "
                       f"weight (C_out, C_in / groups, *K) · bias (C_out,); padding an int, a tuple, 'valid' or 'same'")
    return conv_nd


conv1d, conv2d, conv3d = _functional(1), _functional(2), _functional(3)


def _data(p):
    return None if p is None else p.data
