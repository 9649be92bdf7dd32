"""What the tests draw from, in one place: the dtypes every twin is tested in, the values a drawn
array holds (each test file names the range that suits its layers, through `values_within`: an
RNN's tanh saturates past 1.5, a loss's logits can go to 3), and each layer family's cases (every
option drawn together, with a shape it takes), which the family's tests and the CuPy path's share.
"""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# every equivalence test runs in both: float64 to ~1e-10, float32 at torch.testing's tolerance
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32])


def floats(dtype, low, high):
    """Finite values in [low, high] that `dtype` holds exactly (float32 ones for float32)."""
    return st.floats(low, high, width=32 if np.dtype(dtype) == np.float32 else 64)


def values_within(default_bound):
    """values(dtype, bound=default_bound): finite values in [-bound, bound], for a file whose
    layers want that range."""

    def values(dtype, bound=default_bound):
        return floats(dtype, -bound, bound)

    return values


# --- convolution and pooling (test_conv.py)


@st.composite
def conv_case(draw, n=None):
    """A convolution's every option, drawn together, and an input shape it takes (unbatched
    included)."""
    n = draw(st.sampled_from([1, 2, 3])) if n is None else n
    groups = draw(st.sampled_from([1, 1, 2, 3]), label="groups")
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding = draw(st.sampled_from(["int", "tuple", "same", "valid"]), label="padding kind")
    stride = (1,) * n if padding == "same" else tuple(draw(st.integers(1, 3)) for _ in range(n))
    if padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "tuple":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(n))
    mode = draw(
        st.sampled_from(["zeros", "reflect", "replicate", "circular"]), label="padding_mode"
    )
    pads = {
        "same": [d * (k - 1) // 2 + d * (k - 1) % 2 for k, d in zip(kernel, dilation)],
        "valid": [0] * n,
    }.get(padding, [padding] * n if isinstance(padding, int) else list(padding))
    low = [
        max(d * (k - 1) + 1 - 2 * p, p + 1 if mode == "reflect" else p, 1)
        for k, d, p in zip(kernel, dilation, pads)
    ]
    spatial = tuple(draw(st.integers(lo, lo + 3)) for lo in low)
    batch = draw(st.sampled_from([(), (1,), (2,)]), label="batch")
    options = dict(
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
        padding_mode=mode,
    )
    return n, in_channels, out_channels, kernel, options, batch + (in_channels,) + spatial


@st.composite
def pool_case(draw, kind):
    n = draw(st.sampled_from([1, 2, 3]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n)) if kind == "max" else (1,) * n
    stride = draw(st.none() | st.tuples(*(st.integers(1, 3) for _ in range(n))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(
        draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 4)) for k, d in zip(kernel, dilation)
    )
    batch = draw(st.sampled_from([(), (1, 2), (2, 3)]), label="batch, channels")
    options = dict(stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if kind == "max":
        options["dilation"] = dilation
    else:
        options["count_include_pad"] = draw(st.booleans())
        if n > 1:
            options["divisor_override"] = draw(st.none() | st.integers(1, 5))
    return n, kernel, options, (batch or (2,)) + spatial


# --- the losses (test_losses.py)


def arrays(dtype, shape, low=-3.0, high=3.0):
    return hnp.arrays(
        dtype, shape, elements=st.floats(low, high, width=32 if dtype == np.float32 else 64)
    )


@st.composite
def bce_case(draw, dtype):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    x = draw(arrays(dtype, shape, -50, 50))  # logits far past where sigmoid rounds to 0 or 1
    y = draw(arrays(dtype, shape, 0, 1))  # probabilities, not just labels
    weight = draw(st.none() | arrays(dtype, shape, 0, 2) | arrays(dtype, shape[-1:], 0, 2))
    pos_weight = draw(st.none() | arrays(dtype, shape[-1:], 0.125, 5))
    return x, y, weight, pos_weight


@st.composite
def cross_entropy_case(draw, dtype):
    C = draw(st.integers(1, 5))
    lead = draw(st.sampled_from(["unbatched", "batched", "extra1", "extra2"]))
    N = draw(st.integers(1, 4))
    shape = {
        "unbatched": (C,),
        "batched": (N, C),
        "extra1": (N, C, draw(st.integers(1, 3))),
        "extra2": (N, C, 2, draw(st.integers(1, 2))),
    }[lead]
    x = draw(arrays(dtype, shape, -30, 30))
    ignore_index = draw(st.sampled_from([-100, 0, C - 1]))
    if draw(st.booleans()):  # class indices, some of them ignore_index
        target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        target = draw(
            hnp.arrays(np.int64, target_shape, elements=st.integers(0, C - 1) | st.just(-100))
        )
        target = np.where(target == -100, ignore_index, target)
    else:  # class probabilities: nonnegative, summing to 1 over the class dimension
        ignore_index = -100  # torch refuses any other ignore_index with probabilities
        raw = draw(arrays(dtype, shape, 0, 1)) + np.asarray(1e-3, dtype)
        target = (raw / raw.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)).astype(dtype)
    weight = draw(st.none() | arrays(dtype, (C,), 0.125, 2))
    label_smoothing = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    return x, target, weight, ignore_index, label_smoothing


# --- normalisation (test_normalization.py)


BATCH_NORMS = {1: "BatchNorm1d", 2: "BatchNorm2d", 3: "BatchNorm3d"}


@st.composite
def batch_norm_case(draw, dtype):
    """A BatchNorm class, its options, and an input shape it takes: 1d with and without length, 2d,
    3d."""
    spatial_dims = draw(st.sampled_from([0, 1, 2, 3]), label="spatial dims")
    name = BATCH_NORMS[max(spatial_dims, 1)]
    C = draw(st.integers(1, 4), label="channels")
    shape = (draw(st.integers(2, 4), label="N"), C) + tuple(
        draw(st.integers(1, 3)) for _ in range(spatial_dims)
    )
    options = dict(
        eps=draw(st.sampled_from([1e-5, 1e-3, 0.1])),
        momentum=draw(st.sampled_from([0.1, 0.5, 1.0, None])),
        affine=draw(st.booleans()),
        track_running_stats=draw(st.booleans()),
        bias=draw(st.booleans()),
    )
    return name, C, shape, options


# --- the perceptron (dyadic data: exact arithmetic) (test_perceptron.py)


def dyadic(bound, denominator=4):
    """Multiples of 1/denominator in [-bound, bound]: sums and products of these are exact in
    float."""
    return st.integers(-bound * denominator, bound * denominator).map(lambda k: k / denominator)


@st.composite
def dyadic_problems(draw, dtype=np.float64):
    n, d = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    return dict(
        X=draw(hnp.arrays(dtype, (n, d), elements=dyadic(2))),
        y=draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1))),
        weight=draw(hnp.arrays(dtype, d, elements=dyadic(2))),
        bias=draw(dyadic(2)),
        threshold=draw(dyadic(1)),
        lr=draw(st.sampled_from([0.25, 0.5, 1.0, 2.0])),
        epochs=draw(st.integers(1, 12)),
    )


# --- the recurrent layers (test_rnn.py)


@st.composite
def rnn_case(draw):
    """A recurrent layer with every option drawn together, and shapes it takes (length 1, unbatched
    included)."""
    name = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    options = dict(
        num_layers=draw(st.integers(1, 2)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
    )
    if name == "RNN":
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    hidden = draw(st.integers(1, 4))
    if name == "LSTM" and hidden > 1 and draw(st.booleans()):
        options["proj_size"] = draw(st.integers(1, hidden - 1))
    length, batch = (
        draw(st.integers(1, 4), label="length"),
        draw(st.sampled_from([None, 1, 3]), label="batch"),
    )
    return (
        name,
        draw(st.integers(1, 3), label="input_size"),
        hidden,
        options,
        length,
        batch,
        draw(st.booleans(), label="hx"),
    )


def rnn_shapes(name, input_size, hidden, options, length, batch):
    """(input shape, h0 shape, c0 shape), as torch wants them."""
    D = 2 if options["bidirectional"] else 1
    h_out = options.get("proj_size") or hidden
    lead = (
        (length,)
        if batch is None
        else ((batch, length) if options["batch_first"] else (length, batch))
    )
    state = (D * options["num_layers"],) + (() if batch is None else (batch,))
    return lead + (input_size,), state + (h_out,), state + (hidden,)
