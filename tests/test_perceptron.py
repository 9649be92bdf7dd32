"""The perceptron (docs/notes.md §2): forward with ties, bit-exact training twins, Novikoff's bound,
bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.perceptron as sp
import torch_impl.perceptron as tp
from tests.helpers import TORCH_DTYPE, copy_weights, to_numpy
from tests.strategies import dyadic, dyadic_problems


def twins(input_dim, threshold, weight, bias, dtype):
    """A scratch Perceptron with the given weights, and a torch one loaded from its state_dict."""
    s = sp.Perceptron(input_dim, threshold, dtype=dtype)
    s.load_state_dict(
        {"linear.weight": weight.reshape(1, input_dim), "linear.bias": np.array([bias])}
    )
    t = tp.Perceptron(input_dim, threshold, dtype=TORCH_DTYPE[np.dtype(dtype)])
    copy_weights(s, t)
    return s, t


# --- forward: 1 where z >= threshold, ties included


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_forward_matches_torch_exactly_with_ties(dtype, data):
    p = data.draw(dyadic_problems(dtype))
    X, w, threshold = p["X"], p["weight"], p["threshold"]
    bias = threshold - float(X[0] @ w)  # row 0 sits exactly on the boundary: z == threshold
    s, t = twins(X.shape[1], threshold, w, bias, dtype)
    out_s, out_t = s(X), to_numpy(t(torch.from_numpy(X)))
    assert out_s.shape == out_t.shape == (len(X), 1) and out_s.dtype == dtype
    np.testing.assert_array_equal(out_s, out_t)
    assert out_s[0, 0] == 1.0  # the tie is a 1, as the notes define it
    z = X.astype(np.float64) @ w.astype(np.float64) + bias  # exact on dyadic data
    np.testing.assert_array_equal(out_s[:, 0], (z >= threshold).astype(dtype))


def test_the_notes_heaviside_gives_0_at_the_tie_and_the_twins_do_not():
    z = torch.tensor([[0.0]])
    assert torch.heaviside(z, torch.tensor([0.0])).item() == 0.0  # the notes' code
    s, t = twins(1, 0.0, np.array([0.0]), 0.0, np.float64)
    assert (
        s(np.array([[3.0]]))[0, 0] == 1.0
        and t(torch.tensor([[3.0]], dtype=torch.float64)).item() == 1.0
    )


@given(X=hnp.arrays(np.float32, (16, 3), elements=st.floats(-10, 10, width=32)))
def test_forward_matches_torch_on_random_float32_away_from_the_boundary(X):
    s = sp.Perceptron(3, threshold=0.5, generator=np.random.default_rng(0))
    t = tp.Perceptron(3, threshold=0.5)
    copy_weights(s, t)
    z = X.astype(np.float64) @ s.linear.weight.data[0].astype(np.float64) + s.linear.bias.data[0]
    # BLAS may sum in another order, so a z within float32 rounding of the threshold may go
    # either way; everywhere else the two must agree exactly.
    clear = np.abs(z - 0.5) > 1e-4
    np.testing.assert_array_equal(s(X)[clear], to_numpy(t(torch.from_numpy(X)))[clear])


# --- training: the same updates, bit for bit


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_perceptron_matches_torch_bit_for_bit_on_dyadic_data(dtype, data):
    """Inputs and weights in multiples of 1/4 (|.| <= 2), lr in {1/4, 1/2, 1, 2}: every weight stays
    a multiple of 1/16 below 2^10 within 12 epochs of 12 samples, so each z is exact in float32 too.
    """
    p = data.draw(dyadic_problems(dtype))
    s, t = twins(p["X"].shape[1], p["threshold"], p["weight"], p["bias"], dtype)
    s_mistakes, t_mistakes = [], []
    s_epochs = sp.train_perceptron(
        s, p["X"], p["y"], p["lr"], p["epochs"], mistakes_per_epoch=s_mistakes
    )
    t_epochs = tp.train_perceptron(
        t,
        torch.from_numpy(p["X"]),
        torch.from_numpy(p["y"]),
        p["lr"],
        p["epochs"],
        mistakes_per_epoch=t_mistakes,
    )
    assert s_epochs == t_epochs
    assert s_mistakes == t_mistakes
    for key, value in s.state_dict().items():
        np.testing.assert_array_equal(value, to_numpy(t.state_dict()[key]), err_msg=key)
    # the return convention: the last epoch run is the first without a mistake
    if s_epochs is None:
        assert len(s_mistakes) == p["epochs"] and all(m > 0 for m in s_mistakes)
    else:
        assert (
            len(s_mistakes) == s_epochs
            and s_mistakes[-1] == 0
            and all(m > 0 for m in s_mistakes[:-1])
        )


@given(data=st.data())
def test_one_epoch_is_the_rule_written_out(data):
    """A third oracle: the rule applied by a plain Python loop over float64 lists."""
    p = data.draw(dyadic_problems())
    w, b = list(p["weight"]), p["bias"]
    for x, y in zip(p["X"].tolist(), p["y"].tolist()):
        y_hat = 1 if sum(wi * xi for wi, xi in zip(w, x)) + b >= p["threshold"] else 0
        w = [wi + p["lr"] * (y - y_hat) * xi for wi, xi in zip(w, x)]
        b = b + p["lr"] * (y - y_hat)
    s, _ = twins(p["X"].shape[1], p["threshold"], p["weight"], p["bias"], np.float64)
    sp.train_perceptron(s, p["X"], p["y"], p["lr"], epochs=1)
    np.testing.assert_array_equal(s.linear.weight.data[0], w)
    np.testing.assert_array_equal(s.linear.bias.data[0], b)


# --- Novikoff (1962): at most (R / gamma)^2 mistakes on separable data, from zero weights


@st.composite
def separable_data(draw):
    d = draw(st.integers(1, 4))
    # a separating direction (w, b)
    u = draw(hnp.arrays(np.float64, d + 1, elements=st.floats(-1, 1)))
    assume(np.linalg.norm(u) > 0.1)
    X = draw(hnp.arrays(np.float64, (draw(st.integers(1, 30)), d), elements=st.floats(-1, 1)))
    Xb = np.c_[X, np.ones(len(X))]  # the bias folded in as a constant feature
    margins = Xb @ u / np.linalg.norm(u)
    keep = np.abs(margins) >= 0.05  # drop points too close to the boundary: the margin is >= 0.05
    assume(keep.any())
    return X[keep], (margins[keep] > 0).astype(np.int64), Xb[keep], u / np.linalg.norm(u)


@pytest.mark.parametrize("twin", [sp, tp], ids=["scratch", "torch"])
@given(data=separable_data(), lr=st.sampled_from([0.01, 0.1, 1.0]))
def test_novikoff_bound_on_separable_data(twin, data, lr):
    X, y, Xb, u = data
    signed = 2 * y - 1  # labels as -1/+1
    gamma = np.min(signed * (Xb @ u))  # the margin of the separator u
    R = np.max(np.linalg.norm(Xb, axis=1))
    bound = (R / gamma) ** 2
    model = twin.Perceptron(X.shape[1], dtype=np.float64 if twin is sp else torch.float64)
    model.load_state_dict(
        {"linear.weight": np.zeros((1, X.shape[1])), "linear.bias": np.zeros(1)}
        if twin is sp
        else {
            "linear.weight": torch.zeros(1, X.shape[1], dtype=torch.float64),
            "linear.bias": torch.zeros(1, dtype=torch.float64),
        }
    )
    mistakes = []
    epochs = twin.train_perceptron(
        model, X, y, lr, epochs=math.floor(bound) + 2, mistakes_per_epoch=mistakes
    )
    assert epochs is not None, f"did not converge within {math.floor(bound) + 2} epochs"
    assert sum(mistakes) <= bound


# --- the classic gates


GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1]}
X_GATE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


@pytest.mark.parametrize("twin", [sp, tp], ids=["scratch", "torch"])
@pytest.mark.parametrize("gate", GATES)
def test_and_or_converge(twin, gate):
    model = twin.Perceptron(2)
    epochs = twin.train_perceptron(model, X_GATE, GATES[gate], learning_rate=0.1, epochs=100)
    assert epochs is not None
    x = torch.from_numpy(X_GATE).float() if twin is tp else X_GATE.astype(np.float32)
    np.testing.assert_array_equal(to_numpy(model(x))[:, 0], GATES[gate])


@given(
    weight=hnp.arrays(np.float64, 2, elements=dyadic(2)),
    bias=dyadic(2),
    lr=st.sampled_from([0.25, 1.0]),
)
def test_xor_never_converges_in_either_twin(weight, bias, lr):
    """No line separates XOR, so no epoch can be free of mistakes, from any start."""
    s, t = twins(2, 0.0, weight, bias, np.float64)
    xor = [0, 1, 1, 0]
    assert sp.train_perceptron(s, X_GATE, xor, lr, epochs=20) is None
    assert tp.train_perceptron(t, X_GATE, xor, lr, epochs=20) is None
    np.testing.assert_array_equal(s.linear.weight.data, to_numpy(t.linear.weight))


# --- weights cross between the twins


def test_state_dict_round_trips_both_ways():
    s = sp.Perceptron(5, generator=np.random.default_rng(1))
    t = tp.Perceptron(5)
    assert list(s.state_dict()) == list(t.state_dict()) == ["linear.weight", "linear.bias"]
    assert {k: v.shape for k, v in s.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    copy_weights(s, t)
    back = sp.Perceptron(5)
    back.load_state_dict(t.state_dict())  # torch tensors straight in
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v)
        assert back.state_dict()[k].dtype == np.float32


# --- bad input: a clear error, and the weights as they were


BAD = [
    (dict(targets=[0, 1, 2, 0]), ValueError, "targets must be 0 or 1, got 2.0 at index 2"),
    (dict(targets=[0, 1, -1, 0]), ValueError, "targets must be 0 or 1"),
    (dict(targets=[0, 0.5, 1, 0]), ValueError, "targets must be 0 or 1"),
    (
        dict(targets=[0, 1, 1]),
        ValueError,
        r"targets must have shape \(4,\) or \(4, 1\) to match 4 inputs, got shape \(3,\)",
    ),
    (dict(targets=["a", "b", "a", "b"]), TypeError, "targets must hold real numbers"),
    # (n, n): the broadcasting trap
    (dict(targets=np.ones((4, 4))), ValueError, "targets must have shape"),
    (dict(inputs=np.ones((4, 3))), ValueError, "inputs must have 2 features"),
    (dict(inputs=np.ones(4)), ValueError, "inputs must have shape"),
    (dict(inputs=[[0, 0], [0, np.nan], [1, 0], [1, 1]]), ValueError, "inputs must be finite"),
    (dict(inputs=[[0, 0], [0, np.inf], [1, 0], [1, 1]]), ValueError, "inputs must be finite"),
    (dict(inputs=[[0, 0], [0, 1e39], [1, 0], [1, 1]]), ValueError, "overflow the model's dtype"),
    (dict(inputs=np.ones((0, 2)), targets=[]), ValueError, "inputs is empty"),
    (dict(epochs=0), ValueError, "epochs must be >= 1"),
    (dict(epochs=2.0), TypeError, "epochs must be an integer"),
    (dict(learning_rate=0), ValueError, "learning_rate must be > 0"),
    (dict(learning_rate=-1), ValueError, "learning_rate must be > 0"),
    (dict(mistakes_per_epoch=()), TypeError, "mistakes_per_epoch must be a list"),
]


@pytest.mark.parametrize("twin", [sp, tp], ids=["scratch", "torch"])
@pytest.mark.parametrize("override, error, message", BAD)
def test_bad_input_is_rejected_before_anything_changes(twin, override, error, message):
    model = twin.Perceptron(2)
    before = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    kw = dict(inputs=X_GATE, targets=[0, 0, 0, 1], learning_rate=0.1, epochs=5) | override
    with pytest.raises(error, match=message):
        twin.train_perceptron(model, **kw)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), before[k])


@pytest.mark.parametrize("twin", [sp, tp], ids=["scratch", "torch"])
def test_overflow_during_training_restores_the_weights(twin):
    """From w = b = 0 the second sample is misclassified (z = 0 >= 0 predicts 1), so w gets 3e39."""
    model = twin.Perceptron(1)
    model.load_state_dict(
        {"linear.weight": np.zeros((1, 1)), "linear.bias": np.zeros(1)}
        if twin is sp
        else {"linear.weight": torch.zeros(1, 1), "linear.bias": torch.zeros(1)}
    )
    before = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match="restored"):
        twin.train_perceptron(model, [[3e38], [-3e38]], [1, 0], learning_rate=10.0, epochs=5)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), before[k])


@pytest.mark.parametrize("twin", [sp, tp], ids=["scratch", "torch"])
@pytest.mark.parametrize(
    "bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_input_dim_must_be_a_positive_integer(twin, bad, error):
    with pytest.raises(error, match="input_dim"):
        twin.Perceptron(bad)


def test_scratch_perceptron_explains_why_it_has_no_backward():
    with pytest.raises(NotImplementedError, match="train_perceptron"):
        sp.Perceptron(2).backward(np.ones((1, 1)))


# --- GPU: on dyadic data, both twins on the GPU give what they give on the CPU, bit for bit


@pytest.mark.gpu
@given(data=st.data())
def test_both_twins_on_the_gpu_match_the_cpu_bit_for_bit(data):
    import cupy

    torch.backends.cuda.matmul.allow_tf32 = False  # equivalence needs true float32 products
    p = data.draw(dyadic_problems(np.float32))
    scratch_gpu, cpu = twins(p["X"].shape[1], p["threshold"], p["weight"], p["bias"], np.float32)
    scratch_gpu.to("cuda")
    torch_gpu = tp.Perceptron(p["X"].shape[1], p["threshold"], device="cuda")
    torch_gpu.load_state_dict(cpu.state_dict())
    X, y = torch.from_numpy(p["X"]), torch.from_numpy(p["y"])
    expected = to_numpy(cpu(X))
    # the notes' heaviside fails here
    np.testing.assert_array_equal(to_numpy(torch_gpu(X.cuda())), expected)
    out = scratch_gpu(cupy.asarray(p["X"]))
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_array_equal(out.get(), expected)
    runs = [
        (cpu, X, y),
        (torch_gpu, X.cuda(), y.cuda()),
        (scratch_gpu, cupy.asarray(p["X"]), cupy.asarray(p["y"])),
    ]
    results = []
    for model, inputs, targets in runs:
        mistakes = []
        train = sp.train_perceptron if model is scratch_gpu else tp.train_perceptron
        epochs = train(model, inputs, targets, p["lr"], p["epochs"], mistakes_per_epoch=mistakes)
        results.append((epochs, mistakes, {k: to_numpy(v) for k, v in model.state_dict().items()}))
    for epochs, mistakes, state in results[1:]:
        assert (epochs, mistakes) == results[0][:2]
        for k, v in results[0][2].items():
            np.testing.assert_array_equal(state[k], v)
