"""Gradient descent, by hand, on the notes' bowl (docs/notes.md §1). Twin: `torch_impl/gradient_descent.py`.

The bowl  f(x, y) = (x - 2)^2 + (y + 3)^2  has its *minimum* (not, as the notes say, its maximum)
at c = (2, -3). Its gradient is (2(x - 2), 2(y + 3)), so one step of size lr gives

    theta_{k+1} = theta_k - lr * 2 (theta_k - c)   =>   theta_k = c + (1 - 2 lr)^k (theta_0 - c),

a closed form the tests hold this code to. It converges exactly when |1 - 2 lr| < 1, i.e.
0 < lr < 1; at lr = 1 it jumps between theta_0 and its mirror image for ever, above 1 it diverges.

Where this departs from the notes, and why:
  - The notes' gradient `2(x-2), 2(y+2)` is a TypeError in Python (`2(...)` calls the int 2) and
    wrong in y: d/dy (y + 3)^2 = 2(y + 3). Here: `2 * (x - 2), 2 * (y + 3)`.
  - The notes' loop appends to `params.history` (an AttributeError) and returns nothing. Here it
    returns (param_history, loss_history) as arrays.
  - The notes' `params -= ...` on a copy of an integer array fails, and on a caller's float array
    without `.copy()` would change it. Here the start is copied to floating point first.
  - The notes say nothing of divergence. Here a loss that becomes inf/nan raises `DivergenceError`
    (with the history so far attached), and a learning rate that cannot converge on the bowl
    (lr >= 1), or a run whose loss ends above where it began, warns with `DivergenceWarning`.
"""
import math
import warnings

import numpy as np

from scratch import _validate
from scratch._backend import array_module

MINIMUM = (2.0, -3.0)  # c, where the bowl's loss is 0


class DivergenceError(FloatingPointError):
    """The loss became inf or nan. `.param_history` and `.loss_history` hold the run up to there."""

    def __init__(self, message, param_history, loss_history):
        super().__init__(message)
        self.param_history = param_history
        self.loss_history = loss_history


class DivergenceWarning(RuntimeWarning):
    """The run cannot converge (lr >= 1 on the bowl) or its loss ended higher than it began."""


def _bowl_point(params):
    if params.shape != (2,):
        raise ValueError(f"params must be a point (x, y) of shape (2,) for the bowl, got shape {params.shape}")
    return params[0], params[1]


def loss_function(params):
    """f(x, y) = (x - 2)^2 + (y + 3)^2.   params (2,) -> scalar"""
    x, y = _bowl_point(params)
    return (x - 2) ** 2 + (y + 3) ** 2


def gradient(params):
    """grad f = (2(x - 2), 2(y + 3)).   params (2,) -> (2,)   (the notes wrote 2(y+2): a typo)"""
    x, y = _bowl_point(params)
    xp = array_module(params)
    return xp.stack([2 * (x - 2), 2 * (y + 3)])


_BOWL = (loss_function, gradient)  # the defaults; gradient_descent's keywords shadow these names


def gradient_descent(initial_params, learning_rate, iterations, *, loss_function=None, gradient=None):
    """Take `iterations` steps  theta <- theta - learning_rate * gradient(theta).

    initial_params (d,) — any array-like of finite numbers; it is copied, never changed. Integer
        input becomes float64; float32 stays float32.
    learning_rate > 0 ; iterations >= 0
    loss_function, gradient — both or neither: any differentiable f: (d,) -> scalar and its
        gradient (d,) -> (d,). Neither: the notes' bowl (then d must be 2).
    Returns (param_history (iterations + 1, d), loss_history (iterations + 1,)): row k is the
        point after k steps and the loss there; row 0 is the start.

    Raises DivergenceError if the loss becomes inf or nan; warns DivergenceWarning if the run
    cannot converge (lr >= 1 on the bowl) or ends with a higher loss than it began with.
    """
    on_bowl = loss_function is None and gradient is None
    if on_bowl:
        loss_function, gradient = _BOWL
    elif loss_function is None or gradient is None:
        raise TypeError("pass both loss_function and gradient (scratch has no autograd), or neither for the bowl")
    elif not (callable(loss_function) and callable(gradient)):
        raise TypeError("loss_function and gradient must be callables")

    xp = array_module(initial_params)
    if xp is np:
        params = _validate.float_array("initial_params", initial_params)
    else:  # CuPy: the same checks, on the device
        params = initial_params.astype(initial_params.dtype if initial_params.dtype.kind == "f" else xp.float64, copy=True)
        if not bool(xp.isfinite(params).all()):
            raise ValueError("initial_params must be finite")
    if params.ndim != 1:
        raise ValueError(f"initial_params must be a vector of shape (d,), got shape {params.shape}")
    if on_bowl:
        _bowl_point(params)
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    iterations = _validate.integer("iterations", iterations, low=0)
    if on_bowl:
        _warn_if_bowl_cannot_converge(learning_rate)

    param_history = [params.copy()]
    loss_history = [loss_function(params)]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, in words
        for k in range(1, iterations + 1):
            if not math.isfinite(float(loss_history[-1])):
                break
            params = params - learning_rate * gradient(params)
            param_history.append(params)
            loss_history.append(loss_function(params))

    param_history, loss_history = xp.stack(param_history), xp.stack(loss_history)
    _report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl)
    return param_history, loss_history


# Reporting, shared with the torch twin so that both say the same words.


def _warn_if_bowl_cannot_converge(learning_rate):
    if learning_rate >= 1:
        warnings.warn(
            f"learning_rate={learning_rate} >= 1 cannot converge on the bowl: each step multiplies the "
            f"distance to the minimum by |1 - 2*learning_rate| = {abs(1 - 2 * learning_rate)} >= 1",
            DivergenceWarning,
            stacklevel=3,
        )


def _report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl):
    """Raise DivergenceError on a non-finite last loss; warn if the loss ended above its start."""
    first, last = float(loss_history[0]), float(loss_history[-1])
    if not math.isfinite(last):
        raise DivergenceError(
            f"the loss became {last} after {len(loss_history) - 1} step(s) with learning_rate={learning_rate}: "
            "gradient descent diverged; try a smaller learning_rate" + (" (on the bowl it must be < 1)" if on_bowl else ""),
            param_history,
            loss_history,
        )
    already_warned = on_bowl and learning_rate >= 1
    if not already_warned and iterations > 0 and last > first:
        warnings.warn(
            f"the loss rose from {first} to {last} in {iterations} step(s) with learning_rate={learning_rate}: "
            "it is probably too large",
            DivergenceWarning,
            stacklevel=3,
        )
