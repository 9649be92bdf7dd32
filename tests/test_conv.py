"""Convolution and pooling against torch: Conv1d/2d/3d with every option in combination, the
functional forms, MaxPool/AvgPool with ceil_mode, padding, dilation and indices, Flatten; finite
differences for every backward; torch's edge cases; a small CNN trained in both twins; bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
import scratch.nn.functional as F
from scratch.gradcheck import module_gradients
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    assert_matches_finite_differences,
    check_module_finite_differences,
    copy_weights,
    sum_rtol,
    train_twins,
)
from tests.strategies import DTYPES, conv_case, pool_case, values_within

# torch says that 'same' with an even kernel pads a copy of the input: true, and not this test's
# business
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


values = values_within(2.0)


def conv_twins(n, in_channels, out_channels, kernel, options, dtype, seed=0):
    s = getattr(snn, f"Conv{n}d")(
        in_channels,
        out_channels,
        kernel,
        **options,
        dtype=dtype,
        generator=np.random.default_rng(seed),
    )
    t = getattr(torch.nn, f"Conv{n}d")(
        in_channels, out_channels, kernel, **options, dtype=TORCH_DTYPE[np.dtype(dtype)]
    )
    return s, copy_weights(s, t)


# float32 tolerance, with its reason: every output and gradient is a sum of products over
# m = (in_channels / groups) * prod(kernel) terms (the weight's over N * prod(out)); the twins add
# them in different orders (BLAS blocking), so their rounding differs by ~ sqrt(m) ulps of the sum's
# terms; atol scaled by sqrt(m) (at most ~12 here).
def float32_scale(dtype, *term_counts):
    return max(1.0, math.sqrt(max(term_counts))) if dtype == np.float32 else 1.0


def check_against_torch(s, t, x, g, dtype, scale):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_s, out_t = s(x), t(xt)
    assert out_s.dtype == dtype and out_s.shape == tuple(out_t.shape)
    assert_close(out_s, out_t, dtype, scale=scale, err_msg="output")
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype, scale=scale, err_msg="input gradient")
    # the weight's gradient sums x * g over every sample and output position: one BLAS product of
    # that many terms in each twin, whose rounding can reach sum_rtol's bound (equal values do)
    positions = g.size // g.shape[-s.dims - 1]
    for name, p in t.named_parameters():
        rtol = sum_rtol(positions, dtype, pairwise=False) if name == "weight" else None
        got = dict(s.named_parameters())[name].grad
        assert_close(got, p.grad, dtype, scale=scale, rtol=rtol, err_msg=name)


@DTYPES
@given(case=conv_case(), data=st.data())
def test_conv_matches_torch_for_every_option_in_combination(dtype, case, data):
    n, c_in, c_out, kernel, options, shape = case
    s, t = conv_twins(n, c_in, c_out, kernel, options, dtype)
    x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)), label="x")
    out_shape = s(x).shape
    g = data.draw(hnp.arrays(dtype, out_shape, elements=values(dtype)), label="grad_output")
    m = c_in // options["groups"] * math.prod(kernel)
    check_against_torch(s, t, x, g, dtype, float32_scale(dtype, m, x.size))


@given(case=conv_case(), data=st.data())
# each example is ~200 forward passes
@settings(max_examples=max(10, settings.default.max_examples // 2))
def test_conv_backward_matches_finite_differences(case, data):
    n, c_in, c_out, kernel, options, shape = case
    assume(math.prod(shape) <= 80)
    s = getattr(snn, f"Conv{n}d")(
        c_in, c_out, kernel, **options, dtype=np.float64, generator=np.random.default_rng(1)
    )
    x = data.draw(hnp.arrays(np.float64, shape, elements=values(np.float64)))
    check_module_finite_differences(
        s, x, data.draw(hnp.arrays(np.float64, s(x).shape, elements=values(np.float64)))
    )


@DTYPES
@given(case=conv_case(), data=st.data())
def test_the_functional_forms_match_torch(dtype, case, data):
    n, c_in, c_out, kernel, options, shape = case
    options = {k: v for k, v in options.items() if k not in ("bias", "padding_mode")}
    x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    w = data.draw(
        hnp.arrays(dtype, (c_out, c_in // options["groups"]) + kernel, elements=values(dtype))
    )
    b = data.draw(st.none() | hnp.arrays(dtype, (c_out,), elements=values(dtype)))
    out = getattr(F, f"conv{n}d")(x, w, b, **options)
    expected = getattr(TF, f"conv{n}d")(
        torch.from_numpy(x),
        torch.from_numpy(w),
        None if b is None else torch.from_numpy(b),
        **options,
    )
    assert_close(out, expected, dtype, scale=float32_scale(dtype, c_in * math.prod(kernel)))


# --- torch's edge cases, each named


EDGE_CASES = {
    "1x1 kernel": (2, 4, 3, (1, 1), dict(), (2, 4, 5, 5)),
    "kernel == input size": (2, 2, 3, (4, 3), dict(), (2, 2, 4, 3)),
    "'same' with even kernels": (2, 2, 2, (2, 4), dict(padding="same"), (1, 2, 5, 6)),
    "dilation > 1 with 'same'": (
        2,
        2,
        2,
        (3, 2),
        dict(padding="same", dilation=(2, 3)),
        (1, 2, 7, 7),
    ),
    "groups == in_channels (depthwise)": (2, 4, 8, (3, 3), dict(groups=4, padding=1), (2, 4, 5, 5)),
    "3-d, strided, reflect": (
        3,
        2,
        2,
        (3, 3, 3),
        dict(stride=2, padding=1, padding_mode="reflect"),
        (1, 2, 5, 4, 6),
    ),
    "1-d, circular, unbatched": (1, 3, 2, (3,), dict(padding=2, padding_mode="circular"), (3, 4)),
}


@DTYPES
@pytest.mark.parametrize("case", list(EDGE_CASES.values()), ids=list(EDGE_CASES))
def test_torchs_edge_cases(dtype, case):
    n, c_in, c_out, kernel, options, shape = case
    s, t = conv_twins(n, c_in, c_out, kernel, options, dtype, seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(s(x).shape).astype(dtype)
    check_against_torch(s, t, x, g, dtype, float32_scale(dtype, c_in * math.prod(kernel), x.size))


def test_same_padding_puts_the_extra_row_on_the_right_and_bottom():
    """A closed form: with an even kernel of ones, 'same' output[i] sums x[i - 0 .. i + 1]: the one
    extra zero of padding is after the input, as torch pads it."""
    s = snn.Conv1d(1, 1, 2, padding="same", bias=False, dtype=np.float64)
    s.weight.data[...] = 1.0
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    np.testing.assert_array_equal(s(x), [[[3.0, 5.0, 7.0, 4.0]]])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_init_is_torchs_uniform_with_fan_in_over_the_group(n):
    """weight and bias ~ U(+-1/sqrt(fan_in)), fan_in = in_channels / groups * prod(kernel): inside
    the bound, and reaching near it (the extremes of 2,000+ uniform draws lie within 0.5% of it)."""
    s = getattr(snn, f"Conv{n}d")(
        8, 32, 3, groups=2, dtype=np.float64, generator=np.random.default_rng(0)
    )
    bound = 1 / math.sqrt(4 * 3**n)
    for p in (s.weight.data, s.bias.data):
        assert np.abs(p).max() <= bound
    assert np.abs(s.weight.data).max() > 0.99 * bound


# --- pooling


@DTYPES
@given(case=pool_case("max"), data=st.data(), ties=st.booleans())
def test_max_pool_matches_torch_with_indices_and_ties(dtype, case, data, ties):
    """Ties (values on a coarse grid) are where an argmax can differ: torch keeps the first."""
    n, kernel, options, shape = case
    elements = st.sampled_from([-1.0, 0.0, 0.5, 1.0]) if ties else values(dtype)
    x = data.draw(hnp.arrays(dtype, shape, elements=elements))
    s = getattr(snn, f"MaxPool{n}d")(kernel, **options, return_indices=True)
    t = getattr(torch.nn, f"MaxPool{n}d")(kernel, **options, return_indices=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    (out, indices), (out_t, indices_t) = s(x), t(xt)
    assert_close(out, out_t, dtype)
    np.testing.assert_array_equal(indices, indices_t.numpy())
    g = data.draw(hnp.arrays(dtype, out.shape, elements=values(dtype)))
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward((g, None)), xt.grad, dtype, err_msg="input gradient")
    out_f, indices_f = getattr(F, f"max_pool{n}d")(x, kernel, **options, return_indices=True)
    np.testing.assert_array_equal(out_f, out), np.testing.assert_array_equal(indices_f, indices)


@DTYPES
@given(case=pool_case("avg"), data=st.data())
def test_avg_pool_matches_torch_for_every_option(dtype, case, data):
    n, kernel, options, shape = case
    x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    s = getattr(snn, f"AvgPool{n}d")(kernel, **options)
    t = getattr(torch.nn, f"AvgPool{n}d")(kernel, **options)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out, out_t = s(x), t(xt)
    assert_close(out, out_t, dtype)
    g = data.draw(hnp.arrays(dtype, out.shape, elements=values(dtype)))
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype, err_msg="input gradient")
    assert_close(getattr(F, f"avg_pool{n}d")(x, kernel, **options), out_t, dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pooling_backward_matches_finite_differences(kind, data):
    n, kernel, options, shape = data.draw(pool_case(kind))
    assume(math.prod(shape) <= 100)
    # distinct values 0.1 apart, in a drawn order: a max is differentiable where its winner leads by
    # more than h
    order = data.draw(st.permutations(range(math.prod(shape))), label="order")
    x = (np.array(order, dtype=np.float64) * 0.1 - 1.0).reshape(shape)
    s = getattr(snn, f"{kind.capitalize()}Pool{n}d")(kernel, **options)
    g = data.draw(hnp.arrays(np.float64, s(x).shape, elements=values(np.float64)))
    s(x)
    analytic = s.backward(g)
    numeric = module_gradients(s, x, g)["input"]
    assert_matches_finite_differences(analytic, numeric, np.sum(g * s(x)))


def test_max_pool_sends_each_windows_gradient_to_its_first_maximum():
    """A closed form on ties: windows of [1, 1] and [2, 2]: the first of each pair gets it all."""
    s = snn.MaxPool1d(2)
    s(np.array([[[1.0, 1.0, 2.0, 2.0]]]))
    np.testing.assert_array_equal(
        s.backward(np.array([[[10.0, 20.0]]])), [[[10.0, 0.0, 20.0, 0.0]]]
    )


def test_overlapping_windows_add_their_gradients():
    """stride 1, kernel 2 over [0, 3, 1]: 3 wins both windows, so it gets both gradients."""
    s = snn.MaxPool1d(2, stride=1)
    s(np.array([[[0.0, 3.0, 1.0]]]))
    np.testing.assert_array_equal(s.backward(np.array([[[1.0, 2.0]]])), [[[0.0, 3.0, 0.0]]])


@pytest.mark.parametrize("start_dim, end_dim", [(1, -1), (0, -1), (1, 2), (2, 3), (-2, -1)])
def test_flatten_matches_torch_and_its_backward_is_a_reshape(start_dim, end_dim):
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    s, t = snn.Flatten(start_dim, end_dim), torch.nn.Flatten(start_dim, end_dim)
    out = s(x)
    np.testing.assert_array_equal(out, t(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(s.backward(out * 2), x * 2)


# --- a small CNN, trained in both twins


def cnn(package, dtype):
    """Conv2d -> ReLU -> MaxPool2d -> Conv2d -> ReLU -> Flatten -> Linear, for 1x8x8 images, 3
    classes."""
    nn = snn if package == "scratch" else torch.nn
    kw = {"dtype": dtype if package == "scratch" else TORCH_DTYPE[np.dtype(dtype)]}
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, **kw),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, **kw),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 3, **kw),
    )


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_a_small_cnn_trains_identically_in_both_twins_for_120_steps(optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 1, 8, 8))
    Y = (X[:, 0, :4].mean(axis=(1, 2)) > X[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64) + (
        X[:, 0, :, 0].mean(axis=1) > 0.3
    )
    s = cnn("scratch", np.float64)
    for p in s.parameters():
        p.data[...] = rng.uniform(-0.4, 0.4, p.shape)
    t = copy_weights(s, cnn("torch", np.float64))
    s_losses, t_losses = train_twins(s, t, X, Y, optimizer)
    assert len(s_losses) == 120
    assert_close(s_losses, t_losses)
    assert np.mean(s_losses[-12:]) < np.mean(s_losses[:12])
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].data, p, err_msg=name)


# --- bad input


@pytest.mark.parametrize(
    "build, x, error, match",
    [
        (
            lambda: snn.Conv2d(3, 6, 5),
            np.ones((1, 4, 28, 28), np.float32),
            ValueError,
            r"Given groups=1, weight of size \[6, 3, 5, 5\], expected input\[1, 4, 28, 28\] to "
            r"have 3 channels, but got 4 channels instead",
        ),
        (
            lambda: snn.Conv2d(3, 6, 3),
            np.ones((2, 1, 3, 8, 8), np.float32),
            ValueError,
            r"Expected 3D \(unbatched\) or 4D \(batched\) input to Conv2d, but got input of size: "
            r"\[2, 1, 3, 8, 8\]",
        ),
        (
            lambda: snn.Conv2d(1, 1, 3),
            np.ones((1, 1, 2, 5), np.float32),
            ValueError,
            r"Calculated padded input size per channel: \(2 x 5\). Kernel size: \(3 x 3\). Kernel "
            r"size can't be greater",
        ),
        (
            lambda: snn.Conv1d(1, 1, 3, dilation=3),
            np.ones((1, 1, 6), np.float32),
            ValueError,
            r"Kernel size: \(7\)",
        ),
        (
            lambda: snn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect"),
            np.ones((1, 1, 3, 8), np.float32),
            ValueError,
            r"padding \(3, 3\) with padding_mode='reflect' must be at most 2",
        ),
        (
            lambda: snn.Conv2d(1, 1, 3),
            np.ones((1, 1, 5, 5)),
            TypeError,
            r"pass input\.astype\(np\.float32\)",
        ),
        (
            lambda: snn.MaxPool2d(2),
            np.ones((2, 3, 4, 5, 6), np.float32),
            ValueError,
            r"expected 3D \(unbatched\) or 4D",
        ),
        (
            lambda: snn.MaxPool2d(3, padding=2),
            np.ones((1, 1, 5, 5), np.float32),
            ValueError,
            "pad should be smaller than or equal to half of kernel size",
        ),
        (
            lambda: snn.AvgPool1d(4),
            np.ones((1, 1, 3), np.float32),
            ValueError,
            "output size is too small",
        ),
    ],
)
def test_bad_input_is_refused_in_words_and_changes_nothing(build, x, error, match):
    s = build()
    before = s.state_dict()
    with pytest.raises(error, match=match):
        s(x)
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: snn.Conv2d(3, 6, 3, groups=2), "in_channels must be divisible by groups"),
        (lambda: snn.Conv2d(4, 6, 3, groups=4), "out_channels must be divisible by groups"),
        (
            lambda: snn.Conv2d(2, 2, 3, padding="full"),
            r"Invalid padding string 'full', should be one of \{'valid', 'same'\}",
        ),
        (
            lambda: snn.Conv2d(2, 2, 3, padding="same", stride=2),
            "padding='same' is not supported for strided convolutions",
        ),
        (lambda: snn.Conv2d(2, 2, 3, padding_mode="mirror"), "padding_mode must be one of"),
        (lambda: snn.Conv2d(2, 2, (3, 3, 3)), r"kernel_size must be an int or a tuple of 2 ints"),
        (lambda: snn.Conv2d(2, 2, 0), "kernel_size must be >= 1"),
    ],
)
def test_bad_arguments_are_refused_as_torch_refuses_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: F.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3))),
            ValueError,
            r"conv2d: weight must have shape \(C_out, C_in / groups, k, k\), got \(3, 2, 3\)",
        ),
        (
            lambda: F.conv1d(np.ones((1, 2, 5)), np.ones((3, 2, 3)), stride=0),
            ValueError,
            "stride must be >= 1",
        ),
        (
            lambda: F.conv1d(np.ones((1, 2, 5)), np.ones((3, 2, 3)), np.ones(1)),
            ValueError,
            # NumPy would broadcast it silently
            r"bias must have shape \(3,\), one per output channel, got \(1,\)",
        ),
        (
            lambda: F.conv3d(np.ones((1, 2, 5, 5, 5)), np.ones((3, 2, 3, 3, 3)), dilation=(1, 2)),
            ValueError,
            "dilation must be an int or a tuple of 3 ints",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=(1, 0)),
            ValueError,
            "stride must be >= 1",
        ),
        (
            lambda: F.avg_pool3d(np.ones((1, 1, 4, 4, 4)), (2, 2)),
            ValueError,
            "kernel_size must be an int or a tuple of 3 ints",
        ),
    ],
)
def test_the_functional_forms_check_their_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda nn: nn.Conv2d(3, 6, 3, groups=2),
        lambda nn: nn.Conv2d(4, 6, 3, groups=4),
        lambda nn: nn.Conv2d(2, 2, 3, padding="full"),
        lambda nn: nn.Conv2d(2, 2, 3, padding="same", stride=2),
        lambda nn: nn.Conv2d(2, 2, 3, padding_mode="mirror"),
    ],
)
def test_torch_refuses_the_same_arguments(call):
    with pytest.raises(ValueError):
        call(torch.nn)


def test_the_twins_conv_and_pool_reprs_are_torchs():
    s = snn.Sequential(
        snn.Conv2d(3, 6, 5),
        snn.Conv2d(
            4,
            4,
            (3, 2),
            stride=2,
            padding=1,
            dilation=2,
            groups=2,
            bias=False,
            padding_mode="reflect",
        ),
        snn.MaxPool2d(2),
        snn.AvgPool2d(3, stride=1, padding=1),
        snn.Flatten(),
        snn.Conv1d(2, 2, 3, padding="same"),
        snn.MaxPool1d(2, return_indices=True),
        snn.AvgPool1d(2),
        snn.Conv3d(2, 2, (1, 2, 3)),
    )
    t = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5),
        torch.nn.Conv2d(
            4,
            4,
            (3, 2),
            stride=2,
            padding=1,
            dilation=2,
            groups=2,
            bias=False,
            padding_mode="reflect",
        ),
        torch.nn.MaxPool2d(2),
        torch.nn.AvgPool2d(3, stride=1, padding=1),
        torch.nn.Flatten(),
        torch.nn.Conv1d(2, 2, 3, padding="same"),
        torch.nn.MaxPool1d(2, return_indices=True),
        torch.nn.AvgPool1d(2),
        torch.nn.Conv3d(2, 2, (1, 2, 3)),
    )
    assert repr(s) == repr(t)
    assert list(s.state_dict()) == list(t.state_dict())
    assert {k: v.shape for k, v in s.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }


def test_sliding_windows_cover_exactly_what_torch_unfold_takes():
    """An independent oracle for the window view: torch's F.unfold (im2col) of the same padded
    input."""
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float64).reshape(2, 3, 6, 7)
    from scratch.nn import _sliding

    win = _sliding.windows(x, (2, 3), (2, 1), (1, 2))  # (2, 3, 3, 3, 2, 3)
    # (2, 3*2*3, 3*3)
    cols = TF.unfold(torch.from_numpy(x), (2, 3), dilation=(1, 2), stride=(2, 1)).numpy()
    np.testing.assert_array_equal(win.transpose(0, 1, 4, 5, 2, 3).reshape(2, 18, 9), cols)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_functional_convs_with_their_defaults_are_torchs(d):
    """F.conv1d/2d/3d called with input and weight alone: every default (stride, padding, dilation,
    groups) must be torch's. torch's functional convs are builtins, so the signature test cannot
    read their defaults: a dilation default of 0 passed it."""
    rng = np.random.default_rng(d)
    x, w, b = (
        rng.standard_normal((2, 2) + (5,) * d),
        rng.standard_normal((3, 2) + (2,) * d),
        rng.standard_normal(3),
    )
    f, tf = getattr(F, f"conv{d}d"), getattr(TF, f"conv{d}d")
    assert_close(f(x, w), tf(torch.from_numpy(x), torch.from_numpy(w)))
    assert_close(f(x, w, b), tf(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_functional_convs_refuse_zero_groups(d):
    x, w = np.zeros((1, 2) + (5,) * d), np.zeros((2, 1) + (3,) * d)
    with pytest.raises(RuntimeError):  # torch: "non-positive groups is not supported"
        getattr(TF, f"conv{d}d")(torch.from_numpy(x), torch.from_numpy(w), groups=0)
    with pytest.raises(ValueError, match="groups must be >= 1, got 0"):
        getattr(F, f"conv{d}d")(x, w, groups=0)


def test_flatten_of_a_0d_input_is_torchs():
    """torch flattens a 0-d tensor with start_dim 0 to shape (1,), and refuses start_dim 1."""
    s, t = snn.Flatten(0), torch.nn.Flatten(0)
    x = np.array(3.0)
    xt = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    out_s, out_t = s(x), t(xt)
    assert out_s.shape == tuple(out_t.shape) == (1,)
    out_t.backward(torch.tensor([2.0], dtype=torch.float64))
    got = s.backward(np.array([2.0]))
    assert got.shape == () and float(got) == float(xt.grad)
    with pytest.raises(IndexError):
        torch.nn.Flatten()(torch.tensor(3.0))
    with pytest.raises(
        ValueError, match="start_dim=1 is out of range for an input of 0 dimensions"
    ):
        snn.Flatten()(x)
