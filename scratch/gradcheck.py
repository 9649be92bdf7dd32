"""Finite differences: a gradient oracle that needs no torch and no handwritten derivative.

The central difference (f(x + h e_i) - f(x - h e_i)) / 2h has error O(h^2) from the Taylor series
and O(eps * |f| / h) from rounding; h = 1e-6 in float64 balances the two at about 1e-10 for
functions of moderate size. Use float64: in float32 no h gives more than ~3 correct digits.
"""
import numpy as np


def numerical_gradient(f, x, h=1e-6):
    """d f / d x by central differences.   f: (*) -> scalar ; x (*) float64 -> (*)"""
    x = np.array(x, dtype=np.float64)  # a copy: the caller's array is never perturbed
    grad = np.empty_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = float(f(x))
        flat[i] = saved - h
        f_minus = float(f(x))
        flat[i] = saved
        out[i] = (f_plus - f_minus) / (2 * h)
    return grad
