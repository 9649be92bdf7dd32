"""Losses: MSELoss, BCEWithLogitsLoss, CrossEntropyLoss. Twins of torch.nn's.

`loss = criterion(input, target)`, then `criterion.backward()` returns d loss / d input (and for
reduction='none', `criterion.backward(grad_output)` with grad_output the loss's shape). Targets get
no gradient here. The gradient has the input's dtype even where the loss was promoted (a float32
input against a float64 target gives a float64 loss, as in torch, and a float32 gradient).
"""
import numpy as np

from scratch._backend import array_module
from scratch.nn import functional as F
from scratch.nn.module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        F._unsupported(size_average=size_average, reduce=reduce)
        F._check_reduction(reduction)
        self.reduction = reduction

    def _scale(self, grad_output, loss_shape):
        """d total / d loss-element before the mean's division: grad_output, or 1 for a scalar loss."""
        if self.reduction == "none":
            if grad_output is None or np.shape(grad_output) != loss_shape:
                raise ValueError(f"with reduction='none', backward needs grad_output of the loss's shape {loss_shape}")
            return grad_output
        g = 1.0 if grad_output is None else grad_output
        if np.ndim(g) != 0:
            raise ValueError(f"the loss is a scalar, so grad_output must be one, got shape {np.shape(g)}")
        return g


class MSELoss(_Loss):
    """mean/sum/none of (x - y)^2.   input (*) · target (*) -> () or (*)"""

    def forward(self, input, target):
        loss = F.mse_loss(input, target, reduction=self.reduction)
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
    """Sigmoid + binary cross-entropy in one stable step.   input (*) · target (*) of probabilities"""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.pos_weight = weight, pos_weight  # torch registers these as buffers
        if weight is not None:
            self.register_buffer("weight", weight)
        if pos_weight is not None:
            self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        loss = F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
        self.save_for_backward(input, target)
        return loss

    def backward(self, grad_output=None, *, input_grad=True):
        x, y = self.saved_tensors
        g = self._scale(grad_output, x.shape)
        if not input_grad:
            return None
        # l = (1 - y) x + lw * softplus(-x), lw = 1 + (p - 1) y  =>  dl/dx = (1 - y) - lw * sigmoid(-x)
        log_weight = 1 + (self.pos_weight - 1) * y if self.pos_weight is not None else 1
        grad = (1 - y) - log_weight * F.sigmoid(-x)
        if self.weight is not None:
            grad = grad * self.weight  # the weight multiplies each element's loss, so its derivative too
        n = x.size if self.reduction == "mean" else 1
        return (g * grad / n).astype(x.dtype, copy=False)


class CrossEntropyLoss(_Loss):
    """log_softmax + negative log-likelihood.   input (C,), (N, C), (N, C, d...) · target indices or probabilities

    See scratch.nn.functional.cross_entropy for the shapes and torch's normalisation of 'mean'.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing
        if weight is not None:
            self.register_buffer("weight", weight)

    def forward(self, input, target):
        loss, weighted_target, denominator, logp = F._cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)
        self.save_for_backward(input, weighted_target, denominator, logp)  # all that backward needs
        return loss

    def backward(self, grad_output=None, *, input_grad=True):
        x, weighted_target, denominator, logp = self.saved_tensors
        class_dim = 1 if x.ndim > 1 else 0
        g = self._scale(grad_output, x.shape[:class_dim] + x.shape[class_dim + 1:])
        if not input_grad:
            return None
        if self.reduction == "none":
            g = F._class_axis(g, class_dim)
        elif self.reduction == "mean":
            # every target ignored: the loss is 0/0 = nan (as torch's), but a zero target makes the gradient 0 (as torch's)
            g = g / denominator if denominator != 0 else 0.0 * g
        # l = -sum_c T_c log p_c, T = weighted_target  =>  dl/dx_j = p_j * sum_c T_c - T_j;
        # for a plain class index (T = one_hot(y)) that is the line everyone remembers: p - one_hot(y)
        p = array_module(x).exp(logp)
        grad = g * (p * weighted_target.sum(axis=class_dim, keepdims=True) - weighted_target)
        return grad.astype(x.dtype, copy=False)
