"""Gradient descent (docs/notes.md §1): the closed form, the torch twin, finite differences, bad
input."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.gradient_descent as sgd
import torch_impl.gradient_descent as tgd
from scratch.gradcheck import numerical_gradient
from tests.helpers import assert_close, to_numpy

C = np.array([2.0, -3.0])  # the bowl's minimum

starts = hnp.arrays(np.float64, (2,), elements=st.floats(-1e3, 1e3))
converging_lrs = st.floats(0.0, 1.0, exclude_min=True, exclude_max=True)
TWINS = pytest.mark.parametrize("gd", [sgd, tgd], ids=["scratch", "torch"])


def run(gd, start, lr, iterations, **kw):
    """The twin's gradient_descent on a fresh copy of `start`, histories as NumPy arrays."""
    start = np.array(start)  # float64 from a list, whatever torch's default dtype
    if gd is tgd:
        start = torch.from_numpy(start)
    params, losses = gd.gradient_descent(start, lr, iterations, **kw)
    return to_numpy(params), to_numpy(losses)


# --- closed form: theta_k = c + (1 - 2 lr)^k (theta_0 - c),  f(theta_k) = (1 - 2 lr)^(2k)
# f(theta_0)


@TWINS
@given(start=starts, lr=converging_lrs, iterations=st.integers(0, 200))
def test_trajectory_is_the_closed_form_on_the_bowl(gd, start, lr, iterations):
    params, losses = run(gd, start, lr, iterations)
    k = np.arange(iterations + 1)[:, None]
    expected = C + (1 - 2 * lr) ** k * (start - C)
    # Rounding: each step adds a few ulps of max(|theta|, |c|) and later steps shrink them by
    # |1 - 2 lr| < 1, so after k <= 200 steps the error is below 200 * 3 * 2.2e-16 * S < 1.4e-13 S.
    S = max(np.abs(start).max(), 3.0)
    np.testing.assert_allclose(params, expected, rtol=0, atol=1e-12 * S)
    expected_loss = (1 - 2 * lr) ** (2 * k[:, 0]) * np.sum((start - C) ** 2)
    np.testing.assert_allclose(losses, expected_loss, rtol=0, atol=1e-12 * S**2)
    assert params.shape == (iterations + 1, 2) and losses.shape == (iterations + 1,)


@TWINS
def test_learning_rate_one_half_lands_on_the_minimum_in_one_step(gd):
    params, losses = run(gd, [10.0, 10.0], 0.5, 3)
    np.testing.assert_array_equal(params[1:], np.tile(C, (3, 1)))
    np.testing.assert_array_equal(losses[1:], 0.0)


# --- the handwritten gradient: closed form, autograd, finite differences


@given(point=starts)
def test_gradient_three_oracles(point):
    closed_form = np.array([2 * (point[0] - 2), 2 * (point[1] + 3)])
    autograd = tgd.gradient(torch.tensor(point))
    finite_diff = numerical_gradient(sgd.loss_function, point)
    assert_close(sgd.gradient(point), closed_form)
    assert_close(autograd, closed_form)
    # f is quadratic, so the central difference has no truncation error; what is left is rounding
    # of f (~1e6 here) divided by 2h: 1e6 * 2.2e-16 / 2e-6 ~ 1e-4 absolute at |point| ~ 1e3.
    np.testing.assert_allclose(
        finite_diff, closed_form, rtol=0, atol=1e-9 * max(1.0, np.sum((point - C) ** 2))
    )


def test_gradient_vanishes_at_the_minimum_unlike_the_notes_typo():
    # The notes' 2(y + 2) would give 2 here, not 0.
    np.testing.assert_array_equal(sgd.gradient(C), [0.0, 0.0])
    np.testing.assert_array_equal(tgd.gradient(torch.tensor(C)).numpy(), [0.0, 0.0])


# --- scratch == torch, trajectory for trajectory


@given(start=starts, lr=converging_lrs, iterations=st.integers(0, 300))
def test_scratch_matches_torch_on_the_bowl(start, lr, iterations):
    s_params, s_losses = run(sgd, start, lr, iterations)
    t_params, t_losses = run(tgd, start, lr, iterations)
    # atol scaled by the start's size: rounding is relative to |theta|, not to the (tiny) distance
    # left.
    S = max(np.abs(start).max(), 3.0)
    assert_close(s_params, t_params, scale=S)
    assert_close(s_losses, t_losses, scale=S**2)


@given(
    start=hnp.arrays(np.float32, (2,), elements=st.floats(-100, 100, width=32)),
    lr=st.floats(0.01, 0.99),
    iterations=st.integers(1, 100),
)
def test_scratch_matches_torch_in_float32(start, lr, iterations):
    s_params, s_losses = run(sgd, start, lr, iterations)
    t_params, t_losses = run(tgd, start, lr, iterations)
    assert s_params.dtype == t_params.dtype == np.float32
    assert_close(s_params, t_params, scale=100)  # atol scaled: float32 ulps of |theta| <= 100
    assert_close(s_losses, t_losses, scale=100**2)


A_SPD = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])  # eigenvalues in (0.5, 4)


def quadratic_loss_numpy(theta):
    return 0.5 * theta @ A_SPD @ theta - theta.sum()


def quadratic_gradient_numpy(theta):
    return A_SPD @ theta - 1.0


def quadratic_loss_torch(theta):
    return 0.5 * theta @ torch.from_numpy(A_SPD) @ theta - theta.sum()


@given(start=hnp.arrays(np.float64, (3,), elements=st.floats(-10, 10)), lr=st.floats(0.01, 0.45))
def test_any_differentiable_function_by_keyword(start, lr):
    """A 3-d quadratic: scratch with its handwritten gradient, torch with autograd; both converge
    to the solution of A theta = 1 (lr < 2 / lambda_max = 0.5)."""
    s_params, s_losses = sgd.gradient_descent(
        start, lr, 300, loss_function=quadratic_loss_numpy, gradient=quadratic_gradient_numpy
    )
    t_params, t_losses = tgd.gradient_descent(
        torch.tensor(start), lr, 300, loss_function=quadratic_loss_torch
    )
    # atol scaled as rounding is: relative to |theta| <= 10, and to the loss, which reaches ~100
    assert_close(s_params, t_params, scale=10)
    assert_close(s_losses, t_losses, scale=100)
    # closed form: the error e_k = (I - lr A)^k e_0, and A is symmetric, so |e_k| <= rho^k |e_0|
    # with rho = max_i |1 - lr lambda_i| < 1; 1e-9 covers rounding at |theta| <= 10
    solution = np.linalg.solve(A_SPD, np.ones(3))
    rho = np.max(np.abs(1 - lr * np.linalg.eigvalsh(A_SPD)))
    for k in (1, 10, 100, 300):
        assert (
            np.linalg.norm(s_params[k] - solution)
            <= rho**k * np.linalg.norm(start - solution) + 1e-9
        )


@TWINS
def test_never_mutates_the_start(gd):
    start = torch.tensor([5.0, 5.0]) if gd is tgd else np.array([5.0, 5.0])
    params, _ = gd.gradient_descent(start, 0.1, 10)
    assert to_numpy(start).tolist() == [5.0, 5.0]
    params[0, 0] = 99.0  # the history's first row is a copy too
    assert to_numpy(start).tolist() == [5.0, 5.0]


@TWINS
def test_integer_start_becomes_float64(gd):
    start = torch.tensor([0, 0]) if gd is tgd else np.array([0, 0])
    params, losses = gd.gradient_descent(start, 0.25, 4)
    assert to_numpy(params).dtype == np.float64 and to_numpy(losses).dtype == np.float64


def test_integer_lists_and_bools_become_float64_in_both_twins():
    """NumPy's rule, in the one checker both twins use: integers and bools are promoted to
    float64."""
    from scratch import _validate

    assert (
        _validate.float_array("x", [1, 2]).dtype
        == _validate.float_array("x", [True, False]).dtype
        == np.float64
    )
    s_params, _ = sgd.gradient_descent([1, 2], 0.25, 3)
    t_params, _ = tgd.gradient_descent([1, 2], 0.25, 3)
    assert s_params.dtype == to_numpy(t_params).dtype == np.float64
    np.testing.assert_array_equal(s_params, to_numpy(t_params))


def test_a_list_start_is_float64_in_both_twins():
    """torch.as_tensor([0., 0.]) would be float32 (torch's default); both twins take NumPy's
    rule."""
    assert to_numpy(tgd.gradient_descent([0.0, 0.0], 0.1, 1)[0]).dtype == np.float64
    assert sgd.gradient_descent([0.0, 0.0], 0.1, 1)[0].dtype == np.float64


# --- divergence is reported, never silent


@TWINS
@given(lr=st.floats(1.0, 3.0), iterations=st.integers(1, 50))
def test_learning_rate_at_least_one_warns_on_the_bowl(gd, lr, iterations):
    with pytest.warns(sgd.DivergenceWarning, match=f"learning_rate={lr}"):
        run(gd, [0.0, 0.0], lr, iterations)


@TWINS
@given(lr=st.floats(1.1, 1e3))
def test_overflow_raises_with_the_history_attached(gd, lr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgd.DivergenceWarning)
        with pytest.raises(sgd.DivergenceError, match=f"learning_rate={lr}") as info:
            run(gd, [0.0, 0.0], lr, 100_000)
    losses = to_numpy(info.value.loss_history)
    assert not np.isfinite(losses[-1]) and np.all(np.isfinite(losses[:-1]))
    # stopped at the overflow
    assert len(to_numpy(info.value.param_history)) == len(losses) < 100_001


@TWINS
def test_an_overflow_says_so_in_words_only(gd):
    """NumPy's own 'overflow encountered' warnings are kept in: the DivergenceError says it, with
    the fix."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(
            sgd.DivergenceError, match=r"try a smaller learning_rate \(on the bowl it must be < 1\)"
        ):
            run(gd, [0.0, 0.0], 50.0, 100_000)
    # the lr >= 1 warning, and nothing else
    assert [type(w.message) for w in caught] == [sgd.DivergenceWarning]


@TWINS
def test_a_learning_rate_that_cannot_converge_warns_once_where_it_was_called(gd):
    """lr = 1.5 on the bowl: warned at the start; the rising loss at the end is the same news, not
    said twice. The warning points at the caller's line (stacklevel), not at the library's."""
    with pytest.warns(sgd.DivergenceWarning) as caught:
        gd.gradient_descent(
            torch.tensor([0.0, 0.0], dtype=torch.float64) if gd is tgd else np.array([0.0, 0.0]),
            1.5,
            3,
        )
    assert len(caught) == 1 and "cannot converge" in str(caught[0].message)
    assert caught[0].filename == __file__


@TWINS
def test_a_rising_loss_warns_on_any_function(gd):
    """f(t) = t^2 with lr = 1.5: each step multiplies t by -2, so the loss quadruples."""
    if gd is sgd:
        kw = dict(loss_function=lambda t: t @ t, gradient=lambda t: 2 * t)
    else:
        kw = dict(loss_function=lambda t: t @ t)
    with pytest.warns(sgd.DivergenceWarning, match="loss rose"):
        run(gd, [1.0], 1.5, 5, **kw)


@TWINS
def test_a_converging_run_is_silent(gd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(gd, [0.0, 0.0], 0.1, 100)


# --- bad input: a clear error naming the argument


BAD_INPUT = [
    (dict(initial_params=[1.0, 2.0, 3.0]), ValueError, "shape \\(2,\\)"),
    (dict(initial_params=[[1.0, 2.0]]), ValueError, "shape"),
    (dict(initial_params=[np.nan, 0.0]), ValueError, "finite"),
    (dict(initial_params=[np.inf, 0.0]), ValueError, "finite"),
    (dict(initial_params=["a", "b"]), TypeError, "initial_params"),
    (dict(iterations=-1), ValueError, "iterations must be >= 0"),
    (dict(iterations=2.5), TypeError, "iterations must be an integer"),
    (dict(iterations=True), TypeError, "iterations must be an integer"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be > 0"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate must be > 0"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate must be finite"),
    (dict(learning_rate="0.1"), TypeError, "learning_rate must be a real number"),
]


@TWINS
@pytest.mark.parametrize("override, error, message", BAD_INPUT)
def test_bad_input_is_rejected_clearly(gd, override, error, message):
    kw = dict(initial_params=[0.0, 0.0], learning_rate=0.1, iterations=10) | override
    with pytest.raises(error, match=message):
        gd.gradient_descent(**kw)


def test_scratch_needs_both_loss_and_gradient():
    with pytest.raises(TypeError, match="both loss_function and gradient"):
        sgd.gradient_descent([0.0], 0.1, 1, loss_function=lambda t: t @ t)
