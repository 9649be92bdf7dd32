"""Recurrent layers: RNN, LSTM, GRU and their cells, with backpropagation through time by hand.
Twins of torch.nn's: the same arguments, parameter names, shapes and order, gate order and formulas.

One step of each, for input x and previous state h (and c), with torch's gate order
(docs of torch.nn.RNN, LSTM, GRU):

    RNN   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)            (or relu)
    LSTM  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)   i, f, o sigmoid; g tanh
          c' = f * c + i * g,    h' = o * tanh(c')       (proj_size: h' = (o * tanh(c')) W_hr^T)
    GRU   r, z = sigmoid(split(x W_ih^T + b_ih + h W_hh^T + b_hh)[:2])
          n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))   (b_hn inside the r *, as torch)
          h' = (1 - z) * n + z * h

The input's projection x W_ih^T + b_ih is one matrix product for every time step at once; each step
then adds h W_hh^T + b_hh, one product for all its gates. The backward walks the sequence in
reverse, each gate's derivative on the line that uses it, and stacks every step's gate gradients so
that dL/dW_ih, dL/dW_hh and dL/dx are again one product each. A reverse direction (bidirectional) is
the same computation on the sequence flipped in time.

Ragged batches: torch's PackedSequence has no NumPy twin. Pad the sequences to one length and mask
the loss (or read each sequence's output at its own last step) instead.
"""

import math
import warnings

import numpy as np

from scratch import _validate
from scratch._backend import array_module, sum_rows
from scratch.nn import init
from scratch.nn.activation import sigmoid
from scratch.nn.dropout import dropout_mask
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad, data_of

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# --- one step of each cell, its backward written beside it
#
# gi is the step's input projection x W_ih^T + b_ih (computed for every step at once by the layer);
# each step adds gh = h W_hh^T + b_hh, one product for all its gates. Each backward returns the
# gradients of gi and gh (which the layer stacks over the steps, so that dL/dW_ih, dL/dW_hh and
# dL/dx are one product each) and of the previous state.


def rnn_cell(gi, h, w_hh, b_hh, nonlinearity="tanh"):
    """h' = tanh(gi + h W_hh^T + b_hh) (or relu).   gi (N, H), h (N, H) -> (h', saved)"""
    xp = array_module(gi)
    pre = gi + _project(h, w_hh, b_hh)
    h_next = xp.tanh(pre) if nonlinearity == "tanh" else xp.maximum(pre, 0)
    return h_next, (h_next, nonlinearity)


def rnn_cell_backward(dh_next, saved, w_hh):
    """dL/dh' -> (d_gi, d_gh, dL/dh): the pre-activation's gradient is both gi's and gh's."""
    h_next, nonlinearity = saved
    if nonlinearity == "tanh":
        d_pre = dh_next * (1 - h_next * h_next)  # tanh' = 1 - tanh^2
    else:
        d_pre = dh_next * (h_next > 0)  # relu' = 1 where h' > 0 (0 at 0, as torch)
    dh = d_pre @ w_hh  # gh = h W_hh^T  =>  dL/dh = d_gh W_hh
    return d_pre, d_pre, dh


def lstm_cell(gi, h, c, w_hh, b_hh, w_hr=None):
    """i, f, g, o = split(gi + h W_hh^T + b_hh); c' = f c + i g; h' = o tanh(c') (then W_hr).

    gi (N, 4H), h (N, H_out), c (N, H) -> (h', c', saved); torch's gate order i, f, g, o.
    """
    xp = array_module(gi)
    H = c.shape[1]
    gates = gi + _project(h, w_hh, b_hh)
    i = sigmoid(gates[:, 0 * H : 1 * H])
    f = sigmoid(gates[:, 1 * H : 2 * H])
    g_cell = xp.tanh(gates[:, 2 * H : 3 * H])  # the candidate cell value
    o = sigmoid(gates[:, 3 * H : 4 * H])
    c_next = f * c + i * g_cell
    tanh_c = xp.tanh(c_next)
    h_tilde = o * tanh_c
    h_next = h_tilde @ w_hr.T if w_hr is not None else h_tilde  # proj_size: h' = h~ W_hr^T
    return h_next, c_next, (c, i, f, g_cell, o, tanh_c, h_tilde)


def lstm_cell_backward(dh_next, dc_next, saved, w_hh, w_hr=None):
    """(dL/dh', dL/dc') -> (d_gates: gi's and gh's, dL/dh, dL/dc, dL/dW_hr or None)."""
    xp = array_module(dh_next)
    c, i, f, g_cell, o, tanh_c, h_tilde = saved
    d_w_hr = None
    if w_hr is not None:
        # h' = h~ W_hr^T  =>  dL/dW_hr = dh'^T h~,  dL/dh~ = dh' W_hr
        d_w_hr = dh_next.T @ h_tilde
        dh_next = dh_next @ w_hr
    # h~ = o * tanh(c')
    do = dh_next * tanh_c
    dc_next = dc_next + dh_next * o * (1 - tanh_c * tanh_c)
    # c' = f * c + i * g
    di, df, dg = dc_next * g_cell, dc_next * c, dc_next * i
    dc = dc_next * f
    # through the nonlinearities, in torch's order i, f, g, o: sigmoid' = s (1 - s), tanh' = 1 - t^2
    d_gates = xp.concatenate(
        [di * i * (1 - i), df * f * (1 - f), dg * (1 - g_cell * g_cell), do * o * (1 - o)], axis=1
    )
    dh = d_gates @ w_hh  # gates = gi + h W_hh^T  =>  dL/dh = d_gates W_hh
    return d_gates, dh, dc, d_w_hr


def gru_cell(gi, h, w_hh, b_hh):
    """r, z = sigmoid(gi_rz + gh_rz); n = tanh(gi_n + r * gh_n); h' = (1 - z) n + z h.

    gi (N, 3H), h (N, H) -> (h', saved); gh_n = h W_hn^T + b_hn, with b_hn inside the r * (torch's).
    """
    xp = array_module(gi)
    H = h.shape[1]
    gh = _project(h, w_hh, b_hh)
    r = sigmoid(gi[:, 0 * H : 1 * H] + gh[:, 0 * H : 1 * H])
    z = sigmoid(gi[:, 1 * H : 2 * H] + gh[:, 1 * H : 2 * H])
    gh_n = gh[:, 2 * H : 3 * H]
    n = xp.tanh(gi[:, 2 * H : 3 * H] + r * gh_n)
    h_next = (1 - z) * n + z * h
    return h_next, (h, r, z, n, gh_n)


def gru_cell_backward(dh_next, saved, w_hh):
    """dL/dh' -> (d_gi, d_gh, dL/dh)."""
    xp = array_module(dh_next)
    h, r, z, n, gh_n = saved
    # h' = (1 - z) n + z h
    dn, dz = dh_next * (1 - z), dh_next * (h - n)
    # n = tanh(gi_n + r * gh_n)
    dn_pre = dn * (1 - n * n)
    dr_pre = dn_pre * gh_n * r * (1 - r)
    # z = sigmoid(gi_z + gh_z),  r = sigmoid(gi_r + gh_r)
    dz_pre = dz * z * (1 - z)
    d_gi = xp.concatenate([dr_pre, dz_pre, dn_pre], axis=1)
    d_gh = xp.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)  # gh_n is multiplied by r
    dh = dh_next * z + d_gh @ w_hh  # h reaches h' directly and through gh = h W_hh^T
    return d_gi, d_gh, dh


def _project(h, w_hh, b_hh):
    """h W_hh^T + b_hh: every gate's share of the state, one product."""
    return h @ w_hh.T + b_hh if b_hh is not None else h @ w_hh.T


# --- one layer, one direction, the whole sequence: the time loop every cell shares


def _layer_forward(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
    """x (L, N, in), h0 (N, H_out), c0 (N, H) or None -> (out (L, N, H_out), h_n, c_n, cache)"""
    xp = array_module(x)
    L, N = x.shape[:2]
    # x W_ih^T for every step: one product (sizes spelled out: -1 fails on an empty batch)
    gi = (x.reshape(L * N, x.shape[-1]) @ w_ih.T).reshape(L, N, w_ih.shape[0])
    if b_ih is not None:
        gi += b_ih
    h, c, hs, saved = h0, c0, [h0], []
    for t in range(L):
        if mode == "LSTM":
            h, c, step = lstm_cell(gi[t], h, c, w_hh, b_hh, w_hr)
        elif mode == "GRU":
            h, step = gru_cell(gi[t], h, w_hh, b_hh)
        else:
            h, step = rnn_cell(gi[t], h, w_hh, b_hh, "tanh" if mode == "RNN_TANH" else "relu")
        hs.append(h)
        saved.append(step)
    return xp.stack(hs[1:]), h, c, (x, hs, saved)


def _layer_backward(
    mode, cache, grad_out, grad_h, grad_c, w_ih, w_hh, w_hr, input_grad=True, state_grad=True
):
    """Backpropagation through time for one layer and direction.

    grad_out (L, N, H_out): dL/d each step's output; grad_h, grad_c: dL/dh_n, dL/dc_n (or None).
    Returns (dx (L, N, in) or None, dh0, dc0, {name: gradient}) for w_ih, w_hh, b_ih, b_hh, w_hr;
    dh0 and dc0 are None with state_grad=False (a zero initial state needs none, as autograd
    skips it).
    """
    xp = array_module(grad_out)
    x, hs, saved = cache
    L, N = x.shape[:2]
    dh = xp.zeros_like(hs[0]) if grad_h is None else grad_h
    dc = None
    if mode == "LSTM":
        dc = xp.zeros_like(saved[0][0]) if grad_c is None else grad_c
    d_gi, d_gh = [None] * L, [None] * L
    d_w_hr = 0
    for t in reversed(range(L)):
        dh = dh + grad_out[t]  # the step's output feeds the loss and the next step
        if mode == "LSTM":
            d_gates, dh, dc, d_w_hr_t = lstm_cell_backward(dh, dc, saved[t], w_hh, w_hr)
            d_gi[t] = d_gh[t] = d_gates
            if w_hr is not None:
                d_w_hr = d_w_hr + d_w_hr_t
        elif mode == "GRU":
            d_gi[t], d_gh[t], dh = gru_cell_backward(dh, saved[t], w_hh)
        else:
            d_gi[t], d_gh[t], dh = rnn_cell_backward(dh, saved[t], w_hh)
    grads = _weight_grads(xp.stack(d_gi), xp.stack(d_gh), x, xp.stack(hs[:-1]))
    grads["w_hr"] = d_w_hr
    dx = None
    if input_grad:
        # dL/dx_t = d_gi_t W_ih, every step in one product
        dx = (xp.stack(d_gi).reshape(L * N, w_ih.shape[0]) @ w_ih).reshape(L, N, w_ih.shape[1])
    return dx, dh if state_grad else None, dc if state_grad else None, grads


def _weight_grads(d_gi, d_gh, x, h_prev):
    """d_gi, d_gh (L, N, gates), x (L, N, in), h_prev (L, N, H_out) -> the gradients of W_ih, W_hh,
    b_ih, b_hh, summed over every step and sample in one product each."""
    L, N = x.shape[:2]
    d_gi, d_gh = d_gi.reshape(L * N, d_gi.shape[-1]), d_gh.reshape(L * N, d_gh.shape[-1])
    return {
        "w_ih": d_gi.T @ x.reshape(L * N, x.shape[-1]),  # dL/dW_ih = sum_t d_gi_t^T x_t
        "w_hh": d_gh.T @ h_prev.reshape(L * N, h_prev.shape[-1]),  # dL/dW_hh = sum_t d_gh_t^T h_t-1
        "b_ih": sum_rows(d_gi),
        "b_hh": sum_rows(d_gh),
    }


def _check_state(owner, what, state, shape, batched, dtype, axis):
    """A given state (h0, c0, hx, cx), checked for the layers and the cells alike: an array of
    `shape` (without its batch axis `axis` when unbatched) and of the weights' dtype. Returns it
    with the batch axis."""
    _validate.array(owner, what, state)
    expected = shape if batched else shape[:axis] + shape[axis + 1 :]
    if tuple(state.shape) != expected:
        raise ValueError(
            f"{owner}: Expected hidden size {expected} for {what}, got {tuple(state.shape)}"
        )
    if state.dtype != dtype:
        raise TypeError(
            f"{owner} expected {what} of dtype {dtype} (its weights'), got "
            f"{state.dtype}: pass {what}.astype(np.{dtype})"
        )
    if batched:
        return state
    return state[None] if axis == 0 else state[:, None]


# --- the modules


class _RNNBase(Module):
    """RNN, LSTM and GRU: the layers, directions, batch_first, dropout and the (h, c)
    bookkeeping."""

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers,
        bias,
        batch_first,
        dropout,
        bidirectional,
        proj_size,
        *,
        # every argument from the public classes, which hold torch's defaults
        dtype,
        generator,
    ):
        super().__init__()
        self.mode = mode
        self.input_size = _validate.integer("input_size", input_size, low=1)
        self.hidden_size = _validate.integer("hidden_size", hidden_size, low=1)
        self.num_layers = _validate.integer("num_layers", num_layers, low=1)
        self.proj_size = _validate.integer("proj_size", proj_size, low=0)
        if self.proj_size >= self.hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if not (
            isinstance(dropout, (int, float))
            and not isinstance(dropout, bool)
            and 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:  # torch's warning, word for word
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        self.bias, self.batch_first, self.dropout, self.bidirectional = (
            bool(bias),
            bool(batch_first),
            float(dropout),
            bool(bidirectional),
        )
        # draws the dropout masks
        self.generator = _validate.generator(generator)
        dtype = _validate.float_dtype(dtype)
        gates, directions = GATES[mode] * hidden_size, 2 if bidirectional else 1
        h_out = self.proj_size or hidden_size
        # torch's init: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden))
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else h_out * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, h_out)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, hidden_size)
                for name, shape in shapes.items():
                    p = Parameter(np.empty(shape, dtype=dtype))
                    init.uniform_(p.data, -bound, bound, self.generator)
                    setattr(self, f"{name}_l{layer}{suffix}", p)

    def _params(self, layer, suffix):
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return [
            data_of(get(name))
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        ]

    def forward(self, input, hx=None):
        """input (L, N, H_in), or (N, L, H_in) with batch_first, or unbatched (L, H_in);
        hx: h0 (D * num_layers, N, H_out) (LSTM: (h0, c0), c0 (D * num_layers, N, H)) or None for
        zeros. Returns (output (L, N, D * H_out), h_n) — LSTM: (output, (h_n, c_n)) — in the input's
        layout."""
        xp = array_module(input)
        x, h0, c0, batched = self._check_input(input, hx)
        D, H_out = 2 if self.bidirectional else 1, self.proj_size or self.hidden_size
        N = x.shape[1]
        if h0 is None:
            h0 = xp.zeros((self.num_layers * D, N, H_out), dtype=x.dtype)
        if self.mode == "LSTM" and c0 is None:
            c0 = xp.zeros((self.num_layers * D, N, self.hidden_size), dtype=x.dtype)
        caches, masks, h_n, c_n = [], [], [], []
        layer_input = x
        for layer in range(self.num_layers):
            # between layers, never after the last
            if layer > 0 and self.dropout > 0 and self.training:
                # the kept values scaled by 1 / (1 - p), so each value's expectation is unchanged
                shape, dtype = layer_input.shape, layer_input.dtype
                masks.append(dropout_mask(shape, self.dropout, dtype, self.generator, xp))
                layer_input = layer_input * masks[-1]
            else:
                masks.append(None)
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:D]):
                k = layer * D + d
                # reverse: the same steps, time flipped
                seq = layer_input if d == 0 else layer_input[::-1]
                out, h, c, cache = _layer_forward(
                    self.mode,
                    seq,
                    h0[k],
                    None if c0 is None else c0[k],
                    *self._params(layer, suffix),
                )
                outs.append(out if d == 0 else out[::-1])
                caches.append(cache)
                h_n.append(h)
                c_n.append(c)
            layer_input = xp.concatenate(outs, axis=2) if D == 2 else outs[0]
        output, h_n = layer_input, xp.stack(h_n)
        self.save_for_backward(caches, masks, batched, hx is not None, x.shape)
        if self.batch_first:
            output = output.transpose(1, 0, 2)
        if not batched:
            output, h_n = output[:, 0] if not self.batch_first else output[0], h_n[:, 0]
        if self.mode == "LSTM":
            c_n = xp.stack(c_n)
            return output, (h_n, c_n if batched else c_n[:, 0])
        return output, h_n

    def backward(self, grad_output, *, input_grad=True):
        """grad_output = (dL/doutput, dL/dh_n) — LSTM: (dL/doutput, (dL/dh_n, dL/dc_n)) — each None
        for no gradient, shaped as forward returned them. Returns (dL/dinput, dL/dh0) — LSTM:
        (dL/dinput, (dL/dh0, dL/dc0)) — with None for an hx that forward was not given; adds every
        parameter's gradient."""
        caches, masks, batched, had_hx, x_shape = self.saved_tensors
        xp = array_module(caches[0][0])
        D, H_out = 2 if self.bidirectional else 1, self.proj_size or self.hidden_size
        L, N = x_shape[:2]
        g_out, g_h, g_c = self._unpack_grads(
            grad_output, batched, L, N, D, H_out, xp, caches[0][0].dtype
        )
        dh0, dc0 = [None] * (self.num_layers * D), [None] * (self.num_layers * D)
        for layer in reversed(range(self.num_layers)):
            d_input = 0
            for d, suffix in enumerate(("", "_reverse")[:D]):
                k = layer * D + d
                w_ih, w_hh, _, _, w_hr = self._params(layer, suffix)
                g = g_out[..., d * H_out : (d + 1) * H_out]
                need_dx = input_grad or layer > 0
                dx, dh0[k], dc0[k], grads = _layer_backward(
                    self.mode,
                    caches[k],
                    g if d == 0 else g[::-1],
                    None if g_h is None else g_h[k],
                    None if g_c is None else g_c[k],
                    w_ih,
                    w_hh,
                    w_hr,
                    need_dx,
                    had_hx,
                )
                for name, key in (
                    ("weight_ih", "w_ih"),
                    ("weight_hh", "w_hh"),
                    ("bias_ih", "b_ih"),
                    ("bias_hh", "b_hh"),
                    ("weight_hr", "w_hr"),
                ):
                    p = getattr(self, f"{name}_l{layer}{suffix}", None)
                    if p is not None:
                        accumulate_grad(p, grads[key])
                if need_dx:
                    d_input = d_input + (dx if d == 0 else dx[::-1])
            if layer > 0:
                # through the dropout
                g_out = d_input * masks[layer] if masks[layer] is not None else d_input
        grad_input = None
        if input_grad:
            grad_input = d_input.transpose(1, 0, 2) if self.batch_first else d_input
            if not batched:
                grad_input = grad_input[0] if self.batch_first else grad_input[:, 0]
        grad_hx = None
        if had_hx:
            dh0 = xp.stack(dh0) if batched else xp.stack(dh0)[:, 0]
            grad_hx = dh0
            if self.mode == "LSTM":
                grad_hx = (dh0, xp.stack(dc0) if batched else xp.stack(dc0)[:, 0])
        return grad_input, grad_hx

    def _unpack_grads(self, grad_output, batched, L, N, D, H_out, xp, dtype):
        """(dL/doutput (L, N, D * H_out), dL/dh_n, dL/dc_n) in the internal layout; zeros or None
        where not given."""
        if not isinstance(grad_output, tuple) or len(grad_output) != 2:
            raise ValueError(
                f"{type(self).__name__}.backward takes (grad_output, grad_h_n)"
                + (" with grad_h_n = (grad_h_n, grad_c_n)" if self.mode == "LSTM" else "")
                + ", either None, as forward returned (output, h_n)"
            )
        g_out, g_state = grad_output
        g_h, g_c = (
            (g_state if g_state is not None else (None, None))
            if self.mode == "LSTM"
            else (g_state, None)
        )
        out_shape = (L, N, D * H_out)
        if g_out is None:
            g_out = xp.zeros(out_shape, dtype=dtype)
        else:
            shown = (out_shape[1], out_shape[0], out_shape[2]) if self.batch_first else out_shape
            if not batched:
                shown = shown[1:] if self.batch_first else (shown[0], shown[2])
            g_out = self.grad_like(g_out, shown, dtype)
            if not batched:
                g_out = g_out[None] if self.batch_first else g_out[:, None]
            g_out = g_out.transpose(1, 0, 2) if self.batch_first else g_out
        states = []
        for g, size in ((g_h, H_out), (g_c, self.hidden_size)):
            if g is not None:
                shape = (self.num_layers * D, N, size)
                g = self.grad_like(g, shape if batched else (shape[0], shape[2]), dtype)
                g = g if batched else g[:, None]
            states.append(g)
        return g_out, states[0], states[1]

    def _check_input(self, input, hx):
        """The input in (L, N, H_in) layout and h0, c0 in (D * num_layers, N, H) layout, every shape
        checked."""
        name = type(self).__name__
        if type(input).__name__ == "PackedSequence":
            raise NotImplementedError(
                f"{name}: PackedSequence has no NumPy twin; pad the sequences to one length and "
                "mask the loss (or read each sequence's output at its own last step)"
            )
        _validate.array(name, "input", input)
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D (unbatched) or 3D (batched), got {input.ndim}D "
                "input "
                f"of shape {tuple(input.shape)}"
            )
        dtype = self.weight_ih_l0.dtype
        if input.dtype != dtype:
            raise TypeError(
                f"{name} expected input of dtype {dtype} (its weights'), got {input.dtype}: pass "
                f"input.astype(np.{dtype}), or build it with dtype=np.{input.dtype}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]}"
            )
        batched = input.ndim == 3
        x = input if batched else (input[None] if self.batch_first else input[:, None])
        x = x.transpose(1, 0, 2) if self.batch_first else x  # (L, N, H_in)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the input sequence is empty (length 0)")
        D, N = 2 if self.bidirectional else 1, x.shape[1]
        h0 = c0 = None
        if hx is not None:
            if self.mode == "LSTM":
                if not (isinstance(hx, tuple) and len(hx) == 2):
                    raise TypeError("LSTM expects hx as a tuple (h0, c0)")
                h0, c0 = hx
            else:
                h0 = hx
            h_out = self.proj_size or self.hidden_size
            h0 = _check_state(
                name,
                "h0" if self.mode == "LSTM" else "hx",
                h0,
                (self.num_layers * D, N, h_out),
                batched,
                dtype,
                axis=1,
            )
            if c0 is not None:
                c0 = _check_state(
                    name,
                    "c0",
                    c0,
                    (self.num_layers * D, N, self.hidden_size),
                    batched,
                    dtype,
                    axis=1,
                )
        return x, h0, c0, batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(_RNNBase):
    """An Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), layer by layer."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        dtype=np.float32,
        generator=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            dtype=dtype,
            generator=generator,
        )
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory: gates i, f, g, o; c' = f c + i g; h' = o tanh(c') (projected by W_hr
    with proj_size)."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            dtype=dtype,
            generator=generator,
        )


class GRU(_RNNBase):
    """Gated recurrent unit: gates r, z, n; h' = (1 - z) n + z h, with b_hn inside r * (h W_hn^T +
    b_hn)."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            dtype=dtype,
            generator=generator,
        )


# --- the cells: one step, the same equations


class _RNNCellBase(Module):
    # defaults: the public classes hold them
    def __init__(self, mode, input_size, hidden_size, bias, *, dtype, generator):
        super().__init__()
        self.mode = mode
        self.input_size = _validate.integer("input_size", input_size, low=1)
        self.hidden_size = _validate.integer("hidden_size", hidden_size, low=1)
        self.bias = bool(bias)
        dtype = _validate.float_dtype(dtype)
        generator = _validate.generator(generator)
        gates, bound = GATES[mode] * hidden_size, 1 / math.sqrt(hidden_size)
        shapes = {"weight_ih": (gates, input_size), "weight_hh": (gates, hidden_size)}
        if bias:
            shapes.update(bias_ih=(gates,), bias_hh=(gates,))
        for name, shape in shapes.items():
            p = Parameter(np.empty(shape, dtype=dtype))
            init.uniform_(p.data, -bound, bound, generator)
            setattr(self, name, p)
        if not bias:
            self.bias_ih = self.bias_hh = None

    def forward(self, input, hx=None):
        """input (N, H_in) or (H_in,); hx (N, H) or (H,) (LSTMCell: (h, c)) or None -> h'
        (LSTMCell: (h', c'))"""
        xp = array_module(input)
        name, dtype = type(self).__name__, self.weight_ih.dtype
        _validate.layer_input(name, input, (self.input_size,), dtype)
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input[None]
        h_prev, c = self._check_hx(hx, (x.shape[0], self.hidden_size), batched, dtype, xp)
        h = h_prev
        w_ih, w_hh, b_ih, b_hh = self._params()
        gi = x @ w_ih.T + b_ih if b_ih is not None else x @ w_ih.T
        if self.mode == "LSTM":
            h, c, step = lstm_cell(gi, h, c, w_hh, b_hh)
        elif self.mode == "GRU":
            h, step = gru_cell(gi, h, w_hh, b_hh)
        else:
            h, step = rnn_cell(gi, h, w_hh, b_hh, self.nonlinearity)
        self.save_for_backward(x, h_prev, step, batched, hx is not None)
        h, c = (h, c) if batched else (h[0], None if c is None else c[0])
        return (h, c) if self.mode == "LSTM" else h

    def backward(self, grad_output, *, input_grad=True):
        """grad_output = dL/dh' (LSTMCell: (dL/dh', dL/dc'), either None) -> (dL/dinput, dL/dhx)
        (LSTMCell: (dL/dinput, (dL/dh, dL/dc))), with None for an hx forward was not given."""
        x, h_prev, step, batched, had_hx = self.saved_tensors
        xp = array_module(x)
        if self.mode == "LSTM" and not (isinstance(grad_output, tuple) and len(grad_output) == 2):
            raise ValueError(
                "LSTMCell.backward takes (grad_h, grad_c), either None, as forward returned (h, c)"
            )
        shape = (x.shape[0], self.hidden_size)
        grads = grad_output if self.mode == "LSTM" else (grad_output, None)
        dh_next, dc_next = (
            xp.zeros(shape, dtype=x.dtype)
            if g is None
            else self.grad_like(g, shape if batched else shape[1:], x.dtype).reshape(shape)
            for g in grads
        )
        w_ih, w_hh, _, _ = self._params()
        dc = None
        if self.mode == "LSTM":
            d_gi, dh, dc, _ = lstm_cell_backward(dh_next, dc_next, step, w_hh)
            d_gh = d_gi
        elif self.mode == "GRU":
            d_gi, d_gh, dh = gru_cell_backward(dh_next, step, w_hh)
        else:
            d_gi, d_gh, dh = rnn_cell_backward(dh_next, step, w_hh)
        weight_grads = _weight_grads(d_gi[None], d_gh[None], x[None], h_prev[None])
        for name, key in (
            ("weight_ih", "w_ih"),
            ("weight_hh", "w_hh"),
            ("bias_ih", "b_ih"),
            ("bias_hh", "b_hh"),
        ):
            if getattr(self, name) is not None:
                accumulate_grad(getattr(self, name), weight_grads[key])
        dx = None
        if input_grad:
            dx = d_gi @ w_ih  # gi = x W_ih^T + b_ih  =>  dL/dx = d_gi W_ih
            dx = dx if batched else dx[0]
        if not had_hx:
            return dx, None
        dh, dc = (dh, dc) if batched else (dh[0], None if dc is None else dc[0])
        return dx, ((dh, dc) if self.mode == "LSTM" else dh)

    def _params(self):
        return (
            self.weight_ih.data,
            self.weight_hh.data,
            data_of(self.bias_ih),
            data_of(self.bias_hh),
        )

    def _check_hx(self, hx, shape, batched, dtype, xp):
        """(h, c) in (N, H) layout, zeros where not given (c None but for LSTMCell)."""
        name = type(self).__name__
        if self.mode == "LSTM" and hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError("LSTMCell expects hx as a tuple (h, c)")
        states = hx if (self.mode == "LSTM" and hx is not None) else (hx, None)
        checked = []
        for what, state in zip(("hx", "cx"), states, strict=True):
            if state is None:
                zeros = self.mode == "LSTM" or what == "hx"
                checked.append(xp.zeros(shape, dtype=dtype) if zeros else None)
            else:
                checked.append(_check_state(name, what, state, shape, batched, dtype, axis=0))
        return checked

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(_RNNCellBase):
    """One RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(
        self,
        input_size,
        hidden_size,
        bias=True,
        nonlinearity="tanh",
        *,
        dtype=np.float32,
        generator=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            bias,
            dtype=dtype,
            generator=generator,
        )
        self.nonlinearity = nonlinearity


class LSTMCell(_RNNCellBase):
    """One LSTM step: (h, c) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32, generator=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype=dtype, generator=generator)


class GRUCell(_RNNCellBase):
    """One GRU step: h -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, *, dtype=np.float32, generator=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype=dtype, generator=generator)
