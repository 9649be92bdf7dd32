"""The two-layer network (docs/notes.md §3): manual backprop against autograd and finite
differences, whole training runs against torch, XOR, weights saved by one twin and loaded by the
other."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
import scratch.optim
import scratch.two_layer as s2
import torch_impl.two_layer as t2
from scratch.gradcheck import module_gradients
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    assert_matches_finite_differences,
    copy_weights,
    to_numpy,
)


def twins(input_dim, hidden_dim, output_dim, dtype, seed=0):
    s = s2.SimpleNN(
        input_dim, hidden_dim, output_dim, dtype=dtype, generator=np.random.default_rng(seed)
    )
    t = t2.SimpleNN(input_dim, hidden_dim, output_dim, dtype=TORCH_DTYPE[np.dtype(dtype)])
    copy_weights(s, t)
    return s, t


@st.composite
def network_and_input(draw, dtype):
    dims = draw(st.tuples(st.integers(1, 6), st.integers(1, 8), st.integers(1, 4)))
    # no batch, batch 1, batch N
    lead = draw(st.sampled_from([(), (1,), (draw(st.integers(2, 6)),)]))
    elements = st.floats(-3, 3, width=32 if dtype == np.float32 else 64)
    x = draw(hnp.arrays(dtype, lead + (dims[0],), elements=elements))
    g = draw(hnp.arrays(dtype, lead + (dims[2],), elements=elements))
    return dims, x, g, draw(st.integers(0, 2**16))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=network_and_input(np.float64))
def test_simple_nn_forward_and_backward_match_autograd(dtype, case):
    dims, x, g, seed = case
    x, g = x.astype(dtype), g.astype(dtype)
    s, t = twins(*dims, dtype, seed)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_s, out_t = s(x), t(xt)
    assert out_s.shape == tuple(out_t.shape) == x.shape[:-1] + (dims[2],)
    assert_close(out_s, out_t, dtype)
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype)
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].grad, p.grad, dtype, err_msg=name)


@given(case=network_and_input(np.float64))
def test_simple_nn_backward_matches_finite_differences(case):
    dims, x, g, seed = case
    s = s2.SimpleNN(*dims, dtype=np.float64, generator=np.random.default_rng(seed))
    s(x)
    pre_activation = x @ s.fc1.weight.data.T + s.fc1.bias.data
    # no pre-activation within reach of h of ReLU's kink
    assume(np.abs(pre_activation).min() > 1e-4)
    analytic = {"input": s.backward(g), **{n: p.grad for n, p in s.named_parameters()}}
    numeric = module_gradients(s, x, g)
    for name in numeric:
        assert_matches_finite_differences(
            analytic[name], numeric[name], np.sum(g * s(x)), err_msg=name
        )


def test_relu_kink_takes_torchs_zero_gradient():
    """A pre-activation of exactly 0: torch's ReLU gradient there is 0, and so is scratch's."""
    s, t = twins(2, 2, 1, np.float64)
    zeros = {"fc1.weight": np.zeros((2, 2)), "fc1.bias": np.zeros(2)}
    s.load_state_dict({**s.state_dict(), **zeros})
    copy_weights(s, t)
    x = np.ones((3, 2))
    s(x)
    gx = s.backward(np.ones((3, 1)))
    xt = torch.from_numpy(x).requires_grad_(True)
    t(xt).sum().backward()
    np.testing.assert_array_equal(gx, xt.grad.numpy())
    np.testing.assert_array_equal(s.fc1.weight.grad, t.fc1.weight.grad.numpy())
    assert not s.fc1.weight.grad.any()


# --- training runs: the same weights, data, batch order, loss and optimizer give the same run


def make_optimizers(kind, s, t):
    if kind == "sgd":
        # lr / (1 - momentum) = 0.1 keeps even batch-1 MSE steps on N(0, 1) data stable; at lr =
        # 0.05 (0.5 effective) some runs diverge to inf in both twins, and comparing infinities
        # tests nothing
        kw = dict(lr=0.01, momentum=0.9)
        return scratch.optim.SGD(s.parameters(), **kw), torch.optim.SGD(t.parameters(), **kw)
    kw = dict(lr=0.01)
    return scratch.optim.Adam(s.parameters(), **kw), torch.optim.Adam(t.parameters(), **kw)


# each example: 100+ steps on both twins
@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(
    optimizer=st.sampled_from(["sgd", "adam"]),
    loss=st.sampled_from(["mse", "cross_entropy"]),
    n=st.integers(8, 40),
    batch_size=st.integers(1, 16),
    dims=st.tuples(st.integers(1, 5), st.integers(1, 8)),
    seed=st.integers(0, 2**16),
)
def test_training_runs_match_torch_step_for_step(optimizer, loss, n, batch_size, dims, seed):
    classes = 3
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dims[0]))
    s, t = twins(dims[0], dims[1], classes, np.float64, seed)
    if loss == "mse":
        Y = rng.standard_normal((n, classes))
        s_crit, t_crit, t_Y = snn.MSELoss(), torch.nn.MSELoss(), torch.from_numpy(Y)
    else:
        Y = rng.integers(0, classes, n)
        s_crit, t_crit, t_Y = (
            snn.CrossEntropyLoss(),
            torch.nn.CrossEntropyLoss(),
            torch.from_numpy(Y),
        )
    s_opt, t_opt = make_optimizers(optimizer, s, t)
    steps_per_epoch = -(-n // batch_size)
    epochs = -(-100 // steps_per_epoch)  # at least 100 steps
    s_losses = s2.train(s, X, Y, s_crit, s_opt, epochs=epochs, batch_size=batch_size, seed=seed)
    t_losses = t2.train(
        t, torch.from_numpy(X), t_Y, t_crit, t_opt, epochs=epochs, batch_size=batch_size, seed=seed
    )
    assert len(s_losses) == len(t_losses) >= 100
    assert np.all(np.isfinite(t_losses)), (
        "the run diverged: the test's hyperparameters, not the code"
    )
    assert_close(np.array(s_losses), np.array(t_losses))
    for k, v in t.state_dict().items():
        assert_close(s.state_dict()[k], v, err_msg=k)


def test_train_takes_any_scratch_module_and_matches_torch():
    """The same loop trains a Sequential (Linear, Tanh, Linear, Sigmoid) identically to torch's."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.random((40, 2))
    layers = [
        snn.Linear(3, 6, dtype=np.float64, generator=rng),
        snn.Tanh(),
        snn.Linear(6, 2, dtype=np.float64, generator=rng),
        snn.Sigmoid(),
    ]
    s = snn.Sequential(*layers)
    t = torch.nn.Sequential(
        torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2), torch.nn.Sigmoid()
    ).double()
    copy_weights(s, t)
    s_losses = s2.train(
        s,
        X,
        Y,
        snn.MSELoss(),
        scratch.optim.Adam(s.parameters(), lr=0.01),
        epochs=15,
        batch_size=6,
        seed=1,
    )
    t_losses = t2.train(
        t,
        torch.from_numpy(X),
        torch.from_numpy(Y),
        torch.nn.MSELoss(),
        torch.optim.Adam(t.parameters(), lr=0.01),
        epochs=15,
        batch_size=6,
        seed=1,
    )
    assert len(s_losses) == 105
    assert_close(np.array(s_losses), np.array(t_losses))
    # the last epoch (7 batches) below the first
    assert np.mean(s_losses[-7:]) < np.mean(s_losses[:7])


def test_simple_nn_learns_xor_in_both_twins_identically():
    """XOR, which no perceptron can learn (see test_perceptron), with 8 hidden ReLUs."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    s, t = twins(2, 8, 1, np.float64, seed=3)
    s_opt, t_opt = (
        scratch.optim.Adam(s.parameters(), lr=0.05),
        torch.optim.Adam(t.parameters(), lr=0.05),
    )
    s_losses = s2.train(s, X, Y, snn.BCEWithLogitsLoss(), s_opt, epochs=300, batch_size=4)
    t_losses = t2.train(
        t,
        torch.from_numpy(X),
        torch.from_numpy(Y),
        torch.nn.BCEWithLogitsLoss(),
        t_opt,
        epochs=300,
        batch_size=4,
    )
    assert_close(np.array(s_losses), np.array(t_losses))
    assert s_losses[-1] < 0.05
    np.testing.assert_array_equal((s(X) > 0).astype(float), Y)
    np.testing.assert_array_equal((to_numpy(t(torch.from_numpy(X))) > 0).astype(float), Y)


def test_the_seed_fixes_the_batch_order():
    X, Y = np.arange(12.0).reshape(6, 2), np.zeros((6, 1))
    seen = []

    class Recorder(snn.MSELoss):
        def forward(self, input, target):
            seen.append(input.shape[0])
            return super().forward(input, target)

    s = s2.SimpleNN(2, 3, 1, dtype=np.float64, generator=np.random.default_rng(0))
    a = s2.train(
        s,
        X,
        Y,
        Recorder(),
        scratch.optim.SGD(s.parameters(), lr=0.0),
        epochs=2,
        batch_size=4,
        seed=5,
    )
    b = s2.train(
        s,
        X,
        Y,
        Recorder(),
        scratch.optim.SGD(s.parameters(), lr=0.0),
        epochs=2,
        batch_size=4,
        seed=5,
    )
    c = s2.train(
        s,
        X,
        Y,
        Recorder(),
        scratch.optim.SGD(s.parameters(), lr=0.0),
        epochs=2,
        batch_size=4,
        seed=6,
    )
    assert a == b and a != c
    assert seen[:4] == [4, 2, 4, 2]  # the last batch of an epoch is the remainder


# --- weights cross between the twins


def test_state_dict_round_trips_both_ways():
    s, t = twins(4, 5, 3, np.float32)
    assert (
        list(s.state_dict())
        == list(t.state_dict())
        == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    )
    assert {k: v.shape for k, v in s.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    back = s2.SimpleNN(4, 5, 3)
    back.load_state_dict(t.state_dict())
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v)


def test_saved_files_load_across_twins(tmp_path):
    s, t = twins(3, 4, 2, np.float32, seed=1)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    s2.save_weights(s, tmp_path / "scratch.npz")
    t_fresh = t2.SimpleNN(3, 4, 2)
    t2.load_weights(t_fresh, tmp_path / "scratch.npz")  # scratch -> torch
    np.testing.assert_array_equal(
        to_numpy(t_fresh(torch.from_numpy(x))), to_numpy(t(torch.from_numpy(x)))
    )
    t2.save_weights(t, tmp_path / "torch.npz")
    s_fresh = s2.SimpleNN(3, 4, 2)
    s2.load_weights(s_fresh, tmp_path / "torch.npz")  # torch -> scratch
    np.testing.assert_array_equal(s_fresh(x), s(x))
    torch.save(t.state_dict(), tmp_path / "torch.pt")  # a torch file, read with weights_only=True
    t_pt = t2.SimpleNN(3, 4, 2)
    t2.load_weights(t_pt, tmp_path / "torch.pt")
    np.testing.assert_array_equal(
        to_numpy(t_pt(torch.from_numpy(x))), to_numpy(t(torch.from_numpy(x)))
    )
    # plain arrays, no pickle
    with np.load(tmp_path / "scratch.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(s.state_dict())


@pytest.mark.parametrize("twin", [s2, t2], ids=["scratch", "torch"])
def test_a_mismatched_file_changes_nothing(twin, tmp_path):
    other = s2.SimpleNN(3, 7, 2)  # hidden 7, not 4
    s2.save_weights(other, tmp_path / "other.npz")
    model = twin.SimpleNN(3, 4, 2)
    before = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    with pytest.raises((ValueError, RuntimeError), match="size mismatch"):
        twin.load_weights(model, tmp_path / "other.npz")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), before[k])


def test_scratch_refuses_torch_files_and_says_why(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"scratch reads and writes .npz weight files only \(a .pt file needs torch",
    ):
        s2.load_weights(s2.SimpleNN(2, 2, 1), tmp_path / "weights.pt")


# --- bad input


def test_bad_input_gets_clear_errors():
    s = s2.SimpleNN(3, 4, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        s.backward(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(\*, 3\)"):
        s(np.ones((5, 4), np.float32))
    s(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(5, 2\)"):
        s.backward(np.ones((5, 1), np.float32))
    with pytest.raises(ValueError, match="same number of samples"):
        s2.train(
            s,
            np.ones((5, 3), np.float32),
            np.ones((4, 2), np.float32),
            snn.MSELoss(),
            scratch.optim.SGD(s.parameters(), lr=0.1),
        )
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        s2.train(
            s,
            np.ones((5, 3), np.float32),
            np.ones((5, 2), np.float32),
            snn.MSELoss(),
            scratch.optim.SGD(s.parameters(), lr=0.1),
            batch_size=0,
        )


def test_a_target_shaped_n_against_an_output_n_by_1_is_refused_in_training():
    """NumPy would broadcast (n, 1) - (n,) to (n, n) and train on nonsense without a word."""
    s = s2.SimpleNN(2, 3, 1, dtype=np.float64)
    before = s.state_dict()
    with pytest.raises(ValueError, match=r"target shape \(4,\) must equal input shape \(4, 1\)"):
        s2.train(
            s,
            np.ones((4, 2)),
            np.ones(4),
            snn.MSELoss(),
            scratch.optim.SGD(s.parameters(), lr=0.1),
            batch_size=4,
        )
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("twin", [s2, t2], ids=["scratch", "torch"])
def test_weights_are_saved_only_under_a_name_that_says_the_format(twin, tmp_path):
    """np.savez appends .npz to any other name: 'weights' would silently become weights.npz."""
    for name in ("weights", "weights.npy", "weights.npz.bak"):
        with pytest.raises(ValueError, match=f"the path must end in .npz.*, got '.*{name}'"):
            twin.save_weights(twin.SimpleNN(2, 3, 1), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["weights.pt", "weights.pth"])
def test_scratch_refuses_to_save_a_torch_file_and_says_why(name, tmp_path):
    with pytest.raises(ValueError, match=r"a \.pth? file needs torch, which scratch never imports"):
        s2.save_weights(s2.SimpleNN(2, 3, 1), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_the_torch_twin_saves_a_torch_file_that_it_reads_back(suffix, tmp_path):
    s, t = twins(3, 4, 2, np.float32, seed=3)
    t2.save_weights(t, tmp_path / f"weights{suffix}")
    assert set(torch.load(tmp_path / f"weights{suffix}", weights_only=True)) == set(s.state_dict())
    back = t2.SimpleNN(3, 4, 2)
    t2.load_weights(back, tmp_path / f"weights{suffix}")
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(to_numpy(back.state_dict()[k]), v)


@pytest.mark.parametrize("twin", [s2, t2], ids=["scratch", "torch"])
@pytest.mark.parametrize(
    "other, error, match",
    [
        (
            lambda: s2.SimpleNN(3, 7, 2),
            RuntimeError,
            r"size mismatch for fc1.weight: copying a param with shape \(7, 3\) from "
            r"checkpoint, the shape in current model is \(4, 3\)",
        ),
        (
            lambda: snn.Sequential(snn.Linear(3, 4), snn.ReLU(), snn.Linear(4, 2)),
            RuntimeError,
            r"Error\(s\) in loading state_dict for SimpleNN:\n\tMissing key\(s\) in state_dict: "
            r'"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias". \n\t'
            r'Unexpected key\(s\) in state_dict: "0.weight", "0.bias", "2.weight", "2.bias". ',
        ),
    ],
)
def test_both_twins_word_a_mismatched_file_alike(twin, other, error, match, tmp_path):
    s2.save_weights(other(), tmp_path / "other.npz")
    with pytest.raises(error, match=match):
        twin.load_weights(twin.SimpleNN(3, 4, 2), tmp_path / "other.npz")
