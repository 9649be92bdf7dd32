"""Losses and functional ops against torch: every option, drawn shapes, huge logits, finite
differences."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
import scratch.nn.functional as F
from scratch.gradcheck import numerical_gradient
from tests.helpers import assert_close, assert_matches_finite_differences
from tests.strategies import DTYPES, arrays, bce_case, cross_entropy_case

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def run_loss(s_crit, t_crit, x, target, t_target, dtype, reduction, data):
    """forward equal; backward (with a drawn grad_output for 'none') equal to autograd's."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    loss_s, loss_t = s_crit(x, target), t_crit(xt, t_target)
    assert_close(loss_s, loss_t, dtype)
    if reduction == "none":
        g = data.draw(arrays(dtype, loss_s.shape))
        grad_s = s_crit.backward(g)
        loss_t.backward(torch.from_numpy(g))
    else:
        grad_s = s_crit.backward()
        loss_t.backward()
    assert_close(grad_s, xt.grad, dtype)
    return grad_s


# --- MSELoss


@DTYPES
@given(
    data=st.data(), shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), reduction=REDUCTIONS
)
def test_mse_loss_matches_torch(dtype, data, shape, reduction):
    x, y = data.draw(arrays(dtype, shape)), data.draw(arrays(dtype, shape))
    run_loss(
        snn.MSELoss(reduction=reduction),
        torch.nn.MSELoss(reduction=reduction),
        x,
        y,
        torch.from_numpy(y),
        dtype,
        reduction,
        data,
    )


# --- BCEWithLogitsLoss


@DTYPES
@given(data=st.data(), reduction=REDUCTIONS)
def test_bce_with_logits_matches_torch_for_every_option(dtype, data, reduction):
    x, y, weight, pos_weight = data.draw(bce_case(dtype))
    t = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
    s_crit = snn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    t_crit = torch.nn.BCEWithLogitsLoss(
        weight=t(weight), reduction=reduction, pos_weight=t(pos_weight)
    )
    # atol scaled by 50: the loss grows like |x| <= 50, and float32 keeps ~7 digits of it
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    assert_close(s_crit(x, y), t_crit(xt, t(y)), dtype, scale=50)
    run_loss(s_crit, t_crit, x, y, t(y), dtype, reduction, data)


def test_bce_with_logits_is_stable_at_huge_logits():
    x = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(
        loss,
        TF.binary_cross_entropy_with_logits(
            torch.from_numpy(x), torch.from_numpy(y), reduction="none"
        ).numpy(),
        rtol=1e-12,
    )
    # closed form: |x| when wrong
    np.testing.assert_allclose(loss, [1e4, 0.0, np.log(2), 0.0, 1e4], rtol=1e-12)


# --- CrossEntropyLoss


@DTYPES
@given(data=st.data(), reduction=REDUCTIONS)
def test_cross_entropy_matches_torch_for_every_option(dtype, data, reduction):
    x, target, weight, ignore_index, label_smoothing = data.draw(cross_entropy_case(dtype))
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    s_crit = snn.CrossEntropyLoss(weight=weight, **kw)
    t_crit = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.from_numpy(weight), **kw
    )
    run_loss(s_crit, t_crit, x, target, torch.from_numpy(target), dtype, reduction, data)
    # and the functional form, with torch's keyword names
    assert_close(
        F.cross_entropy(x, target, weight, **kw),
        TF.cross_entropy(
            torch.from_numpy(x),
            torch.from_numpy(target),
            None if weight is None else torch.from_numpy(weight),
            **kw,
        ),
        dtype,
    )


def test_cross_entropy_is_stable_at_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(x, np.array([2, 1]), reduction="none")
    # closed form: max - x_y, and log C
    np.testing.assert_allclose(loss, [2e4, np.log(3)], rtol=1e-12)


@given(data=st.data(), reduction=st.sampled_from(["mean", "sum"]))
def test_loss_gradients_match_finite_differences(data, reduction):
    x, target, weight, ignore_index, label_smoothing = data.draw(cross_entropy_case(np.float64))
    crit = snn.CrossEntropyLoss(
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    x_bce, y, w, pw = data.draw(bce_case(np.float64))
    bce = snn.BCEWithLogitsLoss(weight=w, reduction=reduction, pos_weight=pw)
    mse = snn.MSELoss(reduction=reduction)
    for criterion, inputs, targets in ((crit, x, target), (bce, x_bce, y), (mse, x_bce, y)):
        # a mean over only ignored targets is 0/0 = nan, as in torch: compared as nan == nan
        with np.errstate(invalid="ignore", divide="ignore"):
            f_value = criterion(inputs, targets)
            numeric = numerical_gradient(lambda v, c=criterion, y=targets: c(v, y), inputs)
            criterion(inputs, targets)
            analytic = criterion.backward()
        # every target ignored: differences of nan measure nothing (torch's 0 is tested above)
        if np.isnan(f_value):
            continue
        assert_matches_finite_differences(
            analytic, numeric, f_value, err_msg=type(criterion).__name__
        )


# --- functional forwards


@DTYPES
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@given(data=st.data())
def test_elementwise_functional_matches_torch(dtype, name, data):
    x = data.draw(arrays(dtype, data.draw(hnp.array_shapes(min_dims=0, max_dims=3)), -50, 50))
    assert_close(getattr(F, name)(x), getattr(TF, name)(torch.from_numpy(x)), dtype)


@DTYPES
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_functional_matches_torch_along_any_dim(dtype, name, data):
    x = data.draw(arrays(dtype, data.draw(hnp.array_shapes(min_dims=1, max_dims=3)), -50, 50))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_close(getattr(F, name)(x, dim), getattr(TF, name)(torch.from_numpy(x), dim), dtype)
    assert_close(
        getattr(F, name)(x, dim, dtype=np.float64),
        getattr(TF, name)(torch.from_numpy(x), dim, dtype=torch.float64),
        np.float64,
    )


@DTYPES
@given(data=st.data(), bias=st.booleans())
def test_linear_functional_matches_torch(dtype, data, bias):
    x = data.draw(arrays(dtype, (data.draw(st.integers(1, 4)), 3)))
    w, b = data.draw(arrays(dtype, (2, 3))), data.draw(arrays(dtype, (2,)))
    expected = TF.linear(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b) if bias else None
    )
    assert_close(F.linear(x, w, b if bias else None), expected, dtype)


# --- bad input


def test_a_target_that_numpy_would_broadcast_is_refused():
    """(n,) against (n, 1) would broadcast to (n, n): n^2 terms, a wrong loss, and no error."""
    x, y = np.zeros((4, 1)), np.zeros(4)
    for crit in (snn.MSELoss(), snn.BCEWithLogitsLoss()):
        with pytest.raises(
            ValueError, match=r"target shape \(4,\) must equal input shape \(4, 1\)"
        ):
            crit(x, y)


@pytest.mark.parametrize(
    "name, shape, input_shape",
    [
        ("weight", (4,), (4, 1)),
        ("weight", (3, 2), (3, 1)),
        ("pos_weight", (4,), (4, 3)),
        ("pos_weight", (2, 3), (1, 3)),
    ],
)
def test_bce_weights_that_would_enlarge_the_loss_are_refused_as_torch_does(
    name, shape, input_shape
):
    """A (4,) weight on (4, 1) logits would broadcast 4 losses into 16; torch raises, and so does
    scratch."""
    x, y, factor = np.zeros(input_shape), np.zeros(input_shape), np.ones(shape)
    with pytest.raises(
        ValueError,
        match=re.escape(f"{name} of shape {tuple(shape)} must broadcast to the input's shape"),
    ):
        F.binary_cross_entropy_with_logits(x, y, **{name: factor})
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy_with_logits(
            torch.from_numpy(x), torch.from_numpy(y), **{name: torch.from_numpy(factor)}
        )


def test_class_indices_out_of_range_are_refused():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="Target 4 is out of bounds"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="Target -1 is out of bounds"):
        F.cross_entropy(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"class-index target must have shape \(3,\)"):
        F.cross_entropy(x, np.array([[0], [1], [2]]))
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(x, np.array(["a", "b", "c"]))


def test_loss_backward_checks_its_grad_output():
    crit = snn.MSELoss(reduction="none")
    with pytest.raises(RuntimeError, match="before forward"):
        crit.backward(np.ones(3))
    crit(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="grad_output of the loss's shape"):
        crit.backward()
    crit = snn.MSELoss()
    crit(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="must be one"):
        crit.backward(np.ones(3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: snn.MSELoss(reduction="avg"), "reduction must be one of"),
        (
            lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros(2, int), label_smoothing=1.5),
            "label_smoothing",
        ),
        (
            lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros(2, int), weight=np.ones(2)),
            r"weight must have shape \(3,\)",
        ),
        (
            lambda: F.cross_entropy(np.zeros((2, 3)), np.full((2, 3), 1 / 3), ignore_index=0),
            "ignore_index is not supported",
        ),
        (
            lambda: F.cross_entropy(np.array(1.0), np.array(0)),
            r"must have a class dimension: \(C,\), \(N, C\)",
        ),
        (
            lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros(2, int), label_smoothing=-0.1),
            "label_smoothing must be in",
        ),
        (
            lambda: F.cross_entropy(np.zeros((2, 3)), np.full((2, 4), 0.25)),
            r"target shape \(2, 4\) must equal input",
        ),
    ],
)
def test_bad_options_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, option",
    [
        (lambda: F.mse_loss(np.zeros(2), np.zeros(2), size_average=True), "size_average"),
        (lambda: F.mse_loss(np.zeros(2), np.zeros(2), weight=np.ones(2)), "weight"),
        (lambda: snn.CrossEntropyLoss(reduce=False), "reduce"),
        (lambda: F.relu(np.zeros(2), inplace=True), "inplace"),
    ],
)
def test_unsupported_torch_options_raise_not_implemented(call, option):
    with pytest.raises(NotImplementedError, match=option):
        call()
