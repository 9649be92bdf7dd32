"""An optimizer step is all or nothing, and an optimizer checkpoints as torch's does.

The checkpoint's proof is a trajectory: N steps, save, restore into a fresh model and optimizer,
M more steps, equal bit for bit to N + M steps straight; and the state dict crosses to torch's
optimizer and back, where the two twins then take the same steps.
"""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratch.nn as snn
import scratch.optim
from tests.helpers import assert_close, copy_weights

OPTIMIZERS = {
    "SGD": dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True),
    "SGD plain": dict(lr=0.05),
    "Adam": dict(lr=0.01, weight_decay=0.01, amsgrad=True),
    "AdamW": dict(lr=0.01),
}


def opt_class(name, lib):
    return getattr(lib, name.split()[0])


def data(seed=0, n=16):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)), rng.integers(0, 3, n)


def model(seed=0):
    return snn.Sequential(
        snn.Linear(5, 8, dtype=np.float64, generator=np.random.default_rng(seed)),
        snn.Tanh(),
        snn.Linear(8, 3, dtype=np.float64, generator=np.random.default_rng(seed + 1)),
    )


def train(m, opt, steps, seed):
    crit = snn.CrossEntropyLoss()
    losses = []
    for k in range(steps):
        X, y = data(seed + k)
        opt.zero_grad()
        losses.append(float(crit(m(X), y)))
        m.backward(crit.backward(), input_grad=False)
        opt.step()
    return losses


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(n=st.integers(0, 6), m=st.integers(1, 6))
def test_a_run_resumed_from_a_checkpoint_is_the_run_straight_through(name, n, m):
    kw = OPTIMIZERS[name]
    straight = model()
    opt = opt_class(name, scratch.optim)(straight.parameters(), **kw)
    expected = train(straight, opt, n + m, seed=0)

    first = model()
    opt = opt_class(name, scratch.optim)(first.parameters(), **kw)
    train(first, opt, n, seed=0)
    weights, state = first.state_dict(), opt.state_dict()
    resumed = model(seed=5)  # other weights, overwritten by the checkpoint
    resumed.load_state_dict(weights)
    opt = opt_class(name, scratch.optim)(resumed.parameters(), **kw)
    opt.load_state_dict(copy.deepcopy(state))
    assert train(resumed, opt, m, seed=n) == expected[n:]
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_state_dict_has_torchs_layout_and_keys(name):
    kw = OPTIMIZERS[name]
    s = model()
    t = copy_weights(
        s,
        torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double(),
    )
    s_opt = opt_class(name, scratch.optim)(s.parameters(), **kw)
    t_opt = opt_class(name, torch.optim)(t.parameters(), **kw)
    train(s, s_opt, 2, seed=0)
    for p in t.parameters():
        p.grad = torch.ones_like(p)
    t_opt.step()
    s_sd, t_sd = s_opt.state_dict(), t_opt.state_dict()
    assert [sorted(g) for g in s_sd["param_groups"]] == [sorted(g) for g in t_sd["param_groups"]]
    assert [g["params"] for g in s_sd["param_groups"]] == [
        g["params"] for g in t_sd["param_groups"]
    ]
    assert list(s_sd["state"]) == list(t_sd["state"])
    for i in t_sd["state"]:
        assert sorted(s_sd["state"][i]) == sorted(t_sd["state"][i])
        for key, value in t_sd["state"][i].items():
            assert s_sd["state"][i][key].shape == tuple(value.shape)
            assert str(s_sd["state"][i][key].dtype) == str(value.dtype).removeprefix("torch.")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_scratch_checkpoint_loads_into_torchs_optimizer_and_back(name):
    """Scratch trains 3 steps; torch's optimizer takes its state and weights and steps on; scratch
    takes torch's state back; all three runs continue alike."""
    kw = OPTIMIZERS[name]
    s = model()
    s_opt = opt_class(name, scratch.optim)(s.parameters(), **kw)
    train(s, s_opt, 3, seed=0)

    t = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    copy_weights(s, t)
    t_opt = opt_class(name, torch.optim)(t.parameters(), **kw)
    sd = s_opt.state_dict()
    t_opt.load_state_dict(
        {
            "state": {
                i: {k: torch.from_numpy(v) for k, v in st_.items()}
                for i, st_ in sd["state"].items()
            },
            "param_groups": sd["param_groups"],
        }
    )
    crit = torch.nn.CrossEntropyLoss()
    for k in range(3, 6):
        X, y = data(k)
        t_opt.zero_grad()
        crit(t(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        t_opt.step()
    train(s, s_opt, 3, seed=3)
    for (name_, p), q in zip(s.named_parameters(), t.parameters()):
        assert_close(p.data, q, err_msg=name_)

    back = opt_class(name, scratch.optim)(s.parameters(), **kw)
    back.load_state_dict(t_opt.state_dict())  # torch's tensors, as torch saved them
    for i, values in s_opt.state_dict()["state"].items():
        for key, value in values.items():
            assert_close(back.state_dict()["state"][i][key], value, err_msg=f"{i} {key}")


def test_loading_refuses_what_does_not_fit_and_changes_nothing():
    s = model()
    opt = scratch.optim.Adam(s.parameters(), lr=0.01)
    train(s, opt, 2, seed=0)
    before = copy.deepcopy(opt.state_dict())
    other = scratch.optim.SGD(model().parameters(), lr=0.1, momentum=0.9)
    train(model(), other, 1, seed=0)
    bad = [
        ({"state": {}, "param_groups": []}, ValueError, "different number of parameter groups"),
        (
            {"state": {}, "param_groups": [{**before["param_groups"][0], "params": [0, 1]}]},
            ValueError,
            "doesn't match the size of optimizer's group",
        ),
        (
            {**before, "state": {0: {**before["state"][0], "exp_avg": np.zeros((2, 2))}}},
            ValueError,
            r"size mismatch for exp_avg of parameter 0",
        ),
        (
            {**before, "state": {0: {"momentum_buffer": np.zeros((8, 5))}}},
            ValueError,
            "does not keep",
        ),
        (
            {**before, "param_groups": [{**before["param_groups"][0], "lr": -1.0}]},
            ValueError,
            "Invalid learning rate",
        ),
        (
            {**before, "param_groups": [{**before["param_groups"][0], "foreach": True}]},
            NotImplementedError,
            "foreach",
        ),
        ([1, 2], ValueError, "'state' and 'param_groups'"),
    ]
    for state_dict, error, match in bad:
        with pytest.raises(error, match=match):
            opt.load_state_dict(state_dict)
        after = opt.state_dict()
        assert after["param_groups"] == before["param_groups"]
        for i in before["state"]:
            for key in before["state"][i]:
                np.testing.assert_array_equal(after["state"][i][key], before["state"][i][key])


# --- a step is all or nothing


def two_params(dtype=np.float32):
    rng = np.random.default_rng(0)
    a = snn.Parameter(rng.standard_normal((2, 3)).astype(dtype))
    b = snn.Parameter(rng.standard_normal(3).astype(dtype))
    return a, b


BAD_GRADS = [
    (lambda p: np.ones((3, 2), p.dtype), ValueError, r"a gradient of shape \(3, 2\)"),
    (
        lambda p: np.ones(p.shape, np.complex64),
        TypeError,
        "complex64 was given for a parameter of dtype float32",
    ),
    (lambda p: np.ones(p.shape, np.int64), TypeError, "int64 was given"),
    (
        lambda p: np.ones(p.shape).tolist(),
        TypeError,
        "must be a NumPy array like its data, got list",
    ),
    (lambda p: np.ones(p.shape, np.float64), TypeError, r"pass grad\.astype\(np\.float32\)"),
]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("make_bad, error, match", BAD_GRADS)
def test_a_refused_step_moves_no_parameter_and_makes_no_state(name, make_bad, error, match):
    """The bad gradient is the second parameter's: the first must not have moved (today's bug: it
    moved, AdamW decayed it, Adam counted the step)."""
    a, b = two_params()
    opt = opt_class(name, scratch.optim)([a, b], **OPTIMIZERS[name])
    a.grad, b.grad = np.ones(a.shape, np.float32), np.ones(b.shape, np.float32)
    opt.step()  # one good step first: there is state to keep
    before = copy.deepcopy(opt.state_dict()), a.data.copy(), b.data.copy()
    a.grad, b.grad = np.ones(a.shape, np.float32), make_bad(b)
    with pytest.raises(error, match=match):
        opt.step()
    np.testing.assert_array_equal(a.data, before[1])
    np.testing.assert_array_equal(b.data, before[2])
    after = opt.state_dict()
    for i, values in before[0]["state"].items():
        for key, value in values.items():
            np.testing.assert_array_equal(after["state"][i][key], value, err_msg=f"{i} {key}")
    b.grad = np.ones(b.shape, np.float32)  # the good step after the refused one: as if none was
    opt.step()
    a2, b2 = two_params()
    ref = opt_class(name, scratch.optim)([a2, b2], **OPTIMIZERS[name])
    for _ in range(2):
        a2.grad, b2.grad = np.ones(a2.shape, np.float32), np.ones(b2.shape, np.float32)
        ref.step()
    np.testing.assert_array_equal(a.data, a2.data)
    np.testing.assert_array_equal(b.data, b2.data)


def test_torch_refuses_those_gradients_too():
    """The same gradients, assigned to a torch parameter: refused (at assignment)."""
    p = torch.nn.Parameter(torch.zeros(2, 3))
    for grad in (
        torch.ones(3, 2),
        torch.ones(2, 3, dtype=torch.complex64),
        torch.ones(2, 3, dtype=torch.float64),
    ):
        with pytest.raises(
            RuntimeError, match=r"assigned grad has data of a different|assign a gradient"
        ):
            p.grad = grad


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda p: scratch.optim.SGD(p, lr=0.1, nesterov="yes", momentum=0.9),
            "nesterov must be True or False",
        ),
        (lambda p: scratch.optim.Adam(p, amsgrad=1), "amsgrad must be True or False"),
        (lambda p: scratch.optim.AdamW(p, maximize="no"), "maximize must be True or False"),
    ],
)
def test_a_flag_that_is_not_a_bool_is_refused(make, match):
    with pytest.raises(TypeError, match=match):
        make(list(two_params()))


def test_a_state_dict_without_the_newer_hyperparameters_loads_with_their_defaults():
    """An older torch's Adam state lacks decoupled_weight_decay and the implementation switches:
    the loaded group takes their defaults, as torch's does (it raised a KeyError at the next
    step)."""
    s = model()
    opt = scratch.optim.Adam(s.parameters(), lr=0.01)
    train(s, opt, 2, seed=0)
    state = opt.state_dict()
    for group in state["param_groups"]:
        for key in ("decoupled_weight_decay", "foreach", "capturable", "differentiable", "fused"):
            del group[key]
    fresh = scratch.optim.Adam(s.parameters(), lr=0.01)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["decoupled_weight_decay"] is False
    train(s, fresh, 1, seed=2)
