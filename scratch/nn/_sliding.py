"""Sliding windows over the last n axes of an array: the machinery convolution and pooling share.

    windows(x, kernel, stride, dilation)  x (..., *spatial) -> a view (..., *out, *kernel), no copy:
                                           window o, offset k reads x[..., o * stride + k *
                                           dilation]
    add_windows(g, shape, ...)             its adjoint, for the backward: each window's values added
                                           back where they were read
    pad(x, pads, mode), pad_adjoint(g, pads, mode)   padding and its adjoint

The adjoint is what a backward needs: if y = windows(x), then dL/dx = add_windows(dL/dy). It adds
one strided slice per kernel offset (9 for a 3x3 kernel), so overlapping windows add up without
np.add.at, which is about ten times slower.
"""

import itertools

from scratch._backend import array_module

# torch's padding_mode -> np.pad's mode
PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def output_size(size, kernel, stride, dilation):
    """How many windows fit: torch's floor((size - dilation (kernel - 1) - 1) / stride) + 1."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def windows(x, kernel, stride, dilation, axis=None):
    """x (..., *spatial, *rest) -> view (..., *out, *kernel, *rest); the n spatial axes start at
    `axis` (default: the last n). out[d] = output_size(spatial[d], ...)."""
    n = len(kernel)
    axis = x.ndim - n if axis is None else axis
    spatial, step = x.shape[axis : axis + n], x.strides[axis : axis + n]
    out = tuple(output_size(s, k, st, d) for s, k, st, d in zip(spatial, kernel, stride, dilation))
    shape = x.shape[:axis] + out + tuple(kernel) + x.shape[axis + n :]
    strides = (
        x.strides[:axis]
        + tuple(s * st for s, st in zip(step, stride))
        + tuple(s * d for s, d in zip(step, dilation))
        + x.strides[axis + n :]
    )
    return array_module(x).lib.stride_tricks.as_strided(x, shape, strides)


def add_windows(grad_windows, shape, kernel, stride, dilation, axis=None):
    """The adjoint of windows.
    grad_windows (..., *out, *kernel, *rest) -> `shape` = (..., *spatial, *rest)"""
    n = len(kernel)
    axis = len(shape) - n if axis is None else axis
    out = grad_windows.shape[axis : axis + n]
    lead = (slice(None),) * axis
    grad = array_module(grad_windows).zeros(shape, dtype=grad_windows.dtype)
    for offset in offsets(kernel):
        grad[lead + read_by(offset, out, stride, dilation)] += grad_windows[
            lead + (slice(None),) * n + offset
        ]
    return grad


def offsets(kernel):
    """Every offset within a window, in row-major order: (0, 0), (0, 1), ..."""
    return itertools.product(*(range(k) for k in kernel))


def read_by(offset, out, stride, dilation):
    """The positions that kernel offset k reads across all windows o: o * stride + k * dilation, as
    slices."""
    return tuple(
        slice(k * d, k * d + st * (o - 1) + 1, st)
        for k, d, st, o in zip(offset, dilation, stride, out)
    )


def pad(x, pads, mode, value=0.0):
    """Pad the last len(pads) axes by pads = ((before, after), ...) with torch's padding_mode."""
    if not any(b or a for b, a in pads):
        return x
    xp = array_module(x)
    widths = [(0, 0)] * (x.ndim - len(pads)) + [tuple(p) for p in pads]
    if mode == "zeros":
        return xp.pad(x, widths, mode="constant", constant_values=value)
    return xp.pad(x, widths, mode=PAD_MODES[mode])


def pad_adjoint(grad, pads, mode):
    """The adjoint of pad: a padded array's gradient -> the unpadded one's. A padded value that
    copies an input value (reflect, replicate, circular) sends its gradient back to it; zeros send
    nothing."""
    xp = array_module(grad)
    n = len(pads)
    for axis, (before, after) in zip(range(grad.ndim - n, grad.ndim), pads):
        size = grad.shape[axis] - before - after

        def at(start, stop, step=None, axis=axis):
            return (slice(None),) * axis + (slice(start, stop, step),)

        core = grad[at(before, before + size)]
        if mode != "zeros" and (before or after):
            core = core.copy()
            left, right = grad[at(0, before)], grad[at(before + size, None)]
            # left pad = the input's last `before` values, right pad = its first `after`
            if mode == "circular":
                core[at(size - before, size)] += left
                core[at(0, after)] += right
            # left pad p reads input before - p; right pad j reads size - 2 - j
            elif mode == "reflect":
                core[at(1, before + 1)] += xp.flip(left, axis=axis)
                core[at(size - 1 - after, size - 1)] += xp.flip(right, axis=axis)
            else:  # replicate: every left pad reads the first value, every right pad the last
                core[at(0, 1)] += left.sum(axis=axis, keepdims=True)
                core[at(size - 1, size)] += right.sum(axis=axis, keepdims=True)
        grad = core
    return grad
