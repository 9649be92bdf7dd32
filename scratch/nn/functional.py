"""Twins of torch.nn.functional's forward functions: the same signatures and defaults.

Only forward passes live here; each layer module (activation.py, loss.py) pairs its forward with
the backward written beside it. An option torch has and this file does not support raises
NotImplementedError naming it — never a silent difference.

Where this is stricter than torch: a loss whose input and target shapes differ raises instead of
broadcasting ((n,) against (n, 1) would become (n, n) — torch only warns), and class indices out
of range raise a ValueError naming the offender.
"""
import numpy as np

from scratch import _validate
from scratch._backend import array_module

REDUCTIONS = ("none", "mean", "sum")


def _unsupported(**options):
    for name, value in options.items():
        if value is not None:
            raise NotImplementedError(f"{name}={value!r} is not supported by scratch.nn.functional")


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(input, target, what="input"):
    if input.shape != target.shape:
        raise ValueError(
            f"target shape {tuple(target.shape)} must equal {what} shape {tuple(input.shape)} "
            "(broadcasting them, as (n,) against (n, 1) -> (n, n), is the classic silent bug)"
        )


def _check_broadcasts_to(name, array, shape):
    """`array` (or None) must broadcast to `shape` without enlarging it: a (n,) weight against (n, 1)
    logits would otherwise turn n losses into n^2. torch refuses it too."""
    if array is None:
        return
    try:
        fits = np.broadcast_shapes(array.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} of shape {tuple(array.shape)} must broadcast to the input's shape {tuple(shape)}")


# --- layers and activations


def linear(input, weight, bias=None):
    """y = x W^T + b.   input (*, in) · weight (out, in) · bias (out,) -> (*, out)"""
    out = input @ weight.T
    if bias is not None:
        out += bias  # in place: out is a new array, and a second temporary costs a pass over it
    return out


def relu(input, inplace=False):
    """max(x, 0), elementwise; NaN stays NaN, as in torch."""
    if inplace:
        raise NotImplementedError("inplace=True is not supported by scratch.nn.functional.relu")
    return array_module(input).maximum(input, 0)  # maximum propagates NaN


def sigmoid(input):
    """1 / (1 + e^-x), computed without overflow: e^-|x| never exceeds 1."""
    xp = array_module(input)
    e = xp.exp(-xp.abs(input))
    return xp.where(input >= 0, 1 / (1 + e), e / (1 + e))


def tanh(input):
    return array_module(input).tanh(input)


def _implicit_dim(name, dim):
    if dim is None:
        raise NotImplementedError(f"{name}: dim=None (torch's deprecated implicit choice of dim) is not supported: pass dim")


def _cast(input, dtype):
    return input if dtype is None else input.astype(dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim: shifting by the max first keeps exp from overflowing."""
    _implicit_dim("log_softmax", dim)
    input = _cast(input, dtype)
    xp = array_module(input)
    shifted = input - input.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """e^x / sum(e^x) along dim, shifted by the max (the ratio is unchanged, exp cannot overflow)."""
    _implicit_dim("softmax", dim)
    input = _cast(input, dtype)
    xp = array_module(input)
    e = xp.exp(input - input.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


# --- normalisation


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel.   input (N, C, *) · running_mean, running_var (C,) or None · weight, bias (C,)

    training (or no running statistics): the batch's mean and biased variance per channel, and the
    running ones, if given, move towards them in place: r <- momentum * batch + (1 - momentum) * r,
    with the unbiased variance (torch's update, in its order of operations). Otherwise the running ones.
    """
    _validate.array("batch_norm", "input", input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C, *), got {tuple(input.shape)}")
    for name, a in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if a is not None and tuple(_validate.array("batch_norm", name, a).shape) != (input.shape[1],):
            raise ValueError(f"batch_norm: {name} must have shape ({input.shape[1]},), one per channel, got {tuple(a.shape)}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: pass both running_mean and running_var, or neither")
    use_batch = training or running_mean is None
    return _batch_norm(input, running_mean, running_var, weight, bias, use_batch, momentum if training else 0.0, eps)[0]


def _batch_norm(input, running_mean, running_var, weight, bias, use_batch, factor, eps):
    """(y, x_hat, inv_std): the output and what the backward needs; the running statistics move by `factor`."""
    xp = array_module(input)
    axes = (0,) + tuple(range(2, input.ndim))  # every axis but the channels'
    per_channel = (1, -1) + (1,) * (input.ndim - 2)
    if use_batch:
        mean = input.mean(axis=axes, keepdims=True)
        centred = input - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)  # two-pass: the noise on a large offset survives
        if running_mean is not None and factor:
            m = input.size // input.shape[1]
            running_mean[...] = factor * mean.reshape(-1) + (1 - factor) * running_mean
            running_var[...] = factor * (var.reshape(-1) * (m / (m - 1))) + (1 - factor) * running_var  # unbiased
    else:
        centred = input - running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = centred * inv_std
    y = x_hat * weight.reshape(per_channel) if weight is not None else x_hat
    return (y + bias.reshape(per_channel) if bias is not None else y), x_hat, inv_std


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last len(normalized_shape) dimensions.   input (*, *normalized_shape)"""
    _validate.array("layer_norm", "input", input)
    normalized_shape = tuple(normalized_shape) if not isinstance(normalized_shape, int) else (normalized_shape,)
    if tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape or input.ndim < len(normalized_shape):
        raise ValueError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                         f"[*, {', '.join(map(str, normalized_shape))}], but got input of size {tuple(input.shape)}")
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None and tuple(_validate.array("layer_norm", name, a).shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} must have normalized_shape {normalized_shape}, got {tuple(a.shape)}")
    return _layer_norm(input, normalized_shape, weight, bias, eps)[0]


def _layer_norm(input, normalized_shape, weight, bias, eps):
    """(y, x_hat, inv_std): the output and what the backward needs."""
    xp = array_module(input)
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    centred = input - mean
    inv_std = 1 / xp.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
    x_hat = centred * inv_std
    y = x_hat * weight if weight is not None else x_hat
    return (y + bias if bias is not None else y), x_hat, inv_std


# --- losses


def _loss_arrays(owner, input, target):
    """input and target must be arrays (torch's losses refuse lists and numbers too)."""
    _validate.array(owner, "input", input)
    _validate.array(owner, "target", target)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(x - y)^2, reduced.   input (*) · target (*), the same shape"""
    _unsupported(size_average=size_average, reduce=reduce, weight=weight)
    _check_reduction(reduction)
    _loss_arrays("mse_loss", input, target)
    _check_same_shape(input, target)
    return _reduce((input - target) ** 2, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """-[p y log s(x) + (1 - y) log(1 - s(x))] * w, s = sigmoid, p = pos_weight.   input (*) · target (*)

    Written as (1 - y) x + (1 + (p - 1) y) softplus(-x), with softplus(-x) = log(1 + e^-|x|) + max(-x, 0),
    the form torch uses: it never takes the log of a sigmoid that has rounded to 0 or 1.
    weight broadcasts to input's shape; pos_weight to its last dimension (one per class).
    The loss has the target's dtype, as torch's kernel makes it (a float64 input against float32
    targets gives a float32 loss; the gradient is float64, the input's).
    """
    _unsupported(size_average=size_average, reduce=reduce)
    _check_reduction(reduction)
    _check_binary_cross_entropy(input, target, weight, pos_weight)
    xp = array_module(input)
    softplus_neg = xp.log1p(xp.exp(-xp.abs(input))) + xp.maximum(-input, 0)  # -log s(x)
    log_weight = 1 + (pos_weight - 1) * target if pos_weight is not None else 1
    loss = (1 - target) * input + log_weight * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction).astype(target.dtype, copy=False)


def _check_binary_cross_entropy(input, target, weight, pos_weight):
    _loss_arrays("binary_cross_entropy_with_logits", input, target)
    if target.dtype.kind != "f":  # torch refuses: the loss would have to be cast to the target's dtype
        raise TypeError(f"binary_cross_entropy_with_logits: target must be floating point (probabilities), got "
                        f"{target.dtype} (torch: \"result type Float can't be cast to the desired output type Long\"): "
                        f"pass target.astype(input.dtype)")
    _check_same_shape(input, target)
    for name, factor in (("weight", weight), ("pos_weight", pos_weight)):
        _check_broadcasts_to(name, factor, input.shape)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy over classes.   input (C,), (N, C) or (N, C, d1, ...); target either

    class indices — () , (N,) or (N, d1, ...), integers in [0, C) or ignore_index — or class
    probabilities — input's shape, floating point. The loss and its normalisation follow torch
    (docs of torch.nn.CrossEntropyLoss):
      indices:       l_n = -w[y_n] log p[n, y_n];  mean = sum l_n / sum of w[y_n] over kept n
      probabilities: l_n = -sum_c w_c q[n, c] log p[n, c];  mean = sum l_n / N
      label_smoothing e: indices mix in  (e / C) * (-sum_c w_c log p[n, c]), same denominator;
                         probabilities become q (1 - e) + e / C.
    """
    _unsupported(size_average=size_average, reduce=reduce)
    _check_reduction(reduction)
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)[0]


def _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    """The loss, plus what its gradient needs: (loss, weighted_target, denominator, log p).

    Every case above is one formula, loss_n = -sum_c weighted_target[n, c] log p[n, c], so the
    gradient is one formula too (CrossEntropyLoss.backward).
    """
    _check_cross_entropy(input, target, weight, ignore_index, label_smoothing)
    weighted_target, denominator = _weighted_target(input, target, weight, ignore_index, label_smoothing)
    class_dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, dim=class_dim)
    xp = array_module(input)
    loss = -(weighted_target * logp).sum(axis=class_dim)  # (N, d1, ...) or ()
    if reduction == "mean":
        if denominator == 0:  # every target ignored: 0/0 = nan, as torch (without NumPy's warning)
            loss = loss.sum() * xp.nan
        else:
            loss = loss.sum() / denominator
    elif reduction == "sum":
        loss = loss.sum()
    return loss, weighted_target, denominator, logp


def _class_axis(a, class_dim):
    """(N, d...) -> (N, 1, d...): a length-1 class axis, so the array broadcasts against (N, C, d...)."""
    return a.reshape(a.shape[:class_dim] + (1,) + a.shape[class_dim:])


def _check_cross_entropy(input, target, weight, ignore_index, label_smoothing):
    """Every way cross_entropy's arguments can be wrong, each refused in words before any math."""
    _loss_arrays("cross_entropy", input, target)
    if input.ndim == 0:
        raise ValueError("cross_entropy input must have a class dimension: (C,), (N, C) or (N, C, d1, ...)")
    class_dim = 1 if input.ndim > 1 else 0
    C = input.shape[class_dim]
    index_shape = input.shape[:class_dim] + input.shape[class_dim + 1:]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if weight is not None:
        _validate.array("cross_entropy", "weight", weight)
        if weight.shape != (C,):
            raise ValueError(f"weight must have shape ({C},), one per class, got {tuple(weight.shape)}")
        if weight.dtype != input.dtype:  # torch: "expected scalar type Float but found Double"
            raise TypeError(f"cross_entropy weight must have the input's dtype {input.dtype}, got {weight.dtype}: "
                            f"pass weight.astype(np.{input.dtype})")
    if target.dtype.kind == "f":
        if target.shape == index_shape and target.shape != input.shape:  # indices, written as floats
            raise TypeError(f"cross_entropy target of shape {tuple(target.shape)} holds class indices, which must be "
                            f"integers, got {target.dtype}: pass target.astype(np.int64)")
        _check_same_shape(input, target, "input (class probabilities)")
        if ignore_index != -100:  # torch refuses it too: there is no class index to compare
            raise ValueError(f"ignore_index is not supported for class-probability targets, got ignore_index={ignore_index}")
        return
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy target must be class indices (integers) or probabilities (floats), got {target.dtype}")
    if target.shape != index_shape:
        raise ValueError(f"class-index target must have shape {index_shape} for input {tuple(input.shape)}, got {tuple(target.shape)}")
    bad = (target != ignore_index) & ((target < 0) | (target >= C))
    if bad.any():
        raise ValueError(f"Target {int(target[bad].reshape(-1)[0])} is out of bounds: class indices must be in [0, {C}) or ignore_index={ignore_index}")


def _weighted_target(input, target, weight, ignore_index, label_smoothing):
    """(weighted_target, denominator): input's shape, so that loss_n = -sum_c weighted_target[n, c] log p[n, c];
    and the denominator of reduction='mean'. With plain class indices (no weight, no smoothing) it is
    the one-hot of y, and the gradient is the one everyone remembers: softmax(x) - one_hot(y)."""
    xp = array_module(input)
    class_dim = 1 if input.ndim > 1 else 0
    C = input.shape[class_dim]
    w = weight if weight is not None else xp.ones(C, dtype=input.dtype)
    w_c = w.reshape((C,) + (1,) * (input.ndim - class_dim - 1))  # w along the class dim

    if target.dtype.kind == "f":  # class probabilities q
        q = target * (1 - label_smoothing) + label_smoothing / C if label_smoothing else target
        return w_c * q, input.size // C  # mean divides by N (times d1 ...), whatever the weights

    keep = target != ignore_index
    safe = xp.where(keep, target, 0)  # ignored positions point at class 0, then get weight 0
    w_y = w[safe] * keep  # w[y_n] where kept, 0 where ignored   (N, d...)
    classes = xp.arange(C).reshape((C,) + (1,) * (input.ndim - class_dim - 1))
    one_hot = classes == _class_axis(safe, class_dim)  # (N, C, d...): True at y_n
    weighted_target = one_hot * _class_axis((1 - label_smoothing) * w_y, class_dim)  # the nll part: w[y_n] at y_n
    if label_smoothing:  # the smoothing part: (e / C) w_c at every class of a kept position
        weighted_target = weighted_target + (label_smoothing / C) * w_c * _class_axis(keep, class_dim)
    denominator = w_y.sum()  # sum of w[y_n] over the positions kept
    return weighted_target.astype(input.dtype, copy=False), denominator


# --- convolution and pooling: their forwards live beside their backwards (conv.py, pooling.py)

from scratch.nn.conv import conv1d, conv2d, conv3d  # noqa: E402
from scratch.nn.pooling import (  # noqa: E402
    avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d,
)
