"""Gradient descent on the notes' bowl (docs/notes.md §1), by hand.
Twin: torch_impl/gradient_descent.py, where autograd computes the gradient and torch.optim.SGD
(p <- p - lr * grad) takes the step; here both are written by hand.

The bowl  f(x, y) = (x - 2)^2 + (y + 3)^2  has its *minimum* (not, as the notes say, its maximum)
at c = (2, -3). Its gradient is (2(x - 2), 2(y + 3)), so one step of size lr gives

    theta_{k+1} = theta_k - lr * 2 (theta_k - c)   =>   theta_k = c + (1 - 2 lr)^k (theta_0 - c),

a closed form the tests hold both twins to. It converges exactly when |1 - 2 lr| < 1, i.e.
0 < lr < 1; at lr = 1 it jumps between theta_0 and its mirror image for ever, above 1 it diverges.

Where this departs from the notes, and why:
  - The notes' gradient `2(x-2), 2(y+2)` is a TypeError in Python (`2(...)` calls the int 2) and
    wrong in y: d/dy (y + 3)^2 = 2(y + 3). Here: `2 * (x - 2), 2 * (y + 3)`.
  - The notes' loop appends to `params.history` (an AttributeError) and returns nothing. Here it
    returns (param_history, loss_history).
  - The notes' `params -= ...` on a copy of an integer array fails, and on a caller's float array
    without `.copy()` would change it. Here the start is copied to floating point first.
  - The notes say nothing of divergence. Here a loss that becomes inf/nan raises `DivergenceError`
    (with the history so far attached), and a learning rate that cannot converge on the bowl
    (lr >= 1), or a run whose loss ends above where it began, warns with `DivergenceWarning`.
"""

import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch._twins import (  # noqa: F401  (DivergenceError, DivergenceWarning: re-exported)
    MINIMUM,
    DivergenceError,
    DivergenceWarning,
    bowl_point,
    descent_settings,
    diverged,
    report_outcome,
)


def loss_function(params):
    """f(x, y) = (x - 2)^2 + (y + 3)^2.   params (2,) -> scalar"""
    x, y = bowl_point(params)
    return (x - 2) ** 2 + (y + 3) ** 2


def gradient(params):
    """grad f = (2(x - 2), 2(y + 3)), by hand (the notes wrote 2(y+2): a typo).   (2,) -> (2,)"""
    x, y = bowl_point(params)
    return array_module(params).stack([2 * (x - 2), 2 * (y + 3)])


_BOWL = (loss_function, gradient)  # the defaults; gradient_descent's keywords shadow these names


def gradient_descent(
    initial_params, learning_rate, iterations, *, loss_function=None, gradient=None
):
    """Take `iterations` steps  theta <- theta - learning_rate * gradient(theta).

    initial_params (d,): copied, never changed; integers become float64, float32 stays float32.
    learning_rate > 0; iterations >= 0.
    loss_function, gradient: both or neither (scratch has no autograd): f: (d,) -> scalar and its
        gradient (d,) -> (d,). Neither: the notes' bowl (then d = 2).
    Returns (param_history (iterations + 1, d), loss_history (iterations + 1,)): row k is the
        point after k steps and the loss there; row 0 is the start.

    Raises DivergenceError if the loss becomes inf or nan; warns DivergenceWarning if the run
    cannot converge (lr >= 1 on the bowl) or ends with a higher loss than it began with.
    """
    params, loss_function, gradient, on_bowl = _start(initial_params, loss_function, gradient)
    learning_rate, iterations = descent_settings(params, learning_rate, iterations, on_bowl)

    loss = loss_function(params)
    param_history = [params.copy()]
    loss_history = [loss]
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, in words
        for _ in range(iterations):
            if diverged(loss_history[-1]):
                break
            params = params - learning_rate * gradient(params)  # theta <- theta - lr grad f(theta)
            param_history.append(params.copy())
            loss = loss_function(params)
            loss_history.append(loss)

    xp = array_module(params)
    param_history, loss_history = xp.stack(param_history), xp.stack(loss_history)
    report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl)
    return param_history, loss_history


def _start(initial_params, loss_function, gradient):
    """(the start as a new floating-point array on its device, f, grad f, whether on the bowl)."""
    on_bowl = loss_function is None and gradient is None
    if on_bowl:
        loss_function, gradient = _BOWL
    elif loss_function is None or gradient is None:
        raise TypeError(
            "pass both loss_function and gradient (scratch has no autograd), "
            "or neither for the bowl"
        )
    elif not (callable(loss_function) and callable(gradient)):
        raise TypeError("loss_function and gradient must be callables")
    xp = array_module(initial_params)
    if xp is np:
        return (
            _validate.float_array("initial_params", initial_params),
            loss_function,
            gradient,
            on_bowl,
        )
    # CuPy: the same checks, on the device
    dtype = initial_params.dtype if initial_params.dtype.kind == "f" else xp.float64
    params = initial_params.astype(dtype, copy=True)
    if not bool(xp.isfinite(params).all()):
        raise ValueError("initial_params must be finite")
    return params, loss_function, gradient, on_bowl
