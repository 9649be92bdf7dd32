"""What "equal" means, in one place, and small helpers both twins' tests share.

float64: agreement to ~1e-10 relative (README, "What equal means"); the atol covers values that
should be 0 and
         come out as rounding noise (1e-10 is still a million times tighter than float32 can do).
float32: torch.testing's defaults for float32 (rtol 1.3e-6, atol 1e-5).
"""

import inspect

import numpy as np
import torch

from scratch._backend import array_module
from torch_impl import copy_weights  # noqa: F401  (the tests' one way to start twins alike)

# torch 2.13 (pinned here) gives BatchNorm a bias= switch; torch 2.11 (the GPU box's) has none
TORCH_BATCHNORM_HAS_BIAS = "bias" in inspect.signature(torch.nn.BatchNorm1d.__init__).parameters

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}

TOLERANCES = {
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10),
    np.dtype(np.float32): dict(rtol=1.3e-6, atol=1e-5),
}


def sum_rtol(n, dtype, pairwise=True):
    """The relative tolerance for two sums of the same n values added in different orders.

    A pairwise (cascade) sum, NumPy's along a contiguous axis and torch's reductions on the CPU,
    carries a relative rounding error of at most about log2(n) eps (eps the dtype's machine
    epsilon) for values of one sign; two such sums differ by at most twice that. A sum that adds
    one value at a time carries n eps instead (Higham, Accuracy and Stability of Numerical
    Algorithms, 2002, eq. 3.5: gamma_n = n eps / (1 - n eps)); so does a BLAS dot product, whose
    kernels accumulate within blocks (pairwise=False). Values of one sign reach these bounds (a
    thorough run drew equal ones); random signs stay near sqrt(n) eps, which the atol scalings
    cover. Never below torch.testing's default rtol.
    """
    eps = float(np.finfo(dtype).eps)
    terms = float(np.ceil(np.log2(max(n, 2)))) if pairwise else float(n)
    return max(TOLERANCES[np.dtype(dtype)]["rtol"], 2 * terms * eps)


def to_numpy(x):
    """A tensor (any device) or array-like as a NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if array_module(x) is not np:  # a CuPy array
        return x.get()
    return np.asarray(x)


def assert_close(actual, expected, dtype=None, *, scale=1.0, rtol=None, err_msg=""):
    """actual == expected within the tolerance for `dtype` (default: expected's dtype).

    scale multiplies atol, for quantities whose natural size is far from 1; rtol replaces the
    dtype's (sum_rtol's bound for long sums); a written reason goes with every use.
    """
    actual, expected = to_numpy(actual), to_numpy(expected)
    dtype = np.dtype(dtype or expected.dtype)
    tol = TOLERANCES[dtype]
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}. {err_msg}"
    np.testing.assert_allclose(
        actual,
        expected,
        rtol=tol["rtol"] if rtol is None else rtol,
        atol=tol["atol"] * scale,
        err_msg=err_msg,
    )


def assert_matches_finite_differences(analytic, numeric, f_value, err_msg=""):
    """A backward's gradient against central differences (h = 1e-6, float64).

    Their error is truncation ~h^2 |f'''| plus rounding ~eps |f| / h = 2.2e-10 |f|: the absolute
    tolerance therefore scales with |f| (1e-7 |f|, a margin of ~500 over the rounding), and the
    relative one, 1e-6, covers the truncation for the smooth functions tested.
    """
    np.testing.assert_allclose(
        analytic, numeric, rtol=1e-6, atol=1e-7 * max(1.0, abs(float(f_value))), err_msg=err_msg
    )


def check_module_finite_differences(module, x, grad_output):
    """module.backward(grad_output) against central differences of L = sum(grad_output * module(x)):
    the input's gradient and every parameter's (float64)."""
    from scratch.gradcheck import module_gradients

    module.zero_grad()
    module(x)
    analytic = {
        "input": module.backward(grad_output),
        **{n: p.grad for n, p in module.named_parameters()},
    }
    numeric = module_gradients(module, x, grad_output)
    f_value = np.sum(grad_output * module(x))
    for name in numeric:
        assert_matches_finite_differences(analytic[name], numeric[name], f_value, err_msg=name)


def train_twins(s, t, X, Y, optimizer, epochs=10, batch_size=8):
    """Train a scratch model and its torch twin (same weights already) with the same optimizer
    settings (SGD with momentum, or Adam), cross-entropy, the same batches; returns both loss
    histories."""
    import scratch.nn
    import scratch.optim
    import scratch.two_layer as s2
    import torch_impl.two_layer as t2

    kw = dict(lr=0.05, momentum=0.9) if optimizer == "SGD" else dict(lr=0.01)
    s_losses = s2.train(
        s,
        X,
        Y,
        scratch.nn.CrossEntropyLoss(),
        getattr(scratch.optim, optimizer)(s.parameters(), **kw),
        epochs=epochs,
        batch_size=batch_size,
    )
    t_losses = t2.train(
        t,
        torch.from_numpy(X),
        torch.from_numpy(Y),
        torch.nn.CrossEntropyLoss(),
        getattr(torch.optim, optimizer)(t.parameters(), **kw),
        epochs=epochs,
        batch_size=batch_size,
    )
    return np.array(s_losses), np.array(t_losses)
