"""Gradient descent on the notes' bowl (docs/notes.md §1), with torch.
Twin: scratch/gradient_descent.py, where the gradient and the step are written by hand; here
autograd computes the gradient and torch.optim.SGD (p <- p - lr * grad) takes the step.

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

import torch

from scratch import _validate
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
    """grad f by autograd: the twin of the handwritten (2(x - 2), 2(y + 3)).   (2,) -> (2,)"""
    params = params.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_function(params), params)
    return grad


_BOWL = loss_function  # the default; gradient_descent's keyword shadows this name


def gradient_descent(initial_params, learning_rate, iterations, *, loss_function=None):
    """Take `iterations` steps of torch.optim.SGD(lr=learning_rate) on loss_function.

    initial_params (d,): copied, never changed; integers become float64, float32 stays float32.
    learning_rate > 0; iterations >= 0.
    loss_function: f: (d,) -> scalar tensor; autograd supplies its gradient, so unlike the
        scratch twin there is no `gradient` keyword. None: the notes' bowl (then d = 2).
    Returns (param_history (iterations + 1, d), loss_history (iterations + 1,)): row k is the
        point after k steps and the loss there; row 0 is the start.

    Raises DivergenceError if the loss becomes inf or nan; warns DivergenceWarning if the run
    cannot converge (lr >= 1 on the bowl) or ends with a higher loss than it began with.
    """
    params, loss_function, on_bowl = _start(initial_params, loss_function)
    learning_rate, iterations = descent_settings(params, learning_rate, iterations, on_bowl)

    optimizer = torch.optim.SGD([params.requires_grad_(True)], lr=learning_rate)

    loss = loss_function(params)
    param_history = [params.detach().clone()]
    loss_history = [loss.detach()]
    for _ in range(iterations):
        if diverged(loss_history[-1]):
            break
        optimizer.zero_grad()
        loss.backward()  # params.grad = d loss / d params
        optimizer.step()  # params <- params - learning_rate * params.grad
        param_history.append(params.detach().clone())
        loss = loss_function(params)
        loss_history.append(loss.detach())

    param_history, loss_history = torch.stack(param_history), torch.stack(loss_history)
    report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl)
    return param_history, loss_history


def _start(initial_params, loss_function):
    """(the start as a new floating-point tensor on its device, f, whether on the bowl)."""
    on_bowl = loss_function is None
    if on_bowl:
        loss_function = _BOWL
    elif not callable(loss_function):
        raise TypeError("loss_function must be a callable")
    if not isinstance(initial_params, torch.Tensor):
        # lists and arrays take NumPy's dtype rules (a list of floats is float64, not float32)
        params = _validate.float_array("initial_params", initial_params)
        return torch.from_numpy(params), loss_function, on_bowl
    integers = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
    if not (initial_params.is_floating_point() or initial_params.dtype in integers):
        raise TypeError(f"initial_params must hold real numbers, got dtype {initial_params.dtype}")
    dtype = initial_params.dtype if initial_params.is_floating_point() else torch.float64
    params = initial_params.detach().to(dtype=dtype, copy=True)
    if not bool(torch.isfinite(params).all()):
        raise ValueError("initial_params must be finite")
    return params, loss_function, on_bowl
