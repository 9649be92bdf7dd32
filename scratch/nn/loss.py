"""Losses: MSELoss, BCEWithLogitsLoss, CrossEntropyLoss. Twins of torch.nn's.

`loss = criterion(input, target)`, then `criterion.backward()` returns d loss / d input (and for
reduction='none', `criterion.backward(grad_output)` with grad_output the loss's shape). Targets get
no gradient here. The gradient has the input's dtype even where the loss was promoted (a float32
input against a float64 target gives a float64 loss, as in torch, and a float32 gradient).
"""

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn.activation import log_softmax, sigmoid
from scratch.nn.module import Module

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
    """`array` (or None) must broadcast to `shape` without enlarging it: a (n,) weight against (n,
    1) logits would otherwise turn n losses into n^2. torch refuses it too."""
    if array is not None and not _validate.broadcasts_to(array.shape, shape):
        raise ValueError(
            f"{name} of shape {tuple(array.shape)} must broadcast to the input's shape "
            f"{tuple(shape)}"
        )


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
    diff = input - target
    # diff * diff, not diff ** 2: on a 0-d input NumPy's scalar pow() can differ from a product by
    # an ulp, and the product is what CuPy (and torch) compute
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """-[p y log s(x) + (1 - y) log(1 - s(x))] * w, s = sigmoid, p = pos_weight.
    input (*) · target (*)

    Written as (1 - y) x + (1 + (p - 1) y) softplus(-x), with softplus(-x) = log(1 + e^-|x|) +
    max(-x, 0), the form torch uses: it never takes the log of a sigmoid that has rounded to 0 or 1.
    weight broadcasts to input's shape; pos_weight to its last dimension (one per class). The loss
    has the target's dtype, as torch's kernel makes it (a float64 input against float32 targets
    gives a float32 loss; the gradient is float64, the input's).
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
    # torch refuses: the loss would have to be cast to the target's dtype
    if target.dtype.kind != "f":
        raise TypeError(
            f"binary_cross_entropy_with_logits: target must be floating point (probabilities), got "
            f"{target.dtype} (torch: \"result type Float can't be cast to the desired output type "
            'Long"): '
            f"pass target.astype(input.dtype)"
        )
    _check_same_shape(input, target)
    for name, factor in (("weight", weight), ("pos_weight", pos_weight)):
        _check_broadcasts_to(name, factor, input.shape)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
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
    weighted_target, denominator = _weighted_target(
        input, target, weight, ignore_index, label_smoothing
    )
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
    """(N, d...) -> (N, 1, d...): a length-1 class axis, so the array broadcasts against (N, C,
    d...)."""
    return a.reshape(a.shape[:class_dim] + (1,) + a.shape[class_dim:])


def _check_cross_entropy(input, target, weight, ignore_index, label_smoothing):
    """Every way cross_entropy's arguments can be wrong, each refused in words before any math."""
    _loss_arrays("cross_entropy", input, target)
    if input.ndim == 0:
        raise ValueError(
            "cross_entropy input must have a class dimension: (C,), (N, C) or (N, C, d1, ...)"
        )
    class_dim = 1 if input.ndim > 1 else 0
    C = input.shape[class_dim]
    index_shape = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if weight is not None:
        _validate.array("cross_entropy", "weight", weight)
        if weight.shape != (C,):
            raise ValueError(
                f"weight must have shape ({C},), one per class, got {tuple(weight.shape)}"
            )
        if weight.dtype != input.dtype:  # torch: "expected scalar type Float but found Double"
            raise TypeError(
                f"cross_entropy weight must have the input's dtype {input.dtype}, got "
                f"{weight.dtype}: "
                f"pass weight.astype(np.{input.dtype})"
            )
    if target.dtype.kind == "f":
        # indices, written as floats
        if target.shape == index_shape and target.shape != input.shape:
            raise TypeError(
                f"cross_entropy target of shape {tuple(target.shape)} holds class indices, which "
                "must be "
                f"integers, got {target.dtype}: pass target.astype(np.int64)"
            )
        _check_same_shape(input, target, "input (class probabilities)")
        if ignore_index != -100:  # torch refuses it too: there is no class index to compare
            raise ValueError(
                "ignore_index is not supported for class-probability targets, got "
                f"ignore_index={ignore_index}"
            )
        return
    if target.dtype.kind not in "iu":
        raise TypeError(
            "cross_entropy target must be class indices (integers) or probabilities (floats), got "
            f"{target.dtype}"
        )
    if target.shape != index_shape:
        raise ValueError(
            f"class-index target must have shape {index_shape} for input {tuple(input.shape)}, got "
            f"{tuple(target.shape)}"
        )
    bad = (target != ignore_index) & ((target < 0) | (target >= C))
    if bad.any():
        raise ValueError(
            f"Target {int(target[bad].reshape(-1)[0])} is out of bounds: class indices must be in "
            f"[0, {C}) or ignore_index={ignore_index}"
        )


def _weighted_target(input, target, weight, ignore_index, label_smoothing):
    """(weighted_target, denominator): input's shape, so that loss_n = -sum_c weighted_target[n, c]
    log p[n, c]; and the denominator of reduction='mean'. With plain class indices (no weight, no
    smoothing) it is the one-hot of y, and the gradient is the one everyone remembers: softmax(x) -
    one_hot(y)."""
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
    # the nll part: w[y_n] at y_n
    weighted_target = one_hot * _class_axis((1 - label_smoothing) * w_y, class_dim)
    if label_smoothing:  # the smoothing part: (e / C) w_c at every class of a kept position
        weighted_target = weighted_target + (label_smoothing / C) * w_c * _class_axis(
            keep, class_dim
        )
    denominator = w_y.sum()  # sum of w[y_n] over the positions kept
    return weighted_target.astype(input.dtype, copy=False), denominator


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        _unsupported(size_average=size_average, reduce=reduce)
        _check_reduction(reduction)
        self.reduction = reduction

    def _scale(self, grad_output, loss_shape):
        """d total / d loss-element before the mean's division: grad_output, or 1 for a scalar
        loss."""
        if self.reduction == "none":
            if grad_output is None or np.shape(grad_output) != loss_shape:
                raise ValueError(
                    "with reduction='none', backward needs grad_output of the loss's shape "
                    f"{loss_shape}"
                )
            return grad_output
        g = 1.0 if grad_output is None else grad_output
        if np.ndim(g) != 0:
            raise ValueError(
                f"the loss is a scalar, so grad_output must be one, got shape {np.shape(g)}"
            )
        return g


class MSELoss(_Loss):
    """mean/sum/none of (x - y)^2.   input (*) · target (*) -> () or (*)"""

    def forward(self, input, target):
        loss = mse_loss(input, target, reduction=self.reduction)
        self.save_for_backward(input, target)
        return loss

    def backward(self, grad_output=None, *, input_grad=True):
        x, y = self.saved_tensors
        g = self._scale(grad_output, x.shape)
        if not input_grad:
            return None
        n = x.size if self.reduction == "mean" else 1
        grad = g * 2 * (x - y) / n  # d/dx (x - y)^2 = 2 (x - y)
        return grad.astype(x.dtype, copy=False)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step.
    input (*) · target (*) of probabilities"""

    def __init__(
        self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
    ):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.pos_weight = weight, pos_weight  # torch registers these as buffers
        if weight is not None:
            self.register_buffer("weight", weight)
        if pos_weight is not None:
            self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        loss = binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )
        self.save_for_backward(input, target)
        return loss

    def backward(self, grad_output=None, *, input_grad=True):
        x, y = self.saved_tensors
        g = self._scale(grad_output, x.shape)
        if not input_grad:
            return None
        # l = (1 - y) x + lw * softplus(-x), lw = 1 + (p - 1) y  =>  dl/dx = (1 - y) - lw *
        # sigmoid(-x)
        log_weight = 1 + (self.pos_weight - 1) * y if self.pos_weight is not None else 1
        grad = (1 - y) - log_weight * sigmoid(-x)
        if self.weight is not None:
            # the weight multiplies each element's loss, so its derivative too
            grad = grad * self.weight
        n = x.size if self.reduction == "mean" else 1
        return (g * grad / n).astype(x.dtype, copy=False)


class CrossEntropyLoss(_Loss):
    """log_softmax + negative log-likelihood.
    input (C,), (N, C), (N, C, d...) · target indices or probabilities

    See scratch.nn.functional.cross_entropy for the shapes and torch's normalisation of 'mean'.
    """

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index=-100,
        reduce=None,
        reduction="mean",
        label_smoothing=0.0,
    ):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing
        if weight is not None:
            self.register_buffer("weight", weight)

    def forward(self, input, target):
        loss, weighted_target, denominator, logp = _cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )
        self.save_for_backward(input, weighted_target, denominator, logp)  # all that backward needs
        return loss

    def backward(self, grad_output=None, *, input_grad=True):
        x, weighted_target, denominator, logp = self.saved_tensors
        class_dim = 1 if x.ndim > 1 else 0
        g = self._scale(grad_output, x.shape[:class_dim] + x.shape[class_dim + 1 :])
        if not input_grad:
            return None
        if self.reduction == "none":
            g = _class_axis(g, class_dim)
        elif self.reduction == "mean":
            # every target ignored: the loss is 0/0 = nan (as torch's), but a zero target makes the
            # gradient 0 (as torch's)
            g = g / denominator if denominator != 0 else 0.0 * g
        # l = -sum_c T_c log p_c, T = weighted_target  =>  dl/dx_j = p_j * sum_c T_c - T_j;
        # for a plain class index (T = one_hot(y)) that is the line everyone remembers: p -
        # one_hot(y)
        p = array_module(x).exp(logp)
        grad = g * (p * weighted_target.sum(axis=class_dim, keepdims=True) - weighted_target)
        return grad.astype(x.dtype, copy=False)
