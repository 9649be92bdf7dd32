"""Gradient descent with torch (docs/notes.md §1). Twin: `scratch/gradient_descent.py`.

The same bowl f(x, y) = (x - 2)^2 + (y + 3)^2 with its minimum at c = (2, -3); what changes is
who computes the gradient (autograd, not a handwritten formula) and who takes the step
(`torch.optim.SGD`, whose plain update is p <- p - lr * grad, the notes' rule). The errata, the
closed form and the divergence rules are the scratch twin's; so are the exception types, imported
from it so that one `except` clause catches both.
"""
import math

import torch

from scratch import _validate
from scratch.gradient_descent import (  # noqa: F401  (re-exported: one except clause catches both twins)
    DivergenceError,
    DivergenceWarning,
    _report_outcome,
    _warn_if_bowl_cannot_converge,
)

MINIMUM = (2.0, -3.0)  # c, where the bowl's loss is 0
_INTEGER_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _bowl_point(params):
    if params.shape != (2,):
        raise ValueError(f"params must be a point (x, y) of shape (2,) for the bowl, got shape {tuple(params.shape)}")
    return params[0], params[1]


def loss_function(params):
    """f(x, y) = (x - 2)^2 + (y + 3)^2.   params (2,) -> scalar"""
    x, y = _bowl_point(params)
    return (x - 2) ** 2 + (y + 3) ** 2


def gradient(params):
    """grad f by autograd: the twin of the handwritten (2(x - 2), 2(y + 3)).   params (2,) -> (2,)"""
    params = params.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_function(params), params)
    return grad


_BOWL = loss_function  # the default; gradient_descent's keyword shadows this name


def gradient_descent(initial_params, learning_rate, iterations, *, loss_function=None):
    """Take `iterations` steps of torch.optim.SGD(lr=learning_rate) on loss_function.

    initial_params (d,) — a tensor or anything torch.as_tensor takes; copied, never changed.
        Integer input becomes float64; float32 stays float32; the device is kept.
    learning_rate > 0 ; iterations >= 0
    loss_function — any differentiable f: (d,) -> scalar tensor; autograd supplies its gradient,
        so unlike the scratch twin there is no `gradient` keyword. None: the notes' bowl (d = 2).
    Returns (param_history (iterations + 1, d), loss_history (iterations + 1,)), detached tensors.

    Raises DivergenceError if the loss becomes inf or nan; warns DivergenceWarning if the run
    cannot converge (lr >= 1 on the bowl) or ends with a higher loss than it began with.
    """
    on_bowl = loss_function is None
    if on_bowl:
        loss_function = _BOWL
    elif not callable(loss_function):
        raise TypeError("loss_function must be a callable")

    if isinstance(initial_params, torch.Tensor):
        if not (initial_params.is_floating_point() or initial_params.dtype in _INTEGER_DTYPES):
            raise TypeError(f"initial_params must hold real numbers, got dtype {initial_params.dtype}")
        dtype = initial_params.dtype if initial_params.is_floating_point() else torch.float64
        params = initial_params.detach().to(dtype=dtype, copy=True)
        if not bool(torch.isfinite(params).all()):
            raise ValueError("initial_params must be finite")
    else:  # lists and arrays take NumPy's dtype rules (a list of floats is float64, not torch's float32)
        params = torch.from_numpy(_validate.float_array("initial_params", initial_params))
    if params.ndim != 1:
        raise ValueError(f"initial_params must be a vector of shape (d,), got shape {tuple(params.shape)}")
    if on_bowl:
        _bowl_point(params)
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    iterations = _validate.integer("iterations", iterations, low=0)
    if on_bowl:
        _warn_if_bowl_cannot_converge(learning_rate)

    params.requires_grad_(True)
    optimizer = torch.optim.SGD([params], lr=learning_rate)
    param_history = [params.detach().clone()]
    loss = loss_function(params)
    loss_history = [loss.detach()]
    for k in range(1, iterations + 1):
        if not math.isfinite(loss.item()):
            break
        optimizer.zero_grad()
        loss.backward()  # params.grad = d loss / d params
        optimizer.step()  # params <- params - lr * params.grad
        param_history.append(params.detach().clone())
        loss = loss_function(params)
        loss_history.append(loss.detach())

    param_history, loss_history = torch.stack(param_history), torch.stack(loss_history)
    _report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl)
    return param_history, loss_history
