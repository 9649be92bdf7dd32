"""Convolution: Conv1d, Conv2d, Conv3d and F.conv1d/2d/3d, one N-d implementation. Twins of
torch.nn's.

    out[n, o_c, *p] = bias[o_c] + sum_{i_c, *k} weight[o_c, i_c, *k] * x_pad[n, i_c, *(p * stride +
    k * dilation)]

(i_c running over the input channels of o_c's group.) The forward takes every window of the padded
input as a strided view (no copy, scratch/nn/_sliding.py), copies the windows into the rows of a
matrix (im2col), and multiplies it by the weight: one matrix product per group. The backward:

    dL/dweight  columns^T g: a correlation of the windows with the output gradient, one product per
    group
    dL/dbias    the output gradient summed over the batch and every position
    dL/dx       each window's gradient, g W, added back where the window was read (a transposed
                convolution): one product and one strided slice-add per kernel offset, then
                padding's adjoint

Stride, dilation and padding enter only through the window view and its adjoint, so they need no
special cases. torch's padding='same' pads dilation * (kernel - 1) in all, the extra one (for an
even total) on the right, as torch does; padding_mode reflect / replicate / circular pads by copying
input values, so their gradient flows back to those values.
"""

import math
import numbers

import numpy as np

from scratch import _validate
from scratch._backend import array_module, sum_rows
from scratch.nn import _sliding, init
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad, data_of


def _tuple(name, value, dims, low):
    """An int, a tuple of one int (torch's ops take it for every dim too) or of `dims` ints, each
    >= low, as a tuple of `dims` (torch's _single/_pair/_triple, checked)."""
    values = (
        (value,) * dims
        if isinstance(value, numbers.Integral) and not isinstance(value, bool)
        else tuple(value)
    )
    values = values * dims if len(values) == 1 else values
    if len(values) != dims:
        raise ValueError(f"{name} must be an int or a tuple of {dims} ints, got {value!r}")
    return tuple(_validate.integer(name, v, low=low) for v in values)


def _padding(padding, kernel, stride, dilation):
    """torch's padding argument -> ((before, after), ...) per spatial axis, and the form torch
    reprs."""
    dims = len(kernel)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
            )
        if padding == "valid":
            return ((0, 0),) * dims
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        # the odd one out goes on the right, as in torch
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in _tuple("padding", padding, dims, 0))


def conv(input, weight, bias, stride, pads, dilation, groups, padding_mode="zeros"):
    """The N-d convolution: (out, the columns backward needs). pads ((before, after), ...) per axis.

    input (N, C_in, *S) · weight (C_out, C_in / groups, *K) · bias (C_out,) -> (N, C_out, *O)

    Inside, channels come last: a window's values then lie in runs of C_in contiguous numbers, so
    copying every window into a row of `columns` (im2col) reads memory in order; with channels first
    the same copy jumps across the input for every number (3x slower at 8x64x56x56, measured).
    """
    xp = array_module(input)
    dims = weight.ndim - 2
    # (N, *S_pad, C_in)
    x = xp.ascontiguousarray(xp.moveaxis(_sliding.pad(input, pads, padding_mode), 1, -1))
    # (N, *O, *K, C_in), a view
    win = _sliding.windows(x, weight.shape[2:], stride, dilation, axis=1)
    N, out = x.shape[0], win.shape[1 : 1 + dims]
    rows = N * math.prod(out)
    c_in, c_out = weight.shape[1], weight.shape[0] // groups  # channels per group
    columns, parts = [], []
    for group in range(groups):
        # im2col: each window of the group's channels becomes a row   (N * prod O, prod K * c_in)
        width = math.prod(weight.shape[2:]) * c_in  # (-1 cannot be inferred for an empty batch)
        columns.append(win[..., group * c_in : (group + 1) * c_in].reshape(rows, width))
        # out[r, o] = sum_j columns[r, j] W[o, j], the weight laid out as the columns are (*K, c_in)
        # (rows, c_out)
        parts.append(columns[-1] @ _weight_columns(weight[group * c_out : (group + 1) * c_out]))
    y = xp.concatenate(parts, axis=1) if groups > 1 else parts[0]
    if bias is not None:
        y += bias
    # back to (N, C_out, *O)
    y = xp.ascontiguousarray(xp.moveaxis(y.reshape((N,) + out + (weight.shape[0],)), -1, 1))
    return y, columns


def _weight_columns(weight):
    """(c_out, c_in, *K) -> (prod K * c_in, c_out): the weight as a matrix whose rows match the
    columns'."""
    return weight.reshape(weight.shape[:2] + (-1,)).transpose(2, 1, 0).reshape(-1, weight.shape[0])


def conv_backward(
    grad,
    weight,
    columns,
    input_shape,
    pads,
    stride,
    dilation,
    groups,
    padding_mode,
    input_grad=True,
):
    """(dL/dinput or None, dL/dweight, dL/dbias) from grad = dL/dout (N, C_out, *O) and the
    forward's columns."""
    xp = array_module(grad)
    dims = weight.ndim - 2
    kernel, out = weight.shape[2:], grad.shape[2:]
    c_in, c_out = weight.shape[1], weight.shape[0] // groups
    # (N * prod O, C_out)
    g_rows = xp.ascontiguousarray(xp.moveaxis(grad, 1, -1)).reshape(-1, weight.shape[0])
    grad_bias = sum_rows(g_rows)  # dL/db = g summed over the batch and every position
    grad_weight = []
    for group in range(groups):
        # dL/dW = columns^T g   (prod K * c_in, rows) @ (rows, c_out) -> back to (c_out, c_in, *K)
        dw = (columns[group].T @ g_rows[:, group * c_out : (group + 1) * c_out]).reshape(
            kernel + (c_in, c_out)
        )
        grad_weight.append(xp.moveaxis(dw, (dims + 1, dims), (0, 1)))
    grad_weight = xp.concatenate(grad_weight, axis=0) if groups > 1 else grad_weight[0]
    if not input_grad:
        return None, grad_weight, grad_bias
    # The transposed convolution: every window's gradient, g W^T, added back where the window was
    # read. Offset by offset (9 for 3x3): the positions offset k read form one strided slice, which
    # takes g W[:, :, k]^T in one product and one slice-add (2x faster than forming every window's
    # gradient first, 58 MB at 8x64x56x56, and adding those back: measured).
    N = input_shape[0]
    grad_padded = xp.zeros(
        (N,) + tuple(s + b + a for s, (b, a) in zip(input_shape[2:], pads)) + (input_shape[1],),
        dtype=grad.dtype,
    )  # (N, *S_pad, C_in): channels last, as in the forward
    for offset in _sliding.offsets(kernel):
        where = (slice(None),) + _sliding.read_by(offset, out, stride, dilation)
        for group in range(groups):
            # dL/dx[n, p * stride + k * dilation, i] += sum_o g[n, p, o] W[o, i, k]   (rows, c_out)
            # @ (c_out, c_in)
            w_k = weight[(slice(group * c_out, (group + 1) * c_out), slice(None)) + offset]
            grad_padded[where + (slice(group * c_in, (group + 1) * c_in),)] += (
                g_rows[:, group * c_out : (group + 1) * c_out] @ w_k
            ).reshape((N,) + out + (c_in,))
    return (
        _sliding.pad_adjoint(xp.moveaxis(grad_padded, -1, 1), pads, padding_mode),
        grad_weight,
        grad_bias,
    )


def check_conv(owner, input, weight, pads, stride, dilation, groups, padding_mode):
    """torch's checks, in words that say what to change; nothing is computed before they pass."""
    _validate.floating(owner, "input", input)  # an integer or complex one: NumPy's raw error
    dims = weight.ndim - 2
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {owner}, "
            f"but got input of size: {list(input.shape)}"
        )
    channels = input.shape[-dims - 1]
    if channels != weight.shape[1] * groups:
        raise ValueError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} "
            f"to have {weight.shape[1] * groups} channels, but got {channels} channels instead"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{owner} expected input of dtype {weight.dtype} (its weight's), got {input.dtype}: "
            "pass "
            f"input.astype(np.{weight.dtype}), or build the layer with dtype=np.{input.dtype}"
        )
    spatial = input.shape[-dims:]
    for d, (size, (b, a)) in enumerate(zip(spatial, pads)):
        # reflect skips the edge value; circular wraps once
        limit = size - 1 if padding_mode == "reflect" else size
        if padding_mode in ("reflect", "circular") and max(b, a) > limit:
            raise ValueError(
                f"{owner}: padding {(b, a)} with padding_mode={padding_mode!r} must be at most "
                f"{limit} "
                f"for an input of size {size} along spatial dimension {d}"
            )
    padded = tuple(s + b + a for s, (b, a) in zip(spatial, pads))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dilation))
    if any(e > p for e, p in zip(effective, padded)):
        raise ValueError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
            "size: "
            f"({' x '.join(map(str, effective))}). Kernel size can't be greater than actual input "
            "size"
        )


class _ConvNd(Module):
    """The three classes differ only in dims, the number of spatial dimensions."""

    dims = 0

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__()
        dims = self.dims
        self.in_channels = _validate.integer("in_channels", in_channels, low=1)
        self.out_channels = _validate.integer("out_channels", out_channels, low=1)
        self.groups = _validate.integer("groups", groups, low=1)
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in modes:
            raise ValueError(
                f"padding_mode must be one of {modes}, but got padding_mode='{padding_mode}'"
            )
        self.kernel_size = _tuple("kernel_size", kernel_size, dims, 1)
        self.stride = _tuple("stride", stride, dims, 1)
        self.dilation = _tuple("dilation", dilation, dims, 1)
        self.padding = padding if isinstance(padding, str) else _tuple("padding", padding, dims, 0)
        self._pads = _padding(padding, self.kernel_size, self.stride, self.dilation)
        self.padding_mode = padding_mode
        dtype = _validate.float_dtype(dtype)
        self.weight = Parameter(
            np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=dtype)
        )
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """torch's init: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)), fan_in = in_channels
        / groups * prod(kernel)."""
        generator = _validate.generator(generator)
        init.kaiming_uniform_(self.weight.data, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight.data[0].size)
            init.uniform_(self.bias.data, -bound, bound, generator)

    def forward(self, input):
        """input (N, C_in, *S) or unbatched (C_in, *S) -> (N, C_out, *O) or (C_out, *O)"""
        name = type(self).__name__
        check_conv(
            name,
            input,
            self.weight.data,
            self._pads,
            self.stride,
            self.dilation,
            self.groups,
            self.padding_mode,
        )
        batched = input if input.ndim == self.dims + 2 else input[None]  # unbatched: a batch of one
        out, columns = conv(
            batched,
            self.weight.data,
            data_of(self.bias),
            self.stride,
            self._pads,
            self.dilation,
            self.groups,
            self.padding_mode,
        )
        self.save_for_backward(columns, batched.shape, out.shape, input.ndim == self.dims + 2)
        return out if input.ndim == self.dims + 2 else out[0]

    def backward(self, grad_output, *, input_grad=True):
        """grad_output: the output's shape -> dL/dinput, the input's shape; adds dL/dweight,
        dL/dbias into .grad"""
        columns, input_shape, out_shape, batched = self.saved_tensors
        grad = self.grad_like(
            grad_output, out_shape if batched else out_shape[1:], self.weight.dtype
        )
        grad = grad if batched else grad[None]
        grad_input, grad_weight, grad_bias = conv_backward(
            grad,
            self.weight.data,
            columns,
            input_shape,
            self._pads,
            self.stride,
            self.dilation,
            self.groups,
            self.padding_mode,
            input_grad,
        )
        accumulate_grad(self.weight, grad_weight)
        if self.bias is not None:
            accumulate_grad(self.bias, grad_bias)
        if not input_grad:
            return None
        return grad_input if batched else grad_input[0]

    def extra_repr(self):
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out).
    weight (C_out, C_in / groups, K) · bias (C_out,)"""

    dims = 1


class Conv2d(_ConvNd):
    """input (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out).
    weight (C_out, C_in / groups, kH, kW)"""

    dims = 2


class Conv3d(_ConvNd):
    """input (N, C_in, D, H, W) or (C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out).
    weight (C_out, C_in / groups, kD, kH, kW)"""

    dims = 3


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d.
    input (N, C_in, L) or (C_in, L) · weight (C_out, C_in / groups, K) · bias (C_out,)"""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d.
    input (N, C_in, H, W) or (C_in, H, W) · weight (C_out, C_in / groups, kH, kW) · bias (C_out,)"""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv3d.
    input (N, C_in, D, H, W) or (C_in, D, H, W) · weight (C_out, C_in / groups, kD, kH, kW)"""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_nd(name, dims, input, weight, bias, stride, padding, dilation, groups):
    """The functional forms' shared body: padding an int, a tuple, 'valid' or 'same'; zeros padding
    only."""
    _validate.array(name, "weight", weight)
    if weight.ndim != dims + 2:
        raise ValueError(
            f"{name}: weight must have shape (C_out, C_in / groups, {', '.join(['k'] * dims)}), "
            f"got {tuple(weight.shape)}"
        )
    if bias is not None and tuple(_validate.array(name, "bias", bias).shape) != (weight.shape[0],):
        raise ValueError(
            f"{name}: bias must have shape ({weight.shape[0]},), one per output channel, got "
            f"{tuple(bias.shape)}"
        )
    for what, a in (("weight", weight), ("bias", bias)):
        if a is not None and a.dtype != input.dtype:  # torch refuses mixed dtypes too
            raise TypeError(
                f"{name}: {what} must have the input's dtype {input.dtype}, got {a.dtype}: pass "
                f"{what}.astype(np.{input.dtype})"
            )
    groups = _validate.integer("groups", groups, low=1)
    kernel, stride, dilation = (
        weight.shape[2:],
        _tuple("stride", stride, dims, 1),
        _tuple("dilation", dilation, dims, 1),
    )
    pads = _padding(padding, kernel, stride, dilation)
    check_conv(name, input, weight, pads, stride, dilation, groups, "zeros")
    batched = input if input.ndim == dims + 2 else input[None]
    out = conv(batched, weight, bias, stride, pads, dilation, groups)[0]
    return out if input.ndim == dims + 2 else out[0]
