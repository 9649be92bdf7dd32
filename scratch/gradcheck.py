"""Finite differences: a gradient oracle that needs no torch and no handwritten derivative.

The central difference (f(x + h e_i) - f(x - h e_i)) / 2h has error O(h^2) from the Taylor series
and O(eps * |f| / h) from rounding; h = 1e-6 in float64 balances the two at about 1e-10 for
functions of moderate size. Use float64: in float32 no h gives more than ~3 correct digits.
"""

import numpy as np


def numerical_gradient(f, x, h=1e-6):
    """d f / d x by central differences.   f: (*) -> scalar ; x (*) -> (*) float64"""
    x = np.array(x, dtype=np.float64)  # a copy: the caller's array is never perturbed
    return _central_differences(lambda: f(x), x, h)


def module_gradients(module, input, grad_output, h=1e-6):
    """Numerical gradients of L = sum(grad_output * module(input)), the quantity whose gradient
    `module.backward(grad_output)` returns: {'input': dL/d input, '<param name>': dL/d param, ...}.

    input and the module's parameters must be float64; both are perturbed in place and restored.
    """

    def loss():
        return np.sum(grad_output * module(input))

    out = {"input": _central_differences(loss, input, h)}
    for name, p in module.named_parameters():
        out[name] = _central_differences(loss, p.data, h)
    return out


def _central_differences(loss, array, h):
    """d loss() / d array, perturbing `array` in place one element at a time (and restoring it)."""
    if array.dtype != np.float64:
        raise TypeError(f"finite differences need float64, got {array.dtype}")
    grad = np.empty_like(array)
    flat, out = array.reshape(-1), grad.reshape(-1)  # views: perturbing flat perturbs array
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = float(loss())
        flat[i] = saved - h
        f_minus = float(loss())
        flat[i] = saved
        out[i] = (f_plus - f_minus) / (2 * h)
    return grad
