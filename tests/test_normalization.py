"""BatchNorm1d/2d/3d and LayerNorm against torch: forward, every gradient, running statistics over
many steps, train and eval, every option; finite differences; hard inputs; whole training runs;
buffers in the state dict; bad input that changes nothing."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
import scratch.nn.functional as F
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    check_module_finite_differences,
    copy_weights,
    to_numpy,
    train_twins,
)
from tests.strategies import DTYPES, batch_norm_case, floats


def values(dtype, low=-3.0, high=3.0):
    return floats(dtype, low, high)


def batch_norm_twins(name, C, options, dtype, seed=0):
    """A scratch BatchNorm and torch's, with random (not default) weight and bias copied across."""
    s = getattr(snn, name)(C, **options, dtype=dtype)
    rng = np.random.default_rng(seed)
    for p in s.parameters():  # distinct, non-trivial values: a swapped weight and bias cannot pass
        p.data[...] = rng.uniform(0.5, 2.0, p.shape)
    t = getattr(torch.nn, name)(C, **options, dtype=TORCH_DTYPE[np.dtype(dtype)])
    return s, copy_weights(s, t)


# Tolerances with reasons (float32 only; float64 keeps the default ~1e-10). Centring x subtracts
# its mean, so the rounding of x and of that mean (an ulp, 1.2e-7 |x|; the twins sum in different
# orders) becomes an error in x_hat of kappa ulps, kappa = max|x| / sqrt(var + eps), the centring's
# condition number: 316 |x| for a constant channel with eps = 1e-5 (x_hat 1.5e-5 in one twin against
# an exact 0 in the other, measured). So, from the case's own data, with 4 ulps of margin:
# - outputs: kappa ulps (times the weight, here at most 2);
# - the input's gradient: the backward subtracts x_hat * mean(g_hat x_hat), |x_hat| <= sqrt(m - 1)
# for m values averaged, and divides by sqrt(var + eps) again: kappa ulps times m, |g| and 1 / std;
# - parameter gradients: sums over m values of g times an x_hat carrying the outputs' error, and the
#   plain rounding of a sum of m products (each twin adds in its own order): m times either.
# Random float32 inputs are drawn well conditioned (a ramp added along the averaged axes keeps every
# channel's spread near 1, so kappa stays small and these scales near 1); the ill-conditioned ones
# (constant channels, huge offsets) are compared in float64 and in their own tests below.
def float32_scale(dtype, x, axes, eps, running_var=None, g=None):
    """(scale for outputs, for the input's gradient, for parameter gradients): multiples of atol."""
    if dtype != np.float32:
        return 1.0, 1.0, 1.0
    var = x.astype(np.float64).var(axis=axes).min()
    if running_var is not None:
        var = min(var, float(np.min(running_var)))
    inv_std = 1 / np.sqrt(var + eps)
    # kappa ulps, in atols
    ulps = 4 * np.finfo(np.float32).eps * max(np.max(np.abs(x)), 1.0) * inv_std / 1e-5
    m = x.size / np.prod([x.shape[a] for a in range(x.ndim) if a not in axes])
    g_max = 1.0 if g is None else max(1.0, 2 * np.max(np.abs(g)))
    out = max(1.0, 2 * ulps)
    return out, max(1.0, ulps * m * g_max * inv_std), max(1.0, out * g_max * m, m / 4)


def conditioned(x, axes):
    """x plus a ramp from -1 to 1 along the averaged axes: every channel (or sample) spread out."""
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    ramp = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    return (x + ramp).astype(x.dtype)


def step_both(s, t, x, g, dtype, scale=(1.0, 1.0, 1.0)):
    """One forward and backward in each twin; the outputs and every gradient compared."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_s, out_t = s(x), t(xt)
    assert out_s.dtype == dtype
    assert_close(out_s, out_t, dtype, scale=scale[0], err_msg="output")
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype, scale=scale[1], err_msg="input gradient")
    t_params = dict(t.named_parameters())
    for n, p in s.named_parameters():
        assert_close(p.grad, t_params[n].grad, dtype, scale=scale[2], err_msg=n)


def batch_norm_scale(s, x, dtype, g=None):
    axes = (0,) + tuple(range(2, x.ndim))
    running = s.running_var if (s.track_running_stats and not s.training) else None
    return float32_scale(dtype, x, axes, s.eps, running, g)


def assert_same_buffers(s, t, dtype):
    t_buffers = dict(t.named_buffers())
    assert [n for n, _ in s.named_buffers()] == list(t_buffers)
    for n, b in s.named_buffers():
        assert b.dtype == to_numpy(t_buffers[n]).dtype, n
        assert_close(b, t_buffers[n], dtype if b.dtype.kind == "f" else np.float64, err_msg=n)


@DTYPES
@given(data=st.data())
def test_batch_norm_matches_torch_over_training_steps_then_eval(dtype, data):
    """Four training steps (the running statistics compared after each), then two in eval mode."""
    name, C, shape, options = data.draw(batch_norm_case(dtype))
    s, t = batch_norm_twins(name, C, options, dtype)
    for mode in ["train"] * 4 + ["eval"] * 2:
        s.train(mode == "train"), t.train(mode == "train")
        x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)), label="x")
        if dtype == np.float32:
            x = conditioned(x, (0,) + tuple(range(2, x.ndim)))
        g = data.draw(hnp.arrays(dtype, shape, elements=values(dtype, -1, 1)), label="grad_output")
        s.zero_grad(), t.zero_grad()
        step_both(s, t, x, g, dtype, batch_norm_scale(s, x, dtype, g))
        assert_same_buffers(s, t, dtype)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_stay_torchs_over_many_steps(momentum):
    """100 training batches: the exponential (or, with momentum=None, cumulative) average and the
    counter agree with torch's to float64 rounding."""
    s, t = batch_norm_twins("BatchNorm2d", 3, dict(momentum=momentum), np.float64)
    rng = np.random.default_rng(0)
    for _ in range(100):
        x = rng.standard_normal((4, 3, 2, 2)) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
        s(x), t(torch.from_numpy(x))
    assert_same_buffers(s, t, np.float64)
    assert int(s.num_batches_tracked) == 100


def test_momentum_none_is_the_plain_mean_of_the_batch_statistics():
    """A closed form: with momentum=None, running_mean is the average of every batch's mean."""
    s = snn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((5, 2)) + i for i in range(7)]
    for x in batches:
        s(x)
    np.testing.assert_allclose(
        s.running_mean, np.mean([x.mean(axis=0) for x in batches], axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(
        s.running_var, np.mean([x.var(axis=0, ddof=1) for x in batches], axis=0), rtol=1e-12
    )


@st.composite
def layer_norm_case(draw, dtype):
    k = draw(st.integers(1, 3), label="normalised dims")
    normalized_shape = tuple(draw(st.integers(1, 4)) for _ in range(k))
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    options = dict(
        eps=draw(st.sampled_from([1e-5, 1e-2])),
        elementwise_affine=draw(st.booleans()),
        bias=draw(st.booleans()),
    )
    return normalized_shape, lead + normalized_shape, options


@DTYPES
@given(data=st.data())
def test_layer_norm_matches_torch(dtype, data):
    normalized_shape, shape, options = data.draw(layer_norm_case(dtype))
    s = snn.LayerNorm(normalized_shape, **options, dtype=dtype)
    rng = np.random.default_rng(0)
    for p in s.parameters():
        p.data[...] = rng.uniform(0.5, 2.0, p.shape)
    t = copy_weights(
        s, torch.nn.LayerNorm(normalized_shape, **options, dtype=TORCH_DTYPE[np.dtype(dtype)])
    )
    x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)), label="x")
    k = len(normalized_shape)
    if dtype == np.float32:
        x = conditioned(x, tuple(range(x.ndim - k, x.ndim)))
    g = data.draw(hnp.arrays(dtype, shape, elements=values(dtype, -1, 1)), label="grad_output")
    step_both(
        s,
        t,
        x,
        g,
        dtype,
        float32_scale(dtype, x, tuple(range(x.ndim - k, x.ndim)), options["eps"], g=g),
    )


@DTYPES
@given(data=st.data())
def test_the_functional_forms_match_torch(dtype, data):
    name, C, shape, options = data.draw(batch_norm_case(dtype))
    x = data.draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    if dtype == np.float32:
        x = conditioned(conditioned(x, (0,) + tuple(range(2, x.ndim))), (x.ndim - 1,))
    w, b = np.linspace(0.5, 2, C).astype(dtype), np.linspace(-1, 1, C).astype(dtype)
    mean, var = np.linspace(-1, 1, C).astype(dtype), np.linspace(0.5, 3, C).astype(dtype)
    training = data.draw(st.booleans())
    rm, rv = mean.copy(), var.copy()
    trm, trv = torch.from_numpy(mean.copy()), torch.from_numpy(var.copy())
    out = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3, eps=options["eps"])
    expected = torch.nn.functional.batch_norm(
        torch.from_numpy(x),
        trm,
        trv,
        torch.from_numpy(w),
        torch.from_numpy(b),
        training=training,
        momentum=0.3,
        eps=options["eps"],
    )
    axes = (0,) + tuple(range(2, x.ndim))
    assert_close(
        out,
        expected,
        dtype,
        scale=float32_scale(dtype, x, axes, options["eps"], None if training else var)[0],
    )
    assert_close(rm, trm, dtype), assert_close(rv, trv, dtype)
    shape_ln = shape[-1:]
    assert_close(
        F.layer_norm(x, shape_ln, eps=options["eps"]),
        torch.nn.functional.layer_norm(torch.from_numpy(x), shape_ln, eps=options["eps"]),
        dtype,
        scale=float32_scale(dtype, x, (x.ndim - 1,), options["eps"])[0],
    )


# --- finite differences


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@given(data=st.data())
def test_batch_norm_backward_matches_finite_differences(training, data):
    name, C, shape, options = data.draw(batch_norm_case(np.float64))
    # momentum 0: forward never moves the stats
    s = getattr(snn, name)(C, **{**options, "momentum": 0.0}, dtype=np.float64)
    for p in s.parameters():
        p.data[...] = np.linspace(0.5, 2, p.data.size).reshape(p.shape)
    if s.track_running_stats:
        s.running_mean[...], s.running_var[...] = np.linspace(-1, 1, C), np.linspace(0.5, 2, C)
    s.train(training)
    # spread out: near a constant channel the normalisation bends at the scale of sqrt(eps), and a
    # central difference with h = 1e-6 then measures that bend (its truncation error reaches ~1e-7),
    # not the slope
    x = conditioned(
        data.draw(hnp.arrays(np.float64, shape, elements=values(np.float64))),
        (0,) + tuple(range(2, len(shape))),
    )
    check_module_finite_differences(
        s, x, data.draw(hnp.arrays(np.float64, shape, elements=values(np.float64, -1, 1)))
    )


@given(data=st.data())
def test_layer_norm_backward_matches_finite_differences(data):
    normalized_shape, shape, options = data.draw(layer_norm_case(np.float64))
    s = snn.LayerNorm(normalized_shape, **options, dtype=np.float64)
    for p in s.parameters():
        p.data[...] = np.linspace(0.5, 2, p.data.size).reshape(p.shape)
    k = len(normalized_shape)  # spread out, as for batch norm above
    x = conditioned(
        data.draw(hnp.arrays(np.float64, shape, elements=values(np.float64))),
        tuple(range(len(shape) - k, len(shape))),
    )
    check_module_finite_differences(
        s, x, data.draw(hnp.arrays(np.float64, shape, elements=values(np.float64, -1, 1)))
    )


# --- hard inputs


@DTYPES
@pytest.mark.parametrize("name", ["BatchNorm1d", "LayerNorm"])
def test_a_constant_channel_has_variance_zero_and_stays_finite(dtype, name):
    x = np.full((4, 3), 7.0, dtype)
    x[:, 1] = np.arange(4)  # one channel varies, the others are constant
    s = getattr(snn, name)(3, dtype=dtype)
    t = copy_weights(s, getattr(torch.nn, name)(3, dtype=TORCH_DTYPE[np.dtype(dtype)]))
    axes = (0,) if name == "BatchNorm1d" else (1,)
    g = np.linspace(-1, 1, 12).reshape(4, 3).astype(dtype)
    step_both(s, t, x, g, dtype, float32_scale(dtype, x, axes, 1e-5, g=g))
    assert np.all(np.isfinite(s(x)))


@pytest.mark.parametrize("name", ["BatchNorm1d", "LayerNorm"])
def test_a_huge_offset_does_not_drown_the_signal(name):
    """1e6 + noise of size 1: a one-pass variance (E[x^2] - E[x]^2) loses ~all its digits in float64
    cancellation (1e12 against 1); the two-pass one keeps them, as torch does."""
    rng = np.random.default_rng(0)
    x = 1e6 + rng.standard_normal((8, 3))
    if name == "LayerNorm":
        x = x.T.copy()  # (3, 8): each sample's 8 features share the offset
    s = getattr(snn, name)(x.shape[1], dtype=np.float64)
    t = copy_weights(s, getattr(torch.nn, name)(x.shape[1], dtype=torch.float64))
    # atol 1e-8, with its reason: x itself is rounded at 1e6 (1.2e-10 absolute), an error the
    # centring keeps and the division by std ~1 does not shrink; 1e-8 is still 1e8 times smaller
    # than the signal kept
    assert_close(s(x), t(torch.from_numpy(x)), np.float64, scale=100)
    axis = 0 if name == "BatchNorm1d" else 1
    np.testing.assert_allclose(
        s(x),
        (x - x.mean(axis, keepdims=True)) / np.sqrt(x.var(axis, keepdims=True) + 1e-5),
        atol=1e-8,
    )


def test_a_batch_of_two_is_enough_to_train_and_has_a_closed_form():
    """Two values a, b per channel: mean (a + b) / 2, biased variance d^2 with d = (a - b) / 2, so
    x_hat = +-d / sqrt(d^2 + eps); the running variance moves towards the unbiased one, 2 d^2."""
    x = np.array([[1.0, 2.0, 3.0], [4.0, -2.0, 3.5]])
    s, t = snn.BatchNorm1d(3, dtype=np.float64), torch.nn.BatchNorm1d(3, dtype=torch.float64)
    step_both(s, t, x, np.ones_like(x), np.float64)
    assert_same_buffers(s, t, np.float64)
    d = (x[0] - x[1]) / 2
    np.testing.assert_allclose(s(x), np.stack([d, -d]) / np.sqrt(d * d + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(
        s.running_var, 0.9 * 0.9 * 1 + 0.9 * 0.1 * 2 * d * d + 0.1 * 2 * d * d, rtol=1e-12
    )


# --- whole training runs


def mlp(package, dtype, norm):
    """Linear -> norm -> ReLU -> Linear, from either package.

    No bias before BatchNorm, as is usual: BatchNorm subtracts each channel's mean, so such a bias
    has no effect and its gradient is 0 (test below). Its computed gradient is rounding noise
    (~1e-18), different in each twin, and Adam, which divides by the gradient's own size, turns that
    noise into full steps: the bias (and the running mean that includes it) would drift apart at
    1e-10 while every loss and output still agrees to 1e-16.
    """
    nn = snn if package == "scratch" else torch.nn
    kw = {"dtype": dtype if package == "scratch" else TORCH_DTYPE[np.dtype(dtype)]}
    layer = nn.BatchNorm1d(8, **kw) if norm == "batch" else nn.LayerNorm(8, **kw)
    return nn.Sequential(
        nn.Linear(4, 8, bias=norm != "batch", **kw), layer, nn.ReLU(), nn.Linear(8, 3, **kw)
    )


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_a_network_with_normalisation_trains_identically_for_120_steps(norm, optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 4)) * 2 + 1
    Y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    s = mlp("scratch", np.float64, norm)
    for p in s.parameters():
        p.data[...] = rng.uniform(-0.5, 0.5, p.shape) + (1.0 if p.shape == (8,) else 0.0)
    t = copy_weights(s, mlp("torch", np.float64, norm))
    s_losses, t_losses = train_twins(s, t, X, Y, optimizer)
    assert len(s_losses) == 120
    assert_close(s_losses, t_losses)
    assert s_losses[-1] < s_losses[0]
    assert_same_buffers(s, t, np.float64)  # the running statistics too
    s.eval(), t.eval()
    assert_close(s(X), t(torch.from_numpy(X)))


@given(
    x=hnp.arrays(np.float64, (6, 3), elements=values(np.float64)),
    g=hnp.arrays(np.float64, (6, 3), elements=values(np.float64)),
)
def test_batch_norms_input_gradient_sums_to_zero_per_channel_in_training(x, g):
    """A closed form: shifting a channel by c leaves a training batch norm's output unchanged, so
    the gradient summed over the batch (the gradient a bias before it would get) is 0."""
    s = snn.BatchNorm1d(3, dtype=np.float64)
    s(x)
    # each term is at most |g| / sqrt(var + eps); their sum cancels to rounding: 1e-13 of the terms'
    # total
    terms = np.abs(g).sum(axis=0) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(s.backward(g).sum(axis=0), 0, atol=1e-13 * terms.max() + 1e-300)


def test_weights_and_buffers_copy_both_ways():
    s, t = batch_norm_twins("BatchNorm2d", 3, {}, np.float32)
    t.train()
    t(torch.randn(4, 3, 2, 2))  # torch's statistics move
    s.load_state_dict(t.state_dict())
    assert_same_buffers(s, t, np.float32)
    assert s.num_batches_tracked.dtype == np.int64 and s.num_batches_tracked.shape == ()
    assert (
        list(s.state_dict())
        == list(t.state_dict())
        == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    )
    fresh = torch.nn.BatchNorm2d(3)
    copy_weights(s, fresh)
    assert int(fresh.num_batches_tracked) == 1


def test_untracked_statistics_are_absent_from_the_state_dict():
    s, t = (
        snn.BatchNorm1d(3, track_running_stats=False, affine=False),
        torch.nn.BatchNorm1d(3, track_running_stats=False, affine=False),
    )
    assert list(s.state_dict()) == list(t.state_dict()) == []
    s.eval()  # no running statistics: eval uses the batch's, as torch does
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    assert_close(s(x), t.eval()(torch.from_numpy(x)))


def test_buffers_move_to_the_device_and_back():
    s = snn.BatchNorm1d(2)
    s(np.ones((3, 2), np.float32) * np.arange(3, dtype=np.float32)[:, None])
    before = s.state_dict()
    for name, b in s.named_buffers():
        assert isinstance(b, np.ndarray), name
    for k, v in s.to("cpu").state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# --- bad input changes nothing


@pytest.mark.parametrize(
    "build, x, error, match",
    [
        (
            lambda: snn.BatchNorm2d(3),
            np.ones((2, 3, 4), np.float32),
            ValueError,
            r"BatchNorm2d: expected 4D input \(got 3D input\)",
        ),
        (
            lambda: snn.BatchNorm1d(3),
            np.ones((2, 3, 4, 5), np.float32),
            ValueError,
            r"expected 2D or 3D input \(got 4D input\)",
        ),
        (
            lambda: snn.BatchNorm3d(3),
            np.ones((2, 3, 4, 5), np.float32),
            ValueError,
            r"expected 5D input \(got 4D input\)",
        ),
        (
            lambda: snn.BatchNorm1d(3),
            np.ones((4, 5), np.float32),
            ValueError,
            r"expected input with 3 channels",
        ),
        (
            lambda: snn.BatchNorm1d(3),
            np.ones((1, 3), np.float32),
            ValueError,
            r"Expected more than 1 value per channel when training",
        ),
        (
            lambda: snn.BatchNorm2d(3),
            np.ones((1, 3, 1, 1), np.float32),
            ValueError,
            r"more than 1 value per channel",
        ),
        (
            lambda: snn.BatchNorm1d(3),
            np.ones((4, 3)),
            TypeError,
            r"pass input\.astype\(np\.float32\), or build it with dtype=np\.float64",
        ),
        (lambda: snn.BatchNorm1d(3), torch.ones(4, 3), TypeError, r"got a torch\.Tensor for input"),
        (
            lambda: snn.LayerNorm((4, 5)),
            np.ones((2, 5, 4), np.float32),
            ValueError,
            r"LayerNorm expected input of shape \(\*, 4, 5\)",
        ),
        (
            lambda: snn.LayerNorm(4),
            np.ones(3, np.float32),
            ValueError,
            r"expected input of shape \(\*, 4\), got \(3,\)",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(build, x, error, match):
    s = build()
    before = s.state_dict()
    with pytest.raises(error, match=match):
        s(x)
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_torch_refuses_the_same_inputs():
    """The same verdicts, from torch (in its words, where scratch borrows them)."""
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        torch.nn.BatchNorm2d(3)(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        torch.nn.LayerNorm((4, 5))(torch.ones(2, 5, 4))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: snn.BatchNorm1d(0), ValueError, "num_features must be >= 1"),
        (lambda: snn.BatchNorm1d(3, eps=0), ValueError, "eps must be > 0"),
        (lambda: snn.BatchNorm1d(3, momentum=1.5), ValueError, "momentum must be <= 1"),
        (lambda: snn.LayerNorm(()), ValueError, "at least one dimension"),
        (lambda: snn.LayerNorm((3, 0)), ValueError, "normalized_shape must be >= 1"),
        (
            lambda: F.layer_norm(np.ones((2, 3)), (4,)),
            ValueError,
            r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\]",
        ),
        (
            lambda: F.batch_norm(np.ones(3), None, None, training=True),
            ValueError,
            r"expects input of shape \(N, C, \*\)",
        ),
        (
            lambda: F.batch_norm(np.ones((4, 3)), np.zeros(2), np.ones(2)),
            ValueError,
            r"running_mean must have shape \(3,\)",
        ),
        (
            lambda: F.batch_norm(np.ones((4, 3)), np.zeros(3), None),
            ValueError,
            "both running_mean and running_var",
        ),
        (
            lambda: F.batch_norm(np.ones((4, 3)), None, None, np.ones(4), training=True),
            ValueError,
            r"weight must have shape \(3,\)",
        ),
        (
            lambda: F.layer_norm(np.ones((2, 3)), (3,), np.ones(4)),
            ValueError,
            r"weight must have normalized_shape \(3,\)",
        ),
    ],
)
def test_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_state_dict_with_a_fractional_batch_count_is_refused():
    s = snn.BatchNorm1d(2)
    state = {**s.state_dict(), "num_batches_tracked": np.array(2.5)}
    with pytest.raises(TypeError, match="num_batches_tracked.*integer"):
        s.load_state_dict(state)
    assert int(s.num_batches_tracked) == 0


def test_empty_inputs_behave_as_torchs():
    """Zero-size inputs: torch returns empty outputs, leaves the running statistics as they were
    (counting the batch) and gives zero weight gradients, all without a warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "Mean of empty slice" would fail here
        s, t = snn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
        x = np.zeros((0, 3, 2, 2), np.float32)
        xt = torch.from_numpy(x).requires_grad_(True)
        out_s, out_t = s(x), t(xt)
        assert out_s.shape == tuple(out_t.shape) == (0, 3, 2, 2)
        out_t.backward(torch.zeros_like(out_t))
        assert s.backward(np.zeros_like(out_s)).shape == (0, 3, 2, 2)
        for name, b in t.named_buffers():
            np.testing.assert_array_equal(dict(s.named_buffers())[name], b.numpy(), err_msg=name)
        for name, p in t.named_parameters():
            np.testing.assert_array_equal(dict(s.named_parameters())[name].grad, p.grad.numpy())
        for training in (False, True):
            e = np.zeros((0, 3))
            assert F.batch_norm(e, np.zeros(3), np.ones(3), training=training).shape == (0, 3)
        assert F.batch_norm(np.zeros((0, 3)), None, None, training=True).shape == (0, 3)
        for f in ("softmax", "log_softmax"):
            for shape, dim in (((3, 0), 1), ((0, 3), 1), ((2, 0, 4), 1)):
                got = getattr(F, f)(np.zeros(shape), dim=dim)
                assert got.shape == tuple(getattr(torch, f)(torch.zeros(shape), dim).shape)
