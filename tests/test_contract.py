"""The contract between the twins (README, "The contract"), checked for every module at once:
one backward signature, one before-forward error, gradients in the dtype of what they are the
gradient of, signatures and reprs that are torch's, and errors that say how to fix the input."""

import inspect
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratch.gradient_descent
import scratch.models
import scratch.nn as snn
import scratch.nn.functional as SF
import scratch.optim
import scratch.perceptron
import scratch.two_layer as s2
import torch_impl.gradient_descent
import torch_impl.models
import torch_impl.perceptron
import torch_impl.two_layer as t2
from tests.helpers import TORCH_BATCHNORM_HAS_BIAS

# Every scratch module, built small, with an input it takes: (name, build, input shape).
MODULES = [
    ("Linear", lambda: snn.Linear(3, 2), (4, 3)),
    ("ReLU", snn.ReLU, (4, 3)),
    ("Sigmoid", snn.Sigmoid, (4, 3)),
    ("Tanh", snn.Tanh, (4, 3)),
    ("Softmax", lambda: snn.Softmax(dim=1), (4, 3)),
    ("LogSoftmax", lambda: snn.LogSoftmax(dim=1), (4, 3)),
    ("Sequential", lambda: snn.Sequential(snn.Linear(3, 5), snn.Tanh(), snn.Linear(5, 2)), (4, 3)),
    ("SimpleNN", lambda: s2.SimpleNN(3, 5, 2), (4, 3)),
    ("BatchNorm1d", lambda: snn.BatchNorm1d(3), (4, 3)),
    ("BatchNorm2d", lambda: snn.BatchNorm2d(3), (4, 3, 2, 2)),
    ("BatchNorm3d", lambda: snn.BatchNorm3d(3), (4, 3, 2, 1, 2)),
    ("LayerNorm", lambda: snn.LayerNorm((2, 3)), (4, 2, 3)),
    ("GELU", snn.GELU, (4, 3)),
    ("GELU tanh", lambda: snn.GELU("tanh"), (4, 3)),
    ("Dropout", lambda: snn.Dropout(0.5, generator=np.random.default_rng(0)), (4, 3)),
    (
        "TransformerEncoderLayer",
        lambda: snn.TransformerEncoderLayer(4, 2, 8, generator=np.random.default_rng(0)),
        (3, 2, 4),
    ),
]
LOSSES = [
    ("MSELoss", snn.MSELoss),
    ("BCEWithLogitsLoss", snn.BCEWithLogitsLoss),
    ("CrossEntropyLoss", snn.CrossEntropyLoss),
]
IDS = [name for name, *_ in MODULES]
# torch's take *args, **kwargs: checked by what positional arguments mean
RECURRENT = ("RNN", "LSTM", "GRU")


def module_classes():
    classes = [getattr(snn, n) for n in snn.__all__ if inspect.isclass(getattr(snn, n))]
    return [c for c in classes if issubclass(c, snn.Module)] + [
        s2.SimpleNN,
        scratch.perceptron.Perceptron,
    ]


# --- one backward signature, one before-forward error


@pytest.mark.parametrize("cls", module_classes(), ids=lambda c: c.__name__)
def test_every_module_has_the_one_backward_signature(cls):
    params = inspect.signature(cls.backward).parameters
    assert list(params)[:2] == ["self", "grad_output"]
    assert (
        params["input_grad"].kind is inspect.Parameter.KEYWORD_ONLY
        and params["input_grad"].default is True
    )


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_input_grad_false_returns_none_and_still_fills_every_parameter_gradient(name, build, shape):
    m = build()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = m(x)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    assert m.backward(g, retain_graph=True) is not None  # kept for the second backward
    with_input = {n: p.grad.copy() for n, p in m.named_parameters()}
    m.zero_grad()
    assert m.backward(g, input_grad=False) is None
    for n, p in m.named_parameters():
        np.testing.assert_array_equal(p.grad, with_input[n], err_msg=n)


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_backward_before_forward_is_the_one_clear_error(name, build, shape):
    """Named after the module called, a container too (not after its layer that reads what forward
    saved)."""
    with pytest.raises(
        RuntimeError,
        match=rf"^{name.split()[0]}\.backward called before forward: call the module on an input",
    ):
        build().backward(np.ones((4, 2), np.float32))


@pytest.mark.parametrize("name, build", LOSSES)
def test_a_loss_backward_before_forward_is_the_same_error(name, build):
    with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
        build().backward()


# --- gradients keep their dtype


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_a_float64_grad_output_gives_float32_gradients_in_a_float32_module(name, build, shape):
    """autograd casts a float64 grad_output to the float32 output's dtype; so does scratch."""
    m = build()
    out = m(np.ones(shape, np.float32))
    grad_input = m.backward(np.ones(out.shape, np.float64))
    assert grad_input.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def loss_case(name, input_dtype, target_dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(input_dtype)
    if name == "CrossEntropyLoss":  # class probabilities: a floating target
        target = rng.dirichlet(np.ones(3), size=4).astype(target_dtype)
    else:
        target = rng.uniform(0, 1, (4, 3)).astype(target_dtype)
    return x, target


@pytest.mark.parametrize("name, build", LOSSES)
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target_dtype", [np.float32, np.float64])
def test_loss_and_gradient_dtypes_are_torchs_for_every_dtype_pair(
    name, build, input_dtype, target_dtype
):
    """The loss is promoted (float32 input, float64 target: a float64 loss), the gradient is not."""
    x, target = loss_case(name, input_dtype, target_dtype)
    crit = build()
    loss = crit(x, target)
    grad = crit.backward()
    xt = torch.from_numpy(x).requires_grad_(True)
    loss_t = getattr(torch.nn, name)()(xt, torch.from_numpy(target))
    loss_t.backward()
    assert np.dtype(loss.dtype) == np.dtype(str(loss_t.dtype).removeprefix("torch."))
    assert grad.dtype == x.dtype == np.dtype(str(xt.grad.dtype).removeprefix("torch."))


def test_a_float32_model_trained_against_float64_targets_keeps_float32_gradients():
    """The bug this contract fixed: MSELoss's float64 gradient made a float32 Linear's weight.grad
    float64."""
    m = snn.Linear(3, 2)
    crit = snn.MSELoss()
    crit(m(np.ones((4, 3), np.float32)), np.zeros((4, 2), np.float64))
    m.backward(crit.backward())
    assert m.weight.grad.dtype == m.bias.grad.dtype == np.float32


def test_integer_targets_for_bce_are_refused_as_torch_refuses_them():
    x, y = np.zeros(3, np.float32), np.array([0, 1, 1])
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        torch.nn.BCEWithLogitsLoss()(torch.from_numpy(x), torch.from_numpy(y))
    with pytest.raises(
        TypeError,
        match=r"target must be floating point.*result type Float can't be cast.*target\.astype",
    ):
        snn.BCEWithLogitsLoss()(x, y)


def test_float_class_indices_are_told_to_be_integers():
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        torch.nn.CrossEntropyLoss()(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(
        TypeError,
        match=r"holds class indices, which must be integers, got float64: "
        r"pass target\.astype\(np\.int64\)",
    ):
        snn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_a_class_weight_of_another_dtype_is_refused_as_torch_refuses_it():
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        torch.nn.CrossEntropyLoss(weight=torch.ones(3, dtype=torch.float64))(
            torch.zeros(2, 3), torch.tensor([0, 1])
        )
    with pytest.raises(TypeError, match=r"weight must have the input's dtype float32, got float64"):
        snn.CrossEntropyLoss(weight=np.ones(3))(np.zeros((2, 3), np.float32), np.array([0, 1]))


# --- errors that say how to fix it


def first_layer(name):
    """Who refuses a bad input: the module itself, or the first layer of a container."""
    return "Linear" if name in ("Sequential", "SimpleNN") else name.split()[0]


def argument(name):
    """The name of the input argument: torch's TransformerEncoderLayer calls it src."""
    return "src" if name == "TransformerEncoderLayer" else "input"


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_a_torch_tensor_is_refused_with_the_conversion_to_use(name, build, shape):
    with pytest.raises(
        TypeError,
        match=re.escape(
            f"{first_layer(name)} takes NumPy (or CuPy) arrays, got a torch.Tensor "
            f"for {argument(name)}: pass {argument(name)}.detach().cpu().numpy()"
        ),
    ):
        build()(torch.ones(shape))


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_a_python_list_is_refused_with_the_conversion_to_use(name, build, shape):
    with pytest.raises(
        TypeError,
        match=re.escape(
            f"{first_layer(name)} takes NumPy (or CuPy) arrays, got list for {argument(name)}: "
            f"pass np.asarray({argument(name)})"
        ),
    ):
        build()(np.ones(shape).tolist())


def test_float64_input_into_a_float32_model_names_both_fixes():
    with pytest.raises(
        TypeError,
        match=re.escape(
            "expected input of dtype float32 (its weight's), got float64: pass "
            "input.astype(np.float32), or build the model with dtype=np.float64"
        ),
    ):
        s2.SimpleNN(3, 4, 2)(np.ones((2, 3)))


@pytest.mark.parametrize("optimizer", [scratch.optim.SGD, scratch.optim.Adam])
def test_an_optimizer_given_the_model_says_to_pass_its_parameters(optimizer):
    with pytest.raises(
        TypeError, match=r"got the module SimpleNN itself: pass model\.parameters\(\)"
    ):
        optimizer(s2.SimpleNN(3, 4, 2), lr=0.1)
    # iterable, but over modules
    with pytest.raises(TypeError, match=r"got the module Sequential itself"):
        optimizer(snn.Sequential(snn.Linear(2, 2)), lr=0.1)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: snn.CrossEntropyLoss()(np.zeros((2, 3)), [0, 1]),
            r"got list for target: pass np\.asarray\(target\)",
        ),
        (
            lambda: snn.MSELoss()(np.zeros(3), 0.0),
            r"got float for target: pass np\.full_like\(input, 0\.0\)",
        ),
        (
            lambda: snn.BCEWithLogitsLoss()([0.0, 1.0], np.zeros(2)),
            r"got list for input: pass np\.asarray\(input\)",
        ),
        (
            lambda: snn.MSELoss()(np.zeros(3), torch.zeros(3)),
            r"got a torch\.Tensor for target: pass target\.detach",
        ),
    ],
)
def test_losses_refuse_what_is_not_an_array_in_words(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_train_refuses_lists_in_words_in_both_twins():
    s, t = s2.SimpleNN(2, 3, 2), t2.SimpleNN(2, 3, 2)
    with pytest.raises(
        TypeError,
        match=r"train takes NumPy \(or CuPy\) arrays, got list for inputs: "
        r"pass np\.asarray\(inputs\)",
    ):
        s2.train(
            s, [[1.0, 2.0]], [0], snn.CrossEntropyLoss(), scratch.optim.SGD(s.parameters(), lr=0.1)
        )
    with pytest.raises(
        TypeError,
        match=r"train takes torch tensors, got list for inputs: pass torch\.as_tensor\(inputs\)",
    ):
        t2.train(
            t,
            [[1.0, 2.0]],
            [0],
            torch.nn.CrossEntropyLoss(),
            torch.optim.SGD(t.parameters(), lr=0.1),
        )
    with pytest.raises(
        TypeError, match=r"got ndarray for inputs: pass torch\.from_numpy\(inputs\)"
    ):
        t2.train(
            t,
            np.ones((1, 2)),
            torch.zeros(1),
            torch.nn.CrossEntropyLoss(),
            torch.optim.SGD(t.parameters(), lr=0.1),
        )


# --- names, defaults and reprs are torch's


def comparable(signature, drop):
    """(name, kind, default) of each parameter but `self` and those in drop (each twin's own
    extras)."""
    return [
        # a function as a default (TransformerEncoderLayer's activation=F.relu) by its name
        (p.name, p.kind, p.default.__name__ if inspect.isfunction(p.default) else p.default)
        for p in signature.parameters.values()
        if p.name not in drop | {"self"}
    ]


# Where the twins' signatures differ by design, and why:
# NumPy draws from a Generator the caller passes; torch from its global one
SCRATCH_ONLY = {
    "generator",
    # scratch's gradient descent takes the handwritten gradient; torch's has autograd
    "gradient",
    # a NumPy dtype, float32 by default, where torch's dtype=None means float32
    "dtype",
}
TORCH_ONLY = {"device", "dtype"}  # scratch moves a model with .to('cuda') instead; dtype as above


def twin_pairs():
    for s_mod, t_mod in [
        (scratch.gradient_descent, torch_impl.gradient_descent),
        (scratch.perceptron, torch_impl.perceptron),
        (s2, t2),
        (scratch.models, torch_impl.models),
    ]:
        for name, obj in vars(t_mod).items():
            if (
                not name.startswith("_")
                and getattr(obj, "__module__", None) == t_mod.__name__
                and callable(obj)
            ):
                yield f"{t_mod.__name__.split('.')[-1]}.{name}", getattr(s_mod, name), obj


@pytest.mark.parametrize(
    "name, s_obj, t_obj", list(twin_pairs()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_twin_functions_and_classes_have_the_same_signature(name, s_obj, t_obj):
    """Names, order, kinds and defaults: a default that drifts in one twin (learning_rate=0.01)
    fails here."""
    s_sig = inspect.signature(s_obj.__init__ if inspect.isclass(s_obj) else s_obj)
    t_sig = inspect.signature(t_obj.__init__ if inspect.isclass(t_obj) else t_obj)
    # generate takes a NumPy generator in both twins (they sample alike): in the same place
    if "generator" in t_sig.parameters:
        assert list(s_sig.parameters) == list(t_sig.parameters)
    torch_only = TORCH_ONLY | ({"generator"} & set(t_sig.parameters))
    assert comparable(s_sig, SCRATCH_ONLY) == comparable(t_sig, torch_only)


def scratch_twins_of_torch():
    for name in snn.__all__:
        obj = getattr(snn, name)
        if inspect.isclass(obj) and name not in ("Module", "Parameter") + RECURRENT:
            yield f"nn.{name}", obj.__init__, getattr(torch.nn, name).__init__
    for name in (
        "linear",
        "relu",
        "sigmoid",
        "tanh",
        "softmax",
        "log_softmax",
        "batch_norm",
        "layer_norm",
        "mse_loss",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "dropout",
        "embedding",
    ):
        if name != "linear":  # torch's F.linear is a builtin with no introspectable signature
            yield f"F.{name}", getattr(SF, name), getattr(torch.nn.functional, name)
    for name in ("SGD", "Adam", "AdamW"):
        yield (
            f"optim.{name}",
            getattr(scratch.optim, name).__init__,
            getattr(torch.optim, name).__init__,
        )


@pytest.mark.parametrize(
    "name",
    [
        "calculate_gain",
        "uniform_",
        "kaiming_uniform_",
        "xavier_uniform_",
        "xavier_normal_",
        "normal_",
    ],
)
def test_init_functions_have_torchs_names_order_and_defaults(name):
    """init.normal_(tensor=w, std=0.02) must read the same in both: every parameter, the
    generator included (torch's init functions take one too)."""
    import scratch.nn.init as sinit

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(sinit, name)) == params(getattr(torch.nn.init, name))


@pytest.mark.parametrize(
    "name, s_fn, t_fn",
    list(scratch_twins_of_torch()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_scratch_classes_and_functions_have_torchs_signature(name, s_fn, t_fn):
    t_sig = inspect.signature(t_fn)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in t_sig.parameters.values()):
        t_sig = t_sig.replace(
            parameters=[
                p
                for p in t_sig.parameters.values()
                if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            ]
        )
    s_params, t_params = (
        comparable(inspect.signature(s_fn), SCRATCH_ONLY),
        comparable(t_sig, TORCH_ONLY),
    )
    # torch calls the modules *args; the kind and the order are what matter
    if name == "nn.Sequential":
        s_params, t_params = [p[1:] for p in s_params], [p[1:] for p in t_params]
    assert s_params == t_params


@pytest.mark.parametrize(
    "name, args",
    [
        ("RNN", (3, 4, 2, "relu", False, True, 0.5, True)),
        ("LSTM", (3, 4, 2, False, True, 0.5, True, 2)),
        ("GRU", (3, 4, 2, False, True, 0.5, True)),
    ],
)
def test_recurrent_layers_take_torchs_positional_arguments_in_torchs_order(name, args):
    """Every argument given positionally, none at its default: both twins must read each the same
    way."""
    s, t = getattr(snn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(s) == repr(t)
    assert getattr(s, "nonlinearity", None) == getattr(t, "nonlinearity", None)
    assert [(k, v.shape) for k, v in s.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    # torch's defaults, where it states them
    defaults = inspect.signature(torch.nn.RNNBase.__init__).parameters
    for key in ("num_layers", "bias", "batch_first", "dropout", "bidirectional"):
        assert (
            inspect.signature(getattr(snn, name).__init__).parameters[key].default
            == defaults[key].default
        )


def twin_modules():
    yield (
        snn.Sequential(
            snn.Linear(2, 3),
            snn.ReLU(),
            snn.Linear(3, 1, bias=False),
            snn.Sigmoid(),
            snn.Tanh(),
            snn.Softmax(dim=1),
            snn.LogSoftmax(dim=0),
            snn.MSELoss(),
            snn.BCEWithLogitsLoss(),
            snn.CrossEntropyLoss(),
            snn.Sequential(snn.Linear(1, 1)),
        ),
        torch.nn.Sequential(
            torch.nn.Linear(2, 3),
            torch.nn.ReLU(),
            torch.nn.Linear(3, 1, bias=False),
            torch.nn.Sigmoid(),
            torch.nn.Tanh(),
            torch.nn.Softmax(dim=1),
            torch.nn.LogSoftmax(dim=0),
            torch.nn.MSELoss(),
            torch.nn.BCEWithLogitsLoss(),
            torch.nn.CrossEntropyLoss(),
            torch.nn.Sequential(torch.nn.Linear(1, 1)),
        ),
    )
    yield s2.SimpleNN(3, 4, 2), t2.SimpleNN(3, 4, 2)
    yield scratch.perceptron.Perceptron(3), torch_impl.perceptron.Perceptron(3)
    yield snn.Sequential(), torch.nn.Sequential()
    yield (
        snn.Sequential(
            snn.RNN(3, 4, 2, "relu", False, True, 0.5, True),
            snn.LSTM(3, 5, proj_size=2),
            snn.GRU(2, 3),
            snn.RNNCell(2, 3),
            snn.LSTMCell(2, 3, bias=False),
            snn.GRUCell(2, 3),
            snn.RNNCell(2, 3, nonlinearity="relu"),
        ),
        torch.nn.Sequential(
            torch.nn.RNN(3, 4, 2, "relu", False, True, 0.5, True),
            torch.nn.LSTM(3, 5, proj_size=2),
            torch.nn.GRU(2, 3),
            torch.nn.RNNCell(2, 3),
            torch.nn.LSTMCell(2, 3, bias=False),
            torch.nn.GRUCell(2, 3),
            torch.nn.RNNCell(2, 3, nonlinearity="relu"),
        ),
    )
    # BatchNorm's bias= came after torch 2.11 (the GPU box's): there, the case without it
    no_bias = {"bias": False} if TORCH_BATCHNORM_HAS_BIAS else {}
    yield (
        snn.Sequential(
            snn.BatchNorm1d(3),
            snn.BatchNorm2d(4, eps=1e-3, momentum=None, affine=False),
            snn.BatchNorm3d(2, track_running_stats=False, **no_bias),
            snn.LayerNorm((2, 3)),
            snn.LayerNorm(5, elementwise_affine=False),
            snn.LayerNorm(4, bias=False),
        ),
        torch.nn.Sequential(
            torch.nn.BatchNorm1d(3),
            torch.nn.BatchNorm2d(4, eps=1e-3, momentum=None, affine=False),
            torch.nn.BatchNorm3d(2, track_running_stats=False, **no_bias),
            torch.nn.LayerNorm((2, 3)),
            torch.nn.LayerNorm(5, elementwise_affine=False),
            torch.nn.LayerNorm(4, bias=False),
        ),
    )


@pytest.mark.parametrize(
    "s, t",
    list(twin_modules()),
    ids=["Sequential", "SimpleNN", "Perceptron", "empty", "recurrent", "norms"],
)
def test_repr_is_torchs(s, t):
    assert repr(s) == repr(t)


# --- init: torch's gains and bounds


TORCH_NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]


@pytest.mark.parametrize("nonlinearity", TORCH_NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0.2, 3])
def test_calculate_gain_is_torchs_for_every_nonlinearity(nonlinearity, param):
    assert snn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
    )


@pytest.mark.parametrize("bad", ["conv4d", "convolution", "softmax", "Linear"])
def test_calculate_gain_refuses_what_torch_refuses(bad):
    with pytest.raises(ValueError, match=f"Unsupported nonlinearity {bad}"):
        torch.nn.init.calculate_gain(bad)
    with pytest.raises(ValueError, match=f"Unsupported nonlinearity {bad}"):
        snn.init.calculate_gain(bad)


@given(
    in_features=st.integers(1, 40), out_features=st.integers(1, 40), seed=st.integers(0, 2**32 - 1)
)
def test_linear_init_fills_torchs_bounds_for_every_fan_in_from_one(in_features, out_features, seed):
    """U(-1/sqrt(in), 1/sqrt(in)) for weight and bias: inside the bound, and not collapsed (an init
    that wrote zeros, or a bound computed wrongly for in_features == 1, fails here)."""
    bound = 1 / math.sqrt(in_features)
    m = snn.Linear(
        in_features, out_features, dtype=np.float64, generator=np.random.default_rng(seed)
    )
    for p in (m.weight.data, m.bias.data):
        assert np.abs(p).max() <= bound
        assert np.all(p != 0)  # a continuous draw is never exactly 0
    # 1,000 draws of the same layer: their spread reaches the bound (the max of 1,000 U(-b, b) is >
    # 0.99 b with probability 1 - 0.995^1000 > 0.99; with the fixed generator, the outcome is fixed)
    draws = np.concatenate(
        [
            snn.Linear(
                in_features, 1, dtype=np.float64, generator=np.random.default_rng([seed, i])
            ).weight.data.ravel()
            for i in range(1000 // in_features + 1)
        ]
    )
    assert np.abs(draws).max() > 0.9 * bound
