"""Normalisation: BatchNorm1d, BatchNorm2d, BatchNorm3d and LayerNorm. Twins of torch.nn's.

Both normalise x to zero mean and unit variance over some axes, then scale and shift:

    x_hat = (x - mean) / sqrt(var + eps),    y = weight * x_hat + bias

BatchNorm takes mean and var over the batch and every spatial position, one pair per channel
(axis 1), and keeps running averages of them for evaluation; LayerNorm takes them over each
sample's last dimensions. The variance that normalises is the biased one (divided by m, the
number of values averaged); the running variance is updated with the unbiased one (by m - 1), as
torch does. Both are two-pass (the mean first, then the mean of squared deviations), so an input
of 1e6 plus small noise keeps its noise.

The backward, for the axes a statistic was taken over (m values), with g_hat = dL/dx_hat = g *
weight:

    dL/dx = (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) / sqrt(var + eps)

The two subtracted means are the gradient's paths through the mean and through the variance
(derivation below, in _BatchNorm.backward). In eval mode, with the running statistics, mean and var
are constants and y is an affine map of x: dL/dx = g_hat / sqrt(running_var + eps).
"""

import math
import numbers

import numpy as np

from scratch import _validate
from scratch._backend import array_module, sum_rows
from scratch.nn import _atomic
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad, data_of


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """Normalise each channel.
    input (N, C, *) · running_mean, running_var (C,) or None · weight, bias (C,)

    training (or no running statistics): the batch's mean and biased variance per channel, and the
    running ones, if given, move towards them in place: r <- momentum * batch + (1 - momentum) * r,
    with the unbiased variance (torch's update, in its order of operations). Otherwise the running
    ones.
    """
    _validate.floating("batch_norm", "input", input)
    if input.ndim < 2 and input.size == 0:  # torch's result for an empty 1-d input: itself, empty
        return input.copy()
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C, *), got {tuple(input.shape)}")
    for name, a in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if a is not None and tuple(_validate.array("batch_norm", name, a).shape) != (
            input.shape[1],
        ):
            raise ValueError(
                f"batch_norm: {name} must have shape ({input.shape[1]},), one per channel, got "
                f"{tuple(a.shape)}"
            )
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: pass both running_mean and running_var, or neither")
    use_batch = training or running_mean is None
    return _batch_norm(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        use_batch,
        momentum if training else 0.0,
        eps,
    )[0]


def _batch_norm(input, running_mean, running_var, weight, bias, use_batch, factor, eps):
    """(y, x_hat, inv_std): the output and what the backward needs; the running statistics move by
    `factor`."""
    xp = array_module(input)
    axes = (0,) + tuple(range(2, input.ndim))  # every axis but the channels'
    per_channel = (1, -1) + (1,) * (input.ndim - 2)
    if input.size == 0:  # an empty batch: nothing to normalise, the running statistics stay (torch)
        return input.copy(), input.copy(), xp.ones(input.shape[1], input.dtype).reshape(per_channel)
    if use_batch:
        mean = input.mean(axis=axes, keepdims=True)
        centred = input - mean
        # two-pass (the noise on a large offset survives): var = mean((x - mean)^2) per channel,
        # the square and its sum in one pass (einsum)
        m = input.size // input.shape[1]
        var = _channel_dot(centred, centred).reshape(per_channel) / m
        if running_mean is not None and factor:
            _atomic.remember_array(running_mean)  # a call that fails later puts them back
            _atomic.remember_array(running_var)
            running_mean[...] = factor * mean.reshape(-1) + (1 - factor) * running_mean
            # unbiased
            running_var[...] = (
                factor * (var.reshape(-1) * (m / (m - 1))) + (1 - factor) * running_var
            )
    else:
        centred = input - running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = centred
    x_hat *= inv_std  # x_hat = (x - mean) / sqrt(var + eps), in place of the centred copy
    return _affine(x_hat, weight, bias, per_channel), x_hat, inv_std


def _affine(x_hat, weight, bias, shape):
    """y = weight * x_hat + bias, either left out where None; the bias added in place."""
    if weight is None:
        return x_hat + bias.reshape(shape) if bias is not None else x_hat
    y = x_hat * weight.reshape(shape)
    if bias is not None:
        y += bias.reshape(shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last len(normalized_shape) dimensions.
    input (*, *normalized_shape)"""
    _validate.array("layer_norm", "input", input)
    normalized_shape = (
        tuple(normalized_shape) if not isinstance(normalized_shape, int) else (normalized_shape,)
    )
    if tuple(
        input.shape[input.ndim - len(normalized_shape) :]
    ) != normalized_shape or input.ndim < len(normalized_shape):
        raise ValueError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size "
            f"{tuple(input.shape)}"
        )
    for name, a in (("weight", weight), ("bias", bias)):
        if (
            a is not None
            and tuple(_validate.array("layer_norm", name, a).shape) != normalized_shape
        ):
            raise ValueError(
                f"layer_norm: {name} must have normalized_shape {normalized_shape}, got "
                f"{tuple(a.shape)}"
            )
    return _layer_norm(input, normalized_shape, weight, bias, eps)[0]


def _layer_norm(input, normalized_shape, weight, bias, eps):
    """(y, x_hat, inv_std): the output and what the backward needs."""
    xp = array_module(input)
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    x_hat = input - mean  # centred here, normalised in place below
    # var = mean((x - mean)^2) over each sample's axes, the square and its sum in one pass
    rows = x_hat.reshape(-1, math.prod(normalized_shape))
    var = xp.einsum("nd,nd->n", rows, rows).reshape(mean.shape) / rows.shape[1]
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat *= inv_std  # x_hat = (x - mean) / sqrt(var + eps)
    return _affine(x_hat, weight, bias, normalized_shape), x_hat, inv_std


class _BatchNorm(Module):
    """One implementation for the three: they differ only in the input ranks they take."""

    _ranks = ()  # the input ranks torch accepts for the class

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        *,
        bias=True,
        dtype=np.float32,
    ):
        super().__init__()
        self.num_features = _validate.integer("num_features", num_features, low=1)
        self.eps = _validate.real_number("eps", eps, low=0.0, low_open=True)
        self.momentum = (
            None
            if momentum is None
            else _validate.real_number("momentum", momentum, low=0.0, high=1.0)
        )
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = _validate.float_dtype(dtype)
        self.dtype = dtype
        # gamma, torch's init
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if self.affine else None
        # beta
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if self.affine and bias else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, input):
        """input (N, C, *) -> (N, C, *), normalised per channel C"""
        self._check_input(input)
        # how far this batch moves the running averages (torch's exponential_average_factor)
        factor = 0.0
        if self.training and self.track_running_stats:
            _atomic.remember_array(self.num_batches_tracked)
            self.num_batches_tracked += 1
            # None: the plain mean
            factor = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        # eval without running stats: the batch's
        batch_stats = self.training or not self.track_running_stats
        y, x_hat, inv_std = _batch_norm(
            input,
            self.running_mean,
            self.running_var,
            data_of(self.weight),
            data_of(self.bias),
            batch_stats,
            factor,
            self.eps,
        )
        self.save_for_backward(x_hat, inv_std, batch_stats)
        return y

    def backward(self, grad_output, *, input_grad=True):
        """grad_output (N, C, *) -> grad_input (N, C, *); adds dL/dweight (C,) and dL/dbias (C,)
        into .grad"""
        x_hat, inv_std, batch_stats = self.saved_tensors
        g = self.grad_like(grad_output, x_hat.shape, x_hat.dtype)
        axes = _channel_axes(x_hat.ndim)  # every axis but the channels'
        # y = weight * x_hat + bias  =>  dL/dweight = sum g x_hat,  dL/dbias = sum g   (over axes)
        sum_g = g.sum(axis=axes)  # (C,)
        sum_g_x_hat = _channel_dot(g, x_hat)  # the product and its sum in one pass
        if self.weight is not None:
            accumulate_grad(self.weight, sum_g_x_hat)
        if self.bias is not None:
            accumulate_grad(self.bias, sum_g)
        if not input_grad:
            return None
        # dL/dx_hat = g_hat = g * weight; x_hat = (x - mean) * inv_std, so in eval mode (running
        # statistics: constants) dL/dx = g_hat * inv_std
        scale = inv_std.reshape(-1) * (self.weight.data if self.weight is not None else 1)
        grad_input = g * _per_channel(scale, g.ndim)
        if not batch_stats or x_hat.size == 0:
            # (an empty batch has nothing to average: its gradient is empty too)
            return grad_input
        # x_hat = (x - mu) s, s = (var + eps)^-1/2, with mu = mean(x), var = mean((x - mu)^2) over m
        # values:
        #   dx_hat_j/dx_i = s (delta_ij - 1/m) - x_hat_j x_hat_i s / m
        # (the first term through x and mu, the second through var), so summing g_hat_j over j:
        #   dL/dx_i = s (g_hat_i - mean(g_hat) - x_hat_i mean(g_hat x_hat))
        # where mean(g_hat) = weight sum_g / m and mean(g_hat x_hat) = weight sum_g_x_hat / m:
        # the weight's sums, reused
        m = x_hat.size // x_hat.shape[1]
        grad_input -= _per_channel(scale * sum_g / m, g.ndim)
        grad_input -= x_hat * _per_channel(scale * sum_g_x_hat / m, g.ndim)
        return grad_input

    def _check_input(self, input):
        """torch's rank check in torch's words, then the channels, the dtype, and training's need
        for two values."""
        name = type(self).__name__
        _validate.array(name, "input", input)
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{name}: expected {ranks} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{name} expected input with {self.num_features} channels (num_features) at dim 1, "
                f"got shape {tuple(input.shape)}"
            )
        if input.dtype != self.dtype:
            raise TypeError(
                f"{name} expected input of dtype {self.dtype} (its own), got {input.dtype}: pass "
                f"input.astype(np.{self.dtype}), or build it with dtype=np.{input.dtype}"
            )
        # a variance of one value is 0/0 for the unbiased one
        if self.training and input.size // input.shape[1] == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{tuple(input.shape)}"
            )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """input (N, C) or (N, C, L) -> the same shape, normalised per channel over N (and L)"""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """input (N, C, H, W) -> the same shape, normalised per channel over N, H, W"""

    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """input (N, C, D, H, W) -> the same shape, normalised per channel over N, D, H, W"""

    _ranks = (5,)


class LayerNorm(Module):
    """input (*, *normalized_shape) -> the same shape, normalised per sample over the last
    dimensions.

    weight, bias: normalized_shape (ones and zeros, torch's init); bias=False leaves the shift out.
    """

    def __init__(
        self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=np.float32
    ):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(
            _validate.integer("normalized_shape", n, low=1) for n in normalized_shape
        )
        if not self.normalized_shape:
            raise ValueError("normalized_shape must name at least one dimension, got ()")
        self.eps = _validate.real_number("eps", eps, low=0.0, low_open=True)
        self.elementwise_affine = bool(elementwise_affine)
        self.dtype = _validate.float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=self.dtype))
            self.bias = (
                Parameter(np.zeros(self.normalized_shape, dtype=self.dtype)) if bias else None
            )
        else:
            self.weight = self.bias = None

    def forward(self, input):
        """input (*, *normalized_shape) -> the same shape"""
        _validate.layer_input("LayerNorm", input, self.normalized_shape, self.dtype)
        y, x_hat, inv_std = _layer_norm(
            input, self.normalized_shape, data_of(self.weight), data_of(self.bias), self.eps
        )
        self.save_for_backward(x_hat, inv_std)
        return y

    def backward(self, grad_output, *, input_grad=True):
        """grad_output (*, *normalized_shape) -> grad_input, the same shape; adds dL/dweight,
        dL/dbias (normalized_shape)"""
        x_hat, inv_std = self.saved_tensors
        g = self.grad_like(grad_output, x_hat.shape, x_hat.dtype)
        xp = array_module(g)
        D = math.prod(self.normalized_shape)
        g_rows, x_hat_rows = g.reshape(-1, D), x_hat.reshape(-1, D)
        # y = weight * x_hat + bias  =>  dL/dweight = sum over the batch of g x_hat (the product
        # and its sum in one pass), dL/dbias = sum g
        if self.weight is not None:
            grad_weight = xp.einsum("nd,nd->d", g_rows, x_hat_rows)
            accumulate_grad(self.weight, grad_weight.reshape(self.normalized_shape))
        if self.bias is not None:
            accumulate_grad(self.bias, sum_rows(g_rows).reshape(self.normalized_shape))
        if not input_grad:
            return None
        g_hat = g * self.weight.data if self.weight is not None else g.copy()  # dL/dx_hat
        # the same derivation as batch norm's, over each sample's normalised axes (see the module
        # docstring):  dL/dx = inv_std (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat))
        mean_g_hat = g_hat.reshape(-1, D).mean(axis=1)
        mean_g_hat_x_hat = xp.einsum("nd,nd->n", g_hat.reshape(-1, D), x_hat_rows) / D
        grad_input = g_hat  # in place, term by term
        grad_input -= mean_g_hat.reshape(inv_std.shape)
        grad_input -= x_hat * mean_g_hat_x_hat.reshape(inv_std.shape)
        grad_input *= inv_std
        return grad_input

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


def _channel_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _channel_dot(a, b):
    """sum of a * b over every axis but the channels' (N, C, *) -> (C,), in one pass (einsum)."""
    axes = "nc" + "xyz"[: a.ndim - 2]
    return array_module(a).einsum(f"{axes},{axes}->c", a, b)


def _per_channel(a, ndim):
    """(C,) -> (1, C, 1, ...): broadcasts along the channel axis of an (N, C, *) array."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))
