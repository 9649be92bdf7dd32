"""scratch.optim.SGD / Adam == torch.optim.SGD / Adam, step for step, for every option.

Each side computes its own gradients (a handwritten formula in NumPy; autograd in torch), so a
match checks the optimizer's update rule and the gradient at once. Problems: a random SPD
quadratic, the Rosenbrock valley, and a least-squares fit with two parameters (weight and bias)
in two param groups. With maximize=True both sides get the gradient of -f, so the run still
descends f and stays finite while going through the maximize code path.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.optim
from scratch.nn import Parameter
from tests.helpers import assert_close

STEPS = 60


# --- the problems: starting point, NumPy gradient(s), torch loss


class Quadratic:
    """f(x) = 1/2 x^T A x - b^T x with A = M M^T / n + I (SPD, eigenvalues >= 1).  x (n,)"""

    def __init__(self, M, b, x0):
        n = len(b)
        self.A, self.b, self.start = M @ M.T / n + np.eye(n), b, [x0]
        # the largest curvature: stable SGD needs lr < 2 / L
        self.L = np.linalg.eigvalsh(self.A).max()

    def numpy_grads(self, x):
        return [self.A @ x - self.b]  # grad f = A x - b

    def torch_loss(self, x):
        A, b = torch.from_numpy(self.A), torch.from_numpy(self.b)
        return 0.5 * x @ A @ x - b @ x


class Rosenbrock:
    """f(x, y) = (1 - x)^2 + k (y - x^2)^2: the curved valley.  (2,)"""

    L = 2500.0  # bounds the curvature for |x|, |y| <= 1.5 and k <= 100 (1200 k x^2/100 + ...)

    def __init__(self, k, x0):
        self.k, self.start = k, [x0]

    def numpy_grads(self, p):
        x, y = p
        r = y - x**2
        return [np.array([-2 * (1 - x) - 4 * self.k * x * r, 2 * self.k * r])]

    def torch_loss(self, p):
        return (1 - p[0]) ** 2 + self.k * (p[1] - p[0] ** 2) ** 2


class LeastSquares:
    """f(w, c) = 1/(2N) ||X w + c - y||^2.   X (N, d), w (d,), c (1,), y (N,)"""

    def __init__(self, X, y, w0, c0):
        self.X, self.y, self.start = X, y, [w0, c0]
        N = len(y)
        self.L = np.linalg.eigvalsh(np.c_[X, np.ones(N)].T @ np.c_[X, np.ones(N)] / N).max()

    def numpy_grads(self, w, c):
        r = self.X @ w + c - self.y  # residuals (N,)
        N = len(self.y)
        return [self.X.T @ r / N, np.array([r.sum() / N])]

    def torch_loss(self, w, c):
        r = torch.from_numpy(self.X) @ w + c - torch.from_numpy(self.y)
        return 0.5 * (r @ r) / len(self.y)


def vec(n, bound=1.0):
    return hnp.arrays(np.float64, n, elements=st.floats(-bound, bound))


@st.composite
def problems(draw):
    kind = draw(st.sampled_from(["quadratic", "rosenbrock", "least_squares"]))
    if kind == "quadratic":
        n = draw(st.integers(1, 6))
        return Quadratic(draw(vec((n, n), 2.0)), draw(vec(n, 3.0)), draw(vec(n, 3.0)))
    if kind == "rosenbrock":
        return Rosenbrock(draw(st.floats(1.0, 100.0)), draw(vec(2, 1.2)))
    N, d = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    return LeastSquares(draw(vec((N, d), 2.0)), draw(vec(N, 2.0)), draw(vec(d)), draw(vec(1)))


def curvature(problem):
    return problem.L


# --- running both optimizers side by side


def run_both(
    problem, make_scratch, make_torch, maximize, steps=STEPS, groups=None, same_gradients=False
):
    """Run `steps` steps on both sides; assert equal parameters after every step.

    groups: None for one group, or a list of per-parameter option dicts (one group each).
    same_gradients: hand torch the gradient NumPy computed at scratch's point (an open loop)
        instead of letting autograd compute its own at torch's point (a closed loop). Adam needs
        the open loop for a test of its rule: near a stationary point its step is ~ lr * sign(g),
        so a one-ulp difference between two gradient computations can grow exponentially.
    """
    s_params = [Parameter(np.array(p)) for p in problem.start]
    t_params = [torch.tensor(p, requires_grad=True) for p in problem.start]
    if groups is None:
        s_opt, t_opt = make_scratch(s_params), make_torch(t_params)
    else:
        s_opt = make_scratch([{"params": [p], **g} for p, g in zip(s_params, groups)])
        t_opt = make_torch([{"params": [p], **g} for p, g in zip(t_params, groups)])
    sign = -1.0 if maximize else 1.0  # maximize -f: the same valley, through the maximize branch
    for step in range(steps):
        for p, g in zip(s_params, problem.numpy_grads(*[p.data for p in s_params])):
            p.grad = sign * g
        s_grads = [p.grad.copy() for p in s_params]
        s_opt.step()
        t_opt.zero_grad()
        if same_gradients:
            for p, g in zip(t_params, s_grads):
                p.grad = torch.from_numpy(g)
        else:
            (sign * problem.torch_loss(*t_params)).backward()
        t_opt.step()
        for s, t in zip(s_params, t_params):
            # atol scaled by 10: the parameters live in |x| <~ 10 and rounding is relative to them.
            assert_close(s.data, t, scale=10, err_msg=f"after step {step + 1}")
    return s_params


# --- SGD


@given(
    problem=problems(),
    lr_fraction=st.floats(0.01, 1.0),
    momentum=st.sampled_from([0.0]) | st.floats(0.0, 0.95),
    dampening=st.sampled_from([0.0]) | st.floats(0.0, 1.0),
    nesterov=st.booleans(),
    weight_decay=st.sampled_from([0.0]) | st.floats(0.0, 0.5),
    maximize=st.booleans(),
)
def test_sgd_matches_torch_for_every_option(
    problem, lr_fraction, momentum, dampening, nesterov, weight_decay, maximize
):
    if nesterov:  # torch's rule: Nesterov needs momentum > 0 and dampening == 0
        momentum, dampening = max(momentum, 0.1), 0.0
    lr = lr_fraction / (curvature(problem) + weight_decay)  # a step that stays stable with momentum
    kw = dict(
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )
    run_both(
        problem, lambda p: scratch.optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw), maximize
    )


# --- Adam


@given(
    problem=problems(),
    lr=st.floats(1e-4, 0.05),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    eps=st.sampled_from([1e-8, 1e-6, 1e-3]),
    weight_decay=st.sampled_from([0.0]) | st.floats(0.0, 0.5),
    amsgrad=st.booleans(),
    decoupled_weight_decay=st.booleans(),
    maximize=st.booleans(),
)
def test_adam_matches_torch_for_every_option(
    problem, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay, maximize
):
    kw = dict(
        lr=lr,
        betas=(beta1, beta2),
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=decoupled_weight_decay,
    )
    run_both(
        problem,
        lambda p: scratch.optim.Adam(p, **kw),
        lambda p: torch.optim.Adam(p, **kw),
        maximize,
        same_gradients=True,
    )


@given(
    problem=problems(),
    lr=st.floats(1e-4, 0.05),
    weight_decay=st.none() | st.floats(0.0, 0.5),
    amsgrad=st.booleans(),
    maximize=st.booleans(),
)
def test_adamw_matches_torch_with_its_defaults_and_every_option(
    problem, lr, weight_decay, amsgrad, maximize
):
    """AdamW is Adam with decoupled decay on by default (0.01): its defaults must be torch's."""
    kw = dict(lr=lr, amsgrad=amsgrad, maximize=maximize)
    if weight_decay is not None:
        kw["weight_decay"] = weight_decay
    run_both(
        problem,
        lambda p: scratch.optim.AdamW(p, **kw),
        lambda p: torch.optim.AdamW(p, **kw),
        maximize,
        same_gradients=True,
    )


@given(problem=problems(), lr=st.floats(1e-4, 0.01), amsgrad=st.booleans(), maximize=st.booleans())
def test_adam_closed_loop_matches_torch_with_autograd_gradients(problem, lr, amsgrad, maximize):
    """Each side with its own gradients, at default betas (where the moving averages damp noise)."""
    kw = dict(lr=lr, amsgrad=amsgrad, maximize=maximize)
    run_both(
        problem,
        lambda p: scratch.optim.Adam(p, **kw),
        lambda p: torch.optim.Adam(p, **kw),
        maximize,
    )


# --- param groups, zero_grad, parameters without gradients


@given(
    X=vec((8, 3), 2.0),
    y=vec(8, 2.0),
    w0=vec(3),
    c0=vec(1),
    lrs=st.tuples(st.floats(0.01, 0.2), st.floats(0.01, 0.2)),
)
def test_param_groups_carry_their_own_hyperparameters(X, y, w0, c0, lrs):
    problem = LeastSquares(X, y, w0, c0)
    groups = [
        dict(lr=lrs[0] / problem.L, momentum=0.9),
        dict(lr=lrs[1] / problem.L, nesterov=True, momentum=0.5),
    ]
    run_both(
        problem,
        lambda g: scratch.optim.SGD(g, lr=1.0),
        lambda g: torch.optim.SGD(g, lr=1.0),
        False,
        groups=groups,
    )
    groups = [dict(lr=lrs[0], amsgrad=True), dict(lr=lrs[1], betas=(0.5, 0.9))]
    run_both(
        problem,
        lambda g: scratch.optim.Adam(g),
        lambda g: torch.optim.Adam(g),
        False,
        groups=groups,
        same_gradients=True,
    )


@pytest.mark.parametrize("Opt", [scratch.optim.SGD, scratch.optim.Adam])
def test_a_parameter_without_gradient_is_left_alone(Opt):
    a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    a.grad = np.ones(3)
    Opt([a, b], lr=0.1, weight_decay=0.1).step()
    assert np.all(a.data < 1) and np.array_equal(b.data, np.ones(2)) and b.grad is None


def test_zero_grad_sets_to_none_by_default_and_zeros_on_request():
    p = Parameter(np.ones(2))
    opt = scratch.optim.SGD([p], lr=0.1)
    p.grad = np.ones(2)
    opt.zero_grad(set_to_none=False)
    assert np.array_equal(p.grad, np.zeros(2))
    opt.zero_grad()
    assert p.grad is None


def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast():
    p = Parameter(np.ones((2, 1)))
    # (2,) against (2, 1) would broadcast to (2, 2) and fail later, or not at all
    p.grad = np.ones((2,))
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\).*parameter of shape \(2, 1\)"):
        scratch.optim.SGD([p], lr=0.1).step()
    assert np.array_equal(p.data, np.ones((2, 1)))


# --- hyperparameter validation: scratch refuses exactly what torch refuses (and NaN too)


@given(
    lr=st.floats(-1, 1),
    momentum=st.floats(-1, 1),
    dampening=st.floats(-1, 1),
    weight_decay=st.floats(-1, 1),
    nesterov=st.booleans(),
)
def test_sgd_refuses_what_torch_refuses(lr, momentum, dampening, weight_decay, nesterov):
    kw = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
    )
    assert_same_verdict(
        lambda: scratch.optim.SGD([Parameter(np.zeros(1))], **kw),
        lambda: torch.optim.SGD([torch.zeros(1, requires_grad=True)], **kw),
    )


@given(
    lr=st.floats(-1, 1),
    beta1=st.floats(-0.5, 1.5),
    beta2=st.floats(-0.5, 1.5),
    eps=st.floats(-1, 1),
    weight_decay=st.floats(-1, 1),
)
def test_adam_refuses_what_torch_refuses(lr, beta1, beta2, eps, weight_decay):
    kw = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    assert_same_verdict(
        lambda: scratch.optim.Adam([Parameter(np.zeros(1))], **kw),
        lambda: torch.optim.Adam([torch.zeros(1, requires_grad=True)], **kw),
    )


def assert_same_verdict(make_scratch, make_torch):
    try:
        make_torch()
    except ValueError as torch_error:
        with pytest.raises(ValueError) as scratch_error:
            make_scratch()
        # torch's words, first: "Invalid learning rate: -0.5", "Nesterov momentum requires ..."
        assert str(scratch_error.value).startswith(str(torch_error).split(":")[0])
    else:
        make_scratch()


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda p: scratch.optim.SGD(p, lr=float("nan")),
            ValueError,
            "Invalid learning rate.*finite",
        ),
        (lambda p: scratch.optim.SGD(p, lr="0.1"), TypeError, "Invalid learning rate"),
        (lambda p: scratch.optim.Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: scratch.optim.Adam(p, fused=True), NotImplementedError, "fused"),
        (lambda p: scratch.optim.SGD(p[0], lr=0.1), TypeError, "iterable of Parameters"),
        (lambda p: scratch.optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (
            lambda p: scratch.optim.SGD([np.zeros(1)], lr=0.1),
            TypeError,
            "can only optimize Parameters",
        ),
        (lambda p: scratch.optim.SGD(p + p, lr=0.1), ValueError, "more than one"),
        (
            lambda p: scratch.optim.SGD([{"params": p, "momentun": 0.9}], lr=0.1),
            TypeError,
            "momentun",
        ),
    ],
)
def test_bad_arguments_get_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make([Parameter(np.zeros(2))])
