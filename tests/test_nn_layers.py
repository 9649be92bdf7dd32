"""scratch.nn layers against torch.nn: forward, backward (input and parameter gradients), finite
differences, Module bookkeeping, initialisation statistics, state_dict and bad input."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    check_module_finite_differences,
    copy_weights,
    sum_rtol,
)
from tests.strategies import DTYPES, values_within

values = values_within(3.0)


def arrays(dtype, shape, bound=3.0):
    return hnp.arrays(dtype, shape, elements=values(dtype, bound))


def pair(name, dtype, *args, **kw):
    """A scratch layer and its torch twin with the same weights (copied through state_dict)."""
    s = getattr(snn, name)(*args, **kw, **({"dtype": dtype} if name == "Linear" else {}))
    t = getattr(torch.nn, name)(
        *args, **kw, **({"dtype": TORCH_DTYPE[np.dtype(dtype)]} if name == "Linear" else {})
    )
    copy_weights(s, t)
    return s, t


def check_against_torch(s, t, x, grad_output, dtype):
    """forward equal; backward(grad_output) equal to autograd's input and parameter gradients."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_s, out_t = s(x), t(xt)
    assert out_s.dtype == dtype
    assert_close(out_s, out_t, dtype)
    out_t.backward(torch.from_numpy(grad_output))
    assert_close(s.backward(grad_output), xt.grad, dtype)
    t_params = dict(t.named_parameters())
    for name, p in s.named_parameters():
        assert_close(p.grad, t_params[name].grad, dtype, err_msg=name)


@st.composite
def batched(draw, dtype, features, bound=3.0):
    """(features,) with no batch, or (N, features) with N >= 1, or (N, M, features)."""
    lead = draw(
        st.sampled_from([(), (1,), (draw(st.integers(2, 5)),), (2, draw(st.integers(1, 3)))])
    )
    return draw(arrays(dtype, lead + (features,), bound))


# --- Linear


@DTYPES
@given(
    data=st.data(),
    in_features=st.integers(1, 6),
    out_features=st.integers(1, 6),
    bias=st.booleans(),
)
def test_linear_matches_torch(dtype, data, in_features, out_features, bias):
    s, t = pair("Linear", dtype, in_features, out_features, bias=bias)
    x = data.draw(batched(dtype, in_features))
    g = data.draw(arrays(dtype, x.shape[:-1] + (out_features,)))
    check_against_torch(s, t, x, g, dtype)


@given(data=st.data(), in_features=st.integers(1, 4), out_features=st.integers(1, 4))
def test_linear_backward_matches_finite_differences(data, in_features, out_features):
    s = snn.Linear(in_features, out_features, dtype=np.float64, generator=np.random.default_rng(0))
    x = data.draw(batched(np.float64, in_features))
    check_module_finite_differences(
        s, x, data.draw(arrays(np.float64, x.shape[:-1] + (out_features,)))
    )


def test_linear_gradients_accumulate_until_zero_grad():
    s = snn.Linear(3, 2, dtype=np.float64, generator=np.random.default_rng(0))
    x, g = np.ones((4, 3)), np.ones((4, 2))
    s(x)
    s.backward(g)
    once = s.weight.grad.copy()
    s(x)
    s.backward(g)
    np.testing.assert_array_equal(s.weight.grad, 2 * once)
    s.zero_grad()
    assert s.weight.grad is None and s.bias.grad is None


# --- activations


ACTIVATIONS = [
    ("ReLU", {}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Softmax", {"dim": -1}),
    ("LogSoftmax", {"dim": -1}),
    ("Softmax", {"dim": 0}),
    ("LogSoftmax", {"dim": 0}),
]


@DTYPES
@pytest.mark.parametrize("name, kw", ACTIVATIONS, ids=[f"{n}{kw}" for n, kw in ACTIVATIONS])
@given(data=st.data())
def test_activation_matches_torch(dtype, name, kw, data):
    s, t = pair(name, dtype, **kw)
    x = data.draw(batched(dtype, data.draw(st.integers(1, 5)), bound=20.0))
    g = data.draw(arrays(dtype, x.shape))
    check_against_torch(s, t, x, g, dtype)


@pytest.mark.parametrize("name, kw", ACTIVATIONS, ids=[f"{n}{kw}" for n, kw in ACTIVATIONS])
@given(data=st.data())
def test_activation_backward_matches_finite_differences(name, kw, data):
    s = getattr(snn, name)(**kw)
    x = data.draw(batched(np.float64, data.draw(st.integers(1, 4))))
    if name == "ReLU":
        assume(np.abs(x).min() > 1e-3)  # the kink: a difference across 0 measures neither side
    check_module_finite_differences(s, x, data.draw(arrays(np.float64, x.shape)))


def test_relu_gradient_at_exactly_zero_is_zero_as_in_torch():
    x = np.array([-1.0, 0.0, 1.0])
    s = snn.ReLU()
    s(x)
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).sum().backward()
    np.testing.assert_array_equal(s.backward(np.ones(3)), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(xt.grad.numpy(), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ["Sigmoid", "Softmax", "LogSoftmax"])
def test_huge_inputs_stay_finite(name):
    x = np.array([[-1e4, 0.0, 1e4], [800.0, 800.0, -800.0]])
    kw = {} if name == "Sigmoid" else {"dim": 1}
    s, t = pair(name, np.float64, **kw)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out = s(x)
    # log-softmax too: these rows give 0, -1e4, -2e4 and -log 2, -log 2, -1600 - log 2
    assert np.all(np.isfinite(out))
    assert_close(out, t(torch.from_numpy(x)))


# --- Sequential and Module bookkeeping


@DTYPES
@given(data=st.data(), sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4))
def test_sequential_matches_torch(dtype, data, sizes):
    layers_s, layers_t = [], []
    for a, b in zip(sizes, sizes[1:]):
        ls, lt = pair("Linear", dtype, a, b)
        layers_s += [ls, snn.Tanh()]
        layers_t += [lt, torch.nn.Tanh()]
    s, t = snn.Sequential(*layers_s), torch.nn.Sequential(*layers_t)
    assert list(s.state_dict()) == list(t.state_dict())  # '0.weight', '0.bias', '2.weight', ...
    x = data.draw(batched(dtype, sizes[0]))
    check_against_torch(s, t, x, data.draw(arrays(dtype, x.shape[:-1] + (sizes[-1],))), dtype)


def test_named_parameters_and_state_dict_follow_torch():
    s = snn.Sequential(snn.Linear(3, 4), snn.ReLU(), snn.Linear(4, 2, bias=False))
    t = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2, bias=False)
    )
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert {k: v.shape for k, v in s.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    assert len(list(s.parameters())) == 3
    assert s.training and not s.eval().training and not s[0].training and s.train().training


def test_forward_accepts_input_by_keyword():
    s = snn.Linear(2, 1)
    np.testing.assert_array_equal(
        s(input=np.ones((1, 2), np.float32)), s(np.ones((1, 2), np.float32))
    )


# --- state_dict: both ways, checked, atomic


def test_load_state_dict_from_torch_tensors_and_back():
    t = torch.nn.Linear(4, 3)
    s = snn.Linear(4, 3)
    s.load_state_dict(t.state_dict())
    t2 = torch.nn.Linear(4, 3)
    copy_weights(s, t2)
    for k, v in t.state_dict().items():
        assert torch.equal(t2.state_dict()[k], v)


def test_load_state_dict_takes_parameters_that_require_grad():
    """torch's named_parameters() hold tensors that require grad (NumPy cannot read them as they
    are)."""
    t = torch.nn.Linear(4, 3)
    s = snn.Linear(4, 3)
    s.load_state_dict(dict(t.named_parameters()))
    np.testing.assert_array_equal(s.weight.data, t.weight.detach().numpy())


BAD_STATE = [
    (lambda d: d.pop("bias"), RuntimeError, 'Missing key\\(s\\) in state_dict: "bias"'),
    (
        lambda d: d.update(extra=np.zeros(1)),
        RuntimeError,
        'Unexpected key\\(s\\) in state_dict: "extra"',
    ),
    (lambda d: d.update(bias=np.zeros(4)), RuntimeError, "size mismatch for bias"),
    # the transpose
    (lambda d: d.update(weight=np.zeros((4, 3))), RuntimeError, "size mismatch for weight"),
    (lambda d: d.update(bias=np.array(["a", "b", "c"])), TypeError, "real numbers"),
    (lambda d: d.update(bias=np.array([object()] * 3)), TypeError, "real numbers"),
]


@pytest.mark.parametrize("corrupt, error, match", BAD_STATE)
def test_load_state_dict_rejects_bad_input_and_changes_nothing(corrupt, error, match):
    s = snn.Linear(4, 3)
    before = s.state_dict()
    # the good weight would load first, if not checked
    bad = {"weight": np.ones((3, 4)), "bias": np.ones(3)}
    corrupt(bad)
    with pytest.raises(error, match=match):
        s.load_state_dict(bad)
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# --- initialisation: torch's distribution, tested statistically


def ks_statistic_uniform(samples, low, high):
    """The Kolmogorov-Smirnov distance between the samples' empirical CDF and U(low, high)'s."""
    x = np.sort((samples - low) / (high - low))
    n = len(x)
    return max(np.max(np.arange(1, n + 1) / n - x), np.max(x - np.arange(n) / n))


@pytest.mark.parametrize("in_features", [3, 50, 400])
def test_linear_init_follows_torchs_uniform_bounds(in_features):
    """Weights and biases ~ U(-1/sqrt(in), 1/sqrt(in)), torch's default (kaiming_uniform_,
    a=sqrt(5)).

    One-sample KS test with a fixed seed: the critical value 1.95 / sqrt(n) has a false-alarm rate
    of 0.1% under the null; with the seed fixed, the outcome is the same on every run.
    """
    bound = 1 / math.sqrt(in_features)
    s = snn.Linear(in_features, 64, dtype=np.float64, generator=np.random.default_rng(12345))
    for samples in (
        s.weight.data.ravel(),
        np.concatenate(
            [
                snn.Linear(
                    in_features, 64, dtype=np.float64, generator=np.random.default_rng(i)
                ).bias.data
                for i in range(40)
            ]
        ),
    ):
        assert samples.min() >= -bound and samples.max() <= bound
        assert ks_statistic_uniform(samples, -bound, bound) < 1.95 / math.sqrt(len(samples))
    # torch's own draw passes the same test against the same bounds: they are torch's
    torch.manual_seed(0)
    t = torch.nn.Linear(in_features, 64).weight.detach().numpy().ravel()
    assert ks_statistic_uniform(t.astype(np.float64), -bound, bound) < 1.95 / math.sqrt(len(t))


def test_a_fixed_generator_gives_the_same_weights():
    a = snn.Linear(5, 3, generator=np.random.default_rng(7))
    b = snn.Linear(5, 3, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


# --- bad input


def test_linear_rejects_a_wrong_feature_count_and_dtype():
    s = snn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear expected input of shape \(\*, 3\), got \(4, 2\)"):
        s(np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="dtype float32"):
        s(np.ones((4, 3), np.float64))


@pytest.mark.parametrize(
    "name, kw",
    [
        ("Linear", dict(in_features=3, out_features=2)),
        ("ReLU", {}),
        ("Sigmoid", {}),
        ("Tanh", {}),
        ("Softmax", {"dim": 1}),
        ("LogSoftmax", {"dim": 1}),
    ],
)
def test_backward_before_forward_and_misshaped_gradients_are_refused(name, kw):
    s = getattr(snn, name)(**kw)
    with pytest.raises(RuntimeError, match="before forward"):
        s.backward(np.ones((4, 2), np.float32))
    out = s(np.ones((4, 3), np.float32) if name == "Linear" else np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        s.backward(np.ones(out.shape[:-1] + (out.shape[-1] + 1,), np.float32))


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (0, ValueError, "in_features must be >= 1"),
        (-1, ValueError, "in_features must be >= 1"),
        (2.5, TypeError, "in_features must be an integer"),
        (True, TypeError, "in_features must be an integer"),
    ],
)
def test_linear_sizes_must_be_positive_integers(bad, error, match):
    with pytest.raises(error, match=match):  # torch: TypeError for a non-integer size
        snn.Linear(bad, 2)
    with pytest.raises(error, match=match.replace("in_", "out_")):
        snn.Linear(2, bad)


def test_a_module_without_forward_says_so_by_name():
    class Half(snn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Half has no forward"):
        Half()(np.ones(2))
    with pytest.raises(NotImplementedError, match="Half has no backward"):
        Half().backward(np.ones(2))


def test_unsupported_torch_options_say_so():
    with pytest.raises(NotImplementedError, match="inplace"):
        snn.ReLU(inplace=True)
    with pytest.raises(NotImplementedError, match="dim=None"):
        snn.Softmax()(np.ones(3))


def test_init_refuses_what_torch_refuses():
    w, t = np.zeros((3, 2)), torch.zeros(3, 2)
    # a typo'd mode used fan_out silently
    for init in (snn.init.kaiming_uniform_, torch.nn.init.kaiming_uniform_):
        with pytest.raises(
            ValueError,
            match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]",
        ):
            init(w if init is snn.init.kaiming_uniform_ else t, mode="fan_avg")
    # NumPy's uniform would draw from (0, 1] silently
    with pytest.raises(ValueError, match="a=1.0 > b=0.0"):
        snn.init.uniform_(w, 1.0, 0.0)
    # torch refuses it too (a RuntimeError there)
    with pytest.raises(RuntimeError, match="from=1 > to=0"):
        torch.nn.init.uniform_(t, 1.0, 0.0)
    assert not w.any()


@pytest.mark.parametrize(
    "build, shape, bias",
    [
        (lambda: snn.Linear(3, 2), (4096, 3), "bias"),
        (
            lambda: snn.Conv2d(1, 2, 1),
            (24, 1, 3, 3),
            "bias",
        ),  # 216 positions: the thorough run's case
    ],
)
def test_bias_gradients_sum_the_batch_as_accurately_as_torch(build, shape, bias):
    """A bias gradient sums g over every sample (and position). Summed down the rows of a C-ordered
    array, NumPy adds one row at a time (4.3e-5 relative for 4096 equal float32 values); summed
    pairwise, as torch's reduction does, it stays within tests/helpers.sum_rtol."""
    m = build()
    out = m(np.full(shape, 0.5, np.float32))
    v = np.float32(1.9056472)  # not a power of two: every addition rounds
    m.backward(np.full(out.shape, v, np.float32), input_grad=False)
    n = out.size // dict(m.named_parameters())[bias].shape[0]
    exact = n * np.float64(v)
    np.testing.assert_allclose(
        dict(m.named_parameters())[bias].grad, exact, rtol=sum_rtol(n, np.float32)
    )


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d.pop("bias"),
        lambda d: d.update(extra=np.zeros(1)),
        lambda d: d.update(weight=np.zeros((4, 3))),
        lambda d: (d.pop("bias"), d.update(extra=np.zeros(1), weight=np.zeros((4, 3)))),
    ],
)
def test_a_state_dict_that_does_not_fit_is_refused_in_torchs_words_and_type(corrupt):
    """`except RuntimeError` written for torch catches scratch's refusal, and its lines read the
    same, with shapes as tuples instead of torch.Size."""
    bad = {"weight": np.ones((3, 4)), "bias": np.ones(3)}
    corrupt(bad)
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.Linear(4, 3).load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    with pytest.raises(RuntimeError) as scratch_error:
        snn.Linear(4, 3).load_state_dict(bad)
    expected = re.sub(r"torch\.Size\(\[([\d, ]*)\]\)", r"(\1)", str(torch_error.value))
    assert str(scratch_error.value) == expected
