"""The scratch code's CuPy path, run on every machine: on a strict stand-in for CuPy
(tests/cupy_standin.py).

Each test runs the same handwritten code twice, on NumPy arrays and on the stand-in's device arrays,
and asserts that the device run (1) keeps its results on the device, (2) never hands a device array
to NumPy or a NumPy array to the device (the stand-in raises there, as CuPy does), and (3) gives
exactly the NumPy run's numbers (the stand-in computes with NumPy underneath, so any difference is a
different computation on the device path). What only a GPU can tell (cuBLAS's float32 results
against torch on CUDA) is in tests/test_gpu.py, which skips without one.
"""

import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.gradient_descent as sgd
import scratch.nn as snn
import scratch.optim as soptim
import scratch.perceptron as sperceptron
import scratch.two_layer as s2
from scratch._backend import array_module
from tests import cupy_standin
from tests.strategies import (
    DTYPES,
    batch_norm_case,
    bce_case,
    conv_case,
    cross_entropy_case,
    dyadic_problems,
    pool_case,
    rnn_case,
    rnn_shapes,
)

# a quarter of the profile's examples (10 in `ci`, 250 in `thorough`): each test is parametrized
# many ways
FEWER = settings(max_examples=max(10, settings.default.max_examples // 4))


@pytest.fixture(scope="module")
def cupy():
    """`import cupy` gives the stand-in while this module's tests run (module-scoped: hypothesis
    runs many examples in one test, and the stand-in holds no state to reset between them)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "cupy", cupy_standin)
        yield cupy_standin


def on_device(cupy, a):
    return None if a is None else cupy.asarray(a)


def assert_device_equal(device, host, what=""):
    """`device` is a device array holding exactly `host`'s values, shape and dtype."""
    assert isinstance(device, cupy_standin.ndarray), (
        f"{what}: {type(device).__name__} left the device"
    )
    host = np.asarray(host)
    assert device.dtype == host.dtype, f"{what}: dtype {device.dtype} != {host.dtype}"
    np.testing.assert_array_equal(device.get(), host, err_msg=what, strict=True)


# --- the stand-in must be as strict as CuPy, or the tests below prove nothing


def test_the_standin_refuses_what_cupy_refuses(cupy):
    x = cupy.asarray(np.arange(3.0))
    for convert in (np.asarray, np.array, lambda a: np.exp(np.array(a)), lambda a: np.cumsum(a)):
        with pytest.raises(TypeError, match="Implicit conversion|no implementation"):
            convert(x)
    for mix in (
        lambda: x + np.ones(3),
        lambda: np.ones(3) * x,
        lambda: cupy.exp(np.ones(3)),
        lambda: cupy.maximum(x, 0, out=np.empty(3)),
    ):
        with pytest.raises(TypeError, match="Unsupported type"):
            mix()
    with pytest.raises(AttributeError, match="no 'fft'"):
        cupy.fft  # noqa: B018  (a name the scratch code does not use, so not vetted against CuPy)
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.lib.stride_tricks.as_strided(np.ones(3), (2,), (8,))
    assert array_module(x) is cupy and array_module(np.ones(1)) is np
    assert isinstance(x.sum(), cupy.ndarray) and x.sum().shape == ()  # 0-d, as CuPy's reductions
    assert isinstance(x[np.array([2, 0])], cupy.ndarray)  # host index arrays are fine, as in CuPy
    host = np.zeros(2)
    device = cupy.asarray(host)
    device += 1
    assert host.tolist() == [0.0, 0.0] and device.get().tolist() == [1.0, 1.0]  # transfers copy


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="CuPy is not installed")
def test_every_name_the_standin_allows_is_in_the_real_cupy():
    # in a fresh interpreter, where `cupy` is the real one; importing it needs no GPU, and nothing
    # runs
    names = sorted(
        cupy_standin.NAMES
        | {"asarray", "asnumpy", "get_array_module", "ndarray", "lib.stride_tricks.as_strided"}
    )
    methods = sorted(cupy_standin.ndarray._METHODS | {"get", "T", "strides"})
    check = (
        "import cupy, functools; has = lambda n: functools.reduce(lambda o, a: getattr(o, a, "
        "None), n.split('.'), cupy); "
        f"print([n for n in {names!r} if has(n) is None], "
        f"[m for m in {methods!r} if not hasattr(cupy.ndarray, m)])"
    )
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[] []", f"missing from CuPy (functions, methods): {run.stdout}"


# --- layers and losses


def module_runs(module, x, grad_output, cupy):
    """(output, input grad, {name: param grad}) from NumPy and from the device, the module moved
    over."""
    module.zero_grad()
    host = (
        module(x),
        module.backward(grad_output),
        {n: p.grad for n, p in module.named_parameters()},
    )
    module.zero_grad()
    module.to("cuda")
    device = (
        module(cupy.asarray(x)),
        module.backward(cupy.asarray(grad_output)),
        {n: p.grad for n, p in module.named_parameters()},
    )
    module.to("cpu")
    return host, device


def assert_runs_equal(host, device):
    """(output, input gradient, {name: parameter gradient}) of the device run equal to the NumPy
    run's, bit for bit."""
    (out, grad_x, grads), (d_out, d_grad_x, d_grads) = host, device
    assert_device_equal(d_out, out, "output")
    assert_device_equal(d_grad_x, grad_x, "input gradient")
    for name in grads:
        assert_device_equal(d_grads[name], grads[name], name)


@DTYPES
@pytest.mark.parametrize(
    "build",
    [
        lambda d, dt: snn.Linear(d, 3, dtype=dt),
        lambda d, dt: snn.Linear(d, 2, bias=False, dtype=dt),
        lambda d, dt: snn.ReLU(),
        lambda d, dt: snn.Sigmoid(),
        lambda d, dt: snn.Tanh(),
        lambda d, dt: snn.Softmax(dim=-1),
        lambda d, dt: snn.LogSoftmax(dim=-1),
        lambda d, dt: snn.Sequential(
            snn.Linear(d, 4, dtype=dt),
            snn.Tanh(),
            snn.Linear(4, 2, dtype=dt),
            snn.LogSoftmax(dim=-1),
        ),
    ],
    ids=[
        "Linear",
        "Linear-no-bias",
        "ReLU",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "LogSoftmax",
        "Sequential",
    ],
)
@FEWER
@given(data=st.data())
def test_every_layer_runs_on_the_device_as_on_numpy(cupy, dtype, build, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), label="input shape")
    module = build(shape[-1], dtype)
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)), label="x")
    out_shape = module(x).shape
    g = data.draw(
        hnp.arrays(dtype, out_shape, elements=st.floats(-3, 3, width=32)), label="grad_output"
    )
    assert_runs_equal(*module_runs(module, x, g, cupy))


@DTYPES
@FEWER
@given(data=st.data())
def test_normalisation_runs_on_the_device_as_on_numpy(cupy, dtype, data):
    """Two training steps (the running statistics move), then eval; buffers stay on the device."""
    name, C, shape, options = data.draw(batch_norm_case(dtype))
    if data.draw(st.booleans(), label="LayerNorm instead"):
        name, C, shape, options = (
            "LayerNorm",
            shape[-1],
            shape,
            dict(eps=options["eps"], bias=options["bias"]),
        )
    host = getattr(snn, name)(C, **options, dtype=dtype)
    device = getattr(snn, name)(C, **options, dtype=dtype).to("cuda")
    for mode in (True, True, False):
        host.train(mode), device.train(mode)
        x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)), label="x")
        g = data.draw(
            hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)), label="grad_output"
        )
        host.zero_grad(), device.zero_grad()
        out, grad_x = host(x), host.backward(g)
        d_out, d_grad_x = device(cupy.asarray(x)), device.backward(cupy.asarray(g))
        assert_device_equal(d_out, out, "output")
        assert_device_equal(d_grad_x, grad_x, "input gradient")
        for n, p in host.named_parameters():
            assert_device_equal(dict(device.named_parameters())[n].grad, p.grad, n)
        for n, b in host.named_buffers():
            assert_device_equal(dict(device.named_buffers())[n], b, n)


@DTYPES
@FEWER
@given(data=st.data())
def test_convolution_and_pooling_run_on_the_device_as_on_numpy(cupy, dtype, data):
    n, c_in, c_out, kernel, options, shape = data.draw(conv_case())
    layers = [snn.Conv1d, snn.Conv2d, snn.Conv3d][n - 1](
        c_in, c_out, kernel, **options, dtype=dtype, generator=np.random.default_rng(0)
    )
    pool = data.draw(st.sampled_from(["max", "avg", "none"]), label="then a pooling")
    module = (
        layers
        if pool == "none"
        else snn.Sequential(layers, getattr(snn, f"{pool.capitalize()}Pool{n}d")(2, ceil_mode=True))
    )
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)), label="x")
    g = data.draw(
        hnp.arrays(dtype, module(x).shape, elements=st.floats(-3, 3, width=32)), label="grad_output"
    )
    assert_runs_equal(*module_runs(module, x, g, cupy))


@DTYPES
@FEWER
@given(data=st.data())
def test_pooling_with_every_option_runs_on_the_device_as_on_numpy(cupy, dtype, data):
    kind = data.draw(st.sampled_from(["max", "avg"]))
    n, kernel, options, shape = data.draw(pool_case(kind))
    module = getattr(snn, f"{kind.capitalize()}Pool{n}d")(kernel, **options)
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)), label="x")
    g = data.draw(
        hnp.arrays(dtype, module(x).shape, elements=st.floats(-3, 3, width=32)), label="grad_output"
    )
    host = module(x), module.backward(g)
    device = module(cupy.asarray(x)), module.backward(cupy.asarray(g))
    assert_device_equal(device[0], host[0], "output")
    assert_device_equal(device[1], host[1], "input gradient")


@DTYPES
@FEWER
@given(data=st.data())
def test_recurrent_layers_run_on_the_device_as_on_numpy(cupy, dtype, data):
    name, input_size, hidden, options, length, batch, with_hx = data.draw(rnn_case())
    # masks drawn on the host, used on the device
    options = {**options, "dropout": 0.25 if options["num_layers"] > 1 else 0.0}
    x_shape, h_shape, c_shape = rnn_shapes(name, input_size, hidden, options, length, batch)
    arrays = lambda shape: data.draw(hnp.arrays(dtype, shape, elements=st.floats(-2, 2, width=32)))  # noqa: E731
    x, h0, c0 = arrays(x_shape), arrays(h_shape), arrays(c_shape)
    results = []
    for device in (False, True):
        m = getattr(snn, name)(
            input_size, hidden, **options, dtype=dtype, generator=np.random.default_rng(0)
        )
        move = (lambda a: cupy.asarray(a)) if device else (lambda a: a)  # noqa: E731
        if device:
            m.to("cuda")
        hx = ((move(h0), move(c0)) if name == "LSTM" else move(h0)) if with_hx else None
        out, state = m(move(x), hx)
        g_state = (
            tuple(move(np.ones(a.shape, dtype)) for a in state)
            if name == "LSTM"
            else move(np.ones(state.shape, dtype))
        )
        d_x, d_hx = m.backward((move(np.ones(out.shape, dtype)), g_state))
        results.append((out, d_x, {n: p.grad for n, p in m.named_parameters()}))
    assert_runs_equal(*results)


def run_loss(criterion, x, target, grad_output):
    loss = criterion(x, target)
    return loss, criterion.backward(grad_output)


@DTYPES
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@FEWER
@given(data=st.data())
def test_every_loss_runs_on_the_device_as_on_numpy(cupy, dtype, reduction, data):
    kind = data.draw(st.sampled_from(["mse", "bce", "cross_entropy"]), label="loss")
    if kind == "mse":
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
        x, target = (
            data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)))
            for _ in range(2)
        )

        def make(dev):
            return snn.MSELoss(reduction=reduction)
    elif kind == "bce":
        x, target, weight, pos_weight = data.draw(bce_case(dtype))

        def make(dev):
            return snn.BCEWithLogitsLoss(
                weight=dev(weight), pos_weight=dev(pos_weight), reduction=reduction
            )
    else:
        x, target, weight, ignore_index, smoothing = data.draw(cross_entropy_case(dtype))

        def make(dev):
            return snn.CrossEntropyLoss(
                weight=dev(weight),
                ignore_index=ignore_index,
                reduction=reduction,
                label_smoothing=smoothing,
            )

    host_crit = make(lambda a: a)
    loss = host_crit(x, target)
    g = np.ones(loss.shape, dtype) * 0.5 if reduction == "none" else None
    with warnings.catch_warnings():
        # an all-ignored cross-entropy mean is nan on both paths
        warnings.simplefilter("ignore", RuntimeWarning)
        loss, grad = run_loss(host_crit, x, target, g)
        d_loss, d_grad = run_loss(
            make(lambda a: on_device(cupy, a)),
            cupy.asarray(x),
            cupy.asarray(target),
            on_device(cupy, g),
        )
    assert_device_equal(d_loss, loss, "loss")
    assert_device_equal(d_grad, grad, "input gradient")


# --- optimizers


@DTYPES
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: soptim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
        lambda ps: soptim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
        lambda ps: soptim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
        lambda ps: soptim.Adam(
            ps, lr=0.01, betas=(0.0, 0.99), weight_decay=0.1, decoupled_weight_decay=True
        ),
    ],
    ids=["SGD-momentum-dampening-decay", "SGD-nesterov-maximize", "Adam-amsgrad", "AdamW-beta1-0"],
)
@FEWER
@given(
    start=hnp.arrays(
        np.float64, hnp.array_shapes(max_dims=2, max_side=6), elements=st.floats(-3, 3)
    ),
    seed=st.integers(0, 2**16),
)
def test_optimizers_step_on_the_device_as_on_numpy(cupy, dtype, make, start, seed):
    grads = np.random.default_rng(seed).standard_normal((20,) + start.shape).astype(dtype)
    host, device = (
        snn.Parameter(start.astype(dtype)),
        snn.Parameter(cupy.asarray(start.astype(dtype))),
    )
    host_opt, device_opt = make([host]), make([device])
    for g in grads:  # 20 steps, the same gradients on both
        host.grad, device.grad = g.copy(), cupy.asarray(g)
        host_opt.step()
        device_opt.step()
    assert_device_equal(device.data, host.data, "parameter after 20 steps")


# --- the notes' models


def test_gradient_descent_runs_on_the_device_as_on_numpy(cupy):
    for start in ([-1.0, 4.0], np.array([0.5, 0.25], np.float32)):
        params, losses = sgd.gradient_descent(cupy.asarray(start), 0.2, 50)
        host_params, host_losses = sgd.gradient_descent(np.asarray(start), 0.2, 50)
        assert_device_equal(params, host_params, "param_history")
        # The losses agree to an ulp, not bit for bit: on NumPy, params[0] is a NumPy scalar, whose
        # `** 2` calls the C library's pow(); on the device it is a 0-d array, whose `** 2` is x *
        # x. The two round differently in about 1 case in 1000 (found by this test). The steps take
        # no power: exact.
        assert isinstance(losses, cupy.ndarray) and losses.dtype == host_losses.dtype
        np.testing.assert_allclose(
            losses.get(), host_losses, rtol=2 * np.finfo(host_losses.dtype).eps, atol=0
        )
    with pytest.raises(sgd.DivergenceError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sgd.gradient_descent(cupy.asarray([1e300, 0.0]), 0.5, 3)
    assert isinstance(caught.value.loss_history, cupy.ndarray)
    with pytest.raises(ValueError, match="finite"):
        sgd.gradient_descent(cupy.asarray([np.nan, 0.0]), 0.1, 3)


@DTYPES
@FEWER
@given(
    N=st.integers(1, 40),
    dims=st.tuples(st.integers(1, 8), st.integers(1, 16), st.integers(2, 5)),
    seed=st.integers(0, 2**16),
    optimizer=st.sampled_from(["sgd", "adam"]),
)
def test_simple_nn_trains_on_the_device_as_on_numpy(cupy, dtype, N, dims, seed, optimizer):
    rng = np.random.default_rng(seed)
    host = s2.SimpleNN(*dims, dtype=dtype, generator=rng)
    device = s2.SimpleNN(*dims, dtype=dtype).to("cuda")
    device.load_state_dict(host.state_dict())  # NumPy in, device arrays kept
    X, Y = rng.standard_normal((N, dims[0])).astype(dtype), rng.integers(0, dims[2], N)
    make = {
        "sgd": lambda m: soptim.SGD(m.parameters(), lr=0.05, momentum=0.9),
        "adam": lambda m: soptim.Adam(m.parameters(), lr=0.01),
    }[optimizer]
    losses = s2.train(host, X, Y, snn.CrossEntropyLoss(), make(host), epochs=3, batch_size=8)
    d_losses = s2.train(
        device,
        cupy.asarray(X),
        cupy.asarray(Y),
        snn.CrossEntropyLoss(),
        make(device),
        epochs=3,
        batch_size=8,
    )
    assert d_losses == losses  # every step's loss, exactly
    for name, p in device.named_parameters():
        assert_device_equal(p.data, dict(host.named_parameters())[name].data, name)
    assert_device_equal(device(cupy.asarray(X)), host(X), "output after training")


def test_weights_come_home_as_numpy_and_go_back(cupy, tmp_path):
    model = s2.SimpleNN(3, 4, 2).to("cuda")
    state = model.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    s2.save_weights(model, tmp_path / "w.npz")
    other = s2.SimpleNN(3, 4, 2).to("cuda")
    s2.load_weights(other, tmp_path / "w.npz")
    for name, p in other.named_parameters():
        assert_device_equal(p.data, state[name], name)
    back = other.to("cpu")
    assert all(type(p.data) is np.ndarray for p in back.parameters())


@FEWER
@given(problem=dyadic_problems(np.float32), seed=st.integers(0, 2**16))
def test_the_perceptron_trains_on_the_device_as_on_numpy(cupy, problem, seed):
    d = problem["X"].shape[1]
    rng = np.random.default_rng(seed)
    # dyadic, then any floats
    for X in (problem["X"], rng.standard_normal(problem["X"].shape).astype(np.float32)):
        host = sperceptron.Perceptron(d, problem["threshold"])
        host.load_state_dict(
            {
                "linear.weight": problem["weight"].reshape(1, d),
                "linear.bias": np.array([problem["bias"]]),
            }
        )
        device = sperceptron.Perceptron(d, problem["threshold"]).to("cuda")
        device.load_state_dict(host.state_dict())
        assert_device_equal(device(cupy.asarray(X)), host(X), "forward")
        mistakes, d_mistakes = [], []
        epochs = sperceptron.train_perceptron(
            host, X, problem["y"], problem["lr"], problem["epochs"], mistakes_per_epoch=mistakes
        )
        d_epochs = sperceptron.train_perceptron(
            device,
            cupy.asarray(X),
            cupy.asarray(problem["y"]),
            problem["lr"],
            problem["epochs"],
            mistakes_per_epoch=d_mistakes,
        )
        assert (d_epochs, d_mistakes) == (epochs, mistakes)
        for name, p in device.named_parameters():
            assert_device_equal(p.data, dict(host.named_parameters())[name].data, name)


def test_the_perceptron_moves_data_to_the_model_and_restores_it_on_overflow(cupy):
    X, y = np.array([[1.0, -1.0], [0.0, 2.0]], np.float32), np.array([1.0, 0.0])
    host = sperceptron.Perceptron(2, generator=np.random.default_rng(0))
    device = sperceptron.Perceptron(2).to("cuda")
    device.load_state_dict(host.state_dict())
    # device data, host model
    sperceptron.train_perceptron(host, cupy.asarray(X), cupy.asarray(y), 0.5)
    sperceptron.train_perceptron(device, X, y, 0.5)  # host data, device model
    for name, p in device.named_parameters():
        assert_device_equal(p.data, dict(host.named_parameters())[name].data, name)
    # as in test_perceptron: from w = b = 0 the second sample is misclassified, and w becomes 3e39
    # (inf)
    device = sperceptron.Perceptron(1).to("cuda")
    device.load_state_dict({"linear.weight": np.zeros((1, 1)), "linear.bias": np.zeros(1)})
    with pytest.raises(FloatingPointError, match="restored"):
        sperceptron.train_perceptron(
            device, cupy.asarray([[3e38], [-3e38]]), cupy.asarray([1, 0]), 10.0, epochs=5
        )
    assert_device_equal(
        device.linear.weight.data, np.zeros((1, 1), np.float32), "weight after the overflow"
    )
    assert_device_equal(device.linear.bias.data, np.zeros(1, np.float32), "bias after the overflow")


# --- the benchmarks' scratch-cupy cases build and run (nothing is timed here)


def test_the_digits_suite_trains_scratch_on_the_device_as_on_numpy(cupy):
    """One epoch of the ConvNet (conv, batch norm, pooling, flatten, linear) on a slice of the
    digits: the device run takes exactly the NumPy run's steps."""
    from benchmarks import digits

    if digits.sklearn_missing():
        pytest.skip(digits.sklearn_missing())
    X_train, y_train, X_test, y_test = digits.load()
    data = (X_train[:96], y_train[:96], X_test[:40], y_test[:40])
    records = digits.train_both(
        "ConvNet", data, epochs=1, implementations=("scratch-numpy", "scratch-cupy")
    )
    assert records["scratch-cupy"]["losses"] == records["scratch-numpy"]["losses"]
    np.testing.assert_array_equal(
        records["scratch-cupy"]["predictions"], records["scratch-numpy"]["predictions"]
    )


def test_every_scratch_cupy_benchmark_case_runs(cupy):
    from benchmarks import cases, report

    built = list(cases.gemm_cases(["scratch-cupy"], quick=True)) + list(
        cases.all_cases(["scratch-cupy"], quick=True)
    )
    models = {c.model for c in built}
    assert {
        report.STEP_MODEL,
        report.GEMMS_MODEL,
        report.PEAK_MODEL,
        "Adam step",
        "gradient descent (bowl)",
    } <= models
    assert "perceptron epoch" in models  # a per-sample loop: what a GPU costs there is worth seeing
    for case in built:
        case.fn()
    # and again, last to first, as a re-measure of a disturbed case runs it after the others: the
    # scratch backward-only case once shared a model whose graph the step case's backward freed
    # (the cases that keep state between calls: a model, its graph, an optimizer's moments)
    for case in reversed(built):
        if case.model.startswith(("two-layer", "SGD", "Adam")):
            case.fn()


def _attention_module(name, gen):
    return {
        "Embedding": lambda: snn.Embedding(
            5,
            8,
            padding_idx=0,
            max_norm=1.5,
            scale_grad_by_freq=True,
            dtype=np.float64,
            generator=gen,
        ),
        "Dropout": lambda: snn.Dropout(0.3, generator=gen),
        "GELU": lambda: snn.GELU(),
        "GELU-tanh": lambda: snn.GELU("tanh"),
        "MultiheadAttention": lambda: snn.MultiheadAttention(
            8,
            2,
            dropout=0.2,
            add_bias_kv=True,
            add_zero_attn=True,
            dtype=np.float64,
            generator=gen,
        ),
        "Transformer": lambda: snn.TransformerEncoderLayer(
            8,
            2,
            16,
            dropout=0.2,
            activation="gelu",
            norm_first=True,
            dtype=np.float64,
            generator=gen,
        ),
    }[name]()


@pytest.mark.parametrize(
    "name", ["Embedding", "Dropout", "GELU", "GELU-tanh", "MultiheadAttention", "Transformer"]
)
def test_the_attention_chapter_runs_on_the_device_as_on_numpy(cupy, name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 8))
    ids = np.array([[1, 1, 3], [0, 4, 1]])
    results = []
    for device in (False, True):
        # the same masks on both runs
        m = _attention_module(name, np.random.default_rng(5))
        move = cupy.asarray if device else (lambda a: a)
        if device:
            m.to("cuda")
        inp = move(ids if name == "Embedding" else x)
        if name == "MultiheadAttention":
            mask = move(np.triu(np.ones((4, 4), bool), 1))
            out = m(inp, inp, inp, attn_mask=mask)[0]
            d_x = sum(m.backward((move(np.ones(out.shape)), None)))
        elif name == "Transformer":
            out = m(inp, src_mask=move(np.triu(np.ones((4, 4), bool), 1)))
            d_x = m.backward(move(np.ones(out.shape)))
        else:
            out = m(inp)
            d_x = m.backward(move(np.ones(out.shape)))
            d_x = out if d_x is None else d_x  # Embedding: ids have no gradient
        results.append((out, d_x, {n: p.grad for n, p in m.named_parameters()}))
    assert_runs_equal(*results)
