"""What is timed: one `Case` per (model, size, implementation), each a callable doing one unit of
work.

Implementations:
  scratch-numpy   the handwritten code on NumPy (CPU)      torch-cpu    its torch twin, eager, CPU
  scratch-cupy    the same handwritten code on CuPy (GPU)  torch-cuda   its torch twin, eager, CUDA
  torch-cuda-graph  the torch twin's two-layer forward and training step captured once in a CUDA
                  graph and replayed: what is left when kernel-launch overhead is gone (a bound)
Each builder returns the cases for the implementations it is asked for; a new model adds a builder
to BUILDERS and nothing else changes.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

import scratch.gradient_descent
import scratch.nn
import scratch.optim
import scratch.perceptron
import scratch.two_layer
import torch_impl.gradient_descent
import torch_impl.perceptron
import torch_impl.two_layer
from benchmarks import report
from scratch.nn import Parameter
from torch_impl import copy_weights

CPU_IMPLS = ("scratch-numpy", "torch-cpu")
GPU_IMPLS = ("scratch-cupy", "torch-cuda", "torch-cuda-graph")


@dataclass
class Case:
    model: str  # what is timed, e.g. "Adam step"
    size: int  # the x axis of the scaling plot
    size_label: str  # e.g. "n=1,000,000"
    impl: str  # one of CPU_IMPLS + GPU_IMPLS
    fn: object  # fn() does one unit of work
    flops: float | None = None  # floating-point operations per call, where the count is meaningful
    size_unit: str = "size"  # what the x axis counts
    notes: str = ""
    extra: dict = field(default_factory=dict)


def array_module_of(impl):
    """cupy for 'scratch-cupy', else numpy (imported only when asked for)."""
    if impl == "scratch-cupy":
        import cupy

        return cupy
    return np


def _random_arrays(impl, shapes):
    """{name: a float32 array of that shape} on the implementation's device, the same numbers for
    every impl."""
    rng = np.random.default_rng(0)
    host = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    if impl.startswith("scratch"):
        return {k: array_module_of(impl).asarray(v) for k, v in host.items()}
    return {k: torch.from_numpy(v).to(torch_device(impl)) for k, v in host.items()}


def torch_device(impl):
    return "cuda" if impl.startswith("torch-cuda") else "cpu"


# --- docs/notes.md §1: gradient descent on the bowl


def gradient_descent_cases(impls, quick):
    # a data-dependent loop: nothing to capture
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for iterations in (10, 100) if quick else (10, 100, 1000):
        for impl in impls:
            if impl.startswith("scratch"):
                start = array_module_of(impl).asarray([0.0, 0.0])
                descend = scratch.gradient_descent.gradient_descent
            else:
                start = torch.zeros(2, dtype=torch.float64, device=torch_device(impl))
                descend = torch_impl.gradient_descent.gradient_descent

            def fn(descend=descend, start=start, k=iterations):
                return descend(start, 0.1, k)

            yield Case(
                "gradient descent (bowl)",
                iterations,
                f"{iterations} steps",
                impl,
                fn,
                size_unit="steps",
            )


# --- scratch.optim vs torch.optim: one step over n parameters (memory-bound elementwise work)


def _optimizer_cases(name, make_scratch, make_torch, flops_per_element, impls, quick):
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for n in (10**3, 10**5, 10**6) if quick else (10**2, 10**3, 10**4, 10**5, 10**6, 10**7):
        for impl in impls:
            if impl.startswith("scratch"):
                xp = array_module_of(impl)
                p = Parameter(xp.ones(n, dtype=xp.float32))
                p.grad = xp.full(n, 1e-3, dtype=xp.float32)
                opt = make_scratch([p])
            else:
                p = torch.ones(n, device=torch_device(impl), requires_grad=True)
                p.grad = torch.full((n,), 1e-3, device=torch_device(impl))
                opt = make_torch([p])
            yield Case(
                name,
                n,
                f"n={n:,}",
                impl,
                opt.step,
                flops=flops_per_element * n,
                size_unit="parameters",
            )


def sgd_cases(impls, quick):
    # buf = 0.9 buf + g; p -= lr buf: ~4 flops an element
    yield from _optimizer_cases(
        "SGD step (momentum 0.9)",
        lambda p: scratch.optim.SGD(p, lr=1e-3, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=False),
        4,
        impls,
        quick,
    )


def adam_cases(impls, quick):
    # m, v updates, sqrt, two divisions, the step: ~12 flops an element
    yield from _optimizer_cases(
        "Adam step",
        lambda p: scratch.optim.Adam(p, lr=1e-3),
        lambda p: torch.optim.Adam(p, lr=1e-3, foreach=False),
        12,
        impls,
        quick,
    )


# --- docs/notes.md §2: one epoch of the online perceptron rule (a Python loop over samples, by
# design)


def perceptron_cases(impls, quick):
    d = 8
    for n in (100, 1000) if quick else (100, 1000, 10000):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d)).astype(np.float32)
        y = (rng.random(n) < 0.5).astype(np.float32)  # random labels: it keeps making mistakes
        for impl in impls:
            if impl == "torch-cuda-graph":
                continue  # a branch on the host for every sample: nothing a graph can capture
            # on a GPU, the per-sample loop waits for the device at every sample's branch: timed to
            # show it
            if impl.startswith("scratch"):
                model, train = scratch.perceptron.Perceptron(d), scratch.perceptron.train_perceptron
                model.to("cuda" if impl == "scratch-cupy" else "cpu")
                xp = array_module_of(impl)
                inputs, targets = xp.asarray(X), xp.asarray(y)
            else:
                model = torch_impl.perceptron.Perceptron(d, device=torch_device(impl))
                train = torch_impl.perceptron.train_perceptron
                inputs, targets = (
                    torch.from_numpy(X).to(torch_device(impl)),
                    torch.from_numpy(y).to(torch_device(impl)),
                )
            fn = lambda m=model, t=train, a=inputs, b=targets: t(m, a, b, 0.01, epochs=1)  # noqa: E731
            yield Case(
                "perceptron epoch",
                n,
                f"n={n:,}, d={d}",
                impl,
                fn,
                flops=4 * n * d,
                size_unit=f"samples (d = {d})",
            )


# --- docs/notes.md §3: the two-layer network, float32, batch N, input -> hidden -> 10 classes

TWO_LAYER_QUICK = [(1, 2, 8, 1), (64, 32, 64, 10), (64, 784, 256, 10), (256, 1024, 1024, 10)]
TWO_LAYER_FULL = TWO_LAYER_QUICK + [(1024, 1024, 1024, 10), (1024, 4096, 4096, 10)]


def two_layer_flops(N, d_in, hidden, d_out, part):
    """Floating-point operations of the matrix products in what is timed (2 per multiply-add):
    'forward'   x W1^T, h W2^T                                  2N (in h + h out)
    'backward'  dW2 = g^T h, dh = g W2, dW1 = da^T x (no dx: the data needs no gradient, as timed)
                                                                2N (in h + 2 h out)
    'step'      the forward and that backward: the five GEMMs   2N (2 in h + 3 h out)
    Elementwise work (bias, ReLU, the loss, the optimizer) is not counted: the % of GEMM peak is
    then a fraction of what the products alone could reach, and cannot pass 100% of the same GEMMs
    timed bare."""
    products = {
        "forward": d_in * hidden + hidden * d_out,
        "backward": d_in * hidden + 2 * hidden * d_out,
        "step": 2 * d_in * hidden + 3 * hidden * d_out,
    }
    return 2 * N * products[part]


def _size(N, d_in, hidden, d_out):
    return N * (d_in * hidden + hidden * d_out), f"{N}x({d_in}-{hidden}-{d_out})"


def _two_layer_setup(impl, N, d_in, hidden, d_out):
    """Twin models with the same weights, a batch, class targets, a loss and SGD with momentum."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, d_in)).astype(np.float32)
    Y = rng.integers(0, d_out, N)
    s = scratch.two_layer.SimpleNN(d_in, hidden, d_out, generator=rng)
    if impl.startswith("scratch"):
        xp = array_module_of(impl)
        s.to("cuda" if impl == "scratch-cupy" else "cpu")
        return (
            s,
            xp.asarray(X),
            xp.asarray(Y),
            scratch.nn.CrossEntropyLoss(),
            scratch.optim.SGD(s.parameters(), lr=0.01, momentum=0.9),
        )
    device = torch_device(impl)
    t = torch_impl.two_layer.SimpleNN(d_in, hidden, d_out, device=device)
    copy_weights(s, t)
    opt = torch.optim.SGD(t.parameters(), lr=0.01, momentum=0.9, foreach=False)
    return (
        t,
        torch.from_numpy(X).to(device),
        torch.from_numpy(Y).to(device),
        torch.nn.CrossEntropyLoss(),
        opt,
    )


UNIT = "N x (in x hidden + hidden x out): multiply-adds in the forward"


def two_layer_cases(impls, quick):
    for dims in TWO_LAYER_QUICK if quick else TWO_LAYER_FULL:
        size, label = _size(*dims)
        flops = {part: two_layer_flops(*dims, part) for part in ("forward", "backward", "step")}
        for impl in impls:
            model, X, Y, crit, opt = _two_layer_setup(impl, *dims)
            if impl == "torch-cuda-graph":
                graphed = _cuda_graphs(model, X, Y, crit, opt)
                if graphed is None:
                    continue
                forward, step = graphed
                yield Case(
                    report.FORWARD_MODEL,
                    size,
                    label,
                    impl,
                    forward,
                    flops=flops["forward"],
                    size_unit=UNIT,
                )
                yield Case(
                    report.STEP_MODEL, size, label, impl, step, flops=flops["step"], size_unit=UNIT
                )
                continue
            if impl.startswith("scratch"):

                def step(model=model, X=X, Y=Y, crit=crit, opt=opt):
                    opt.zero_grad()
                    crit(model(X), Y)
                    # as autograd: the data needs no gradient
                    model.backward(crit.backward(), input_grad=False)
                    opt.step()

                g = array_module_of(impl).ones((dims[0], dims[3]), dtype=np.float32)
                # a model of its own, as torch's below: the step case's backward frees `model`'s
                # graph, which a second measurement (a re-measure) of this case would need
                own = _two_layer_setup(impl, *dims)[0]
                own(X)
                # as torch: X needs no grad, and the graph is kept for the next repeat
                backward = lambda own=own, g=g: own.backward(  # noqa: E731
                    g, input_grad=False, retain_graph=True
                )
                forward = lambda model=model, X=X: model(X)  # noqa: E731
            else:

                def step(model=model, X=X, Y=Y, crit=crit, opt=opt):
                    opt.zero_grad()
                    crit(model(X), Y).backward()
                    opt.step()

                # a model of its own: the step case's optimizer changes `model`'s weights in
                # place, which would invalidate this graph for a second measurement
                out = _two_layer_setup(impl, *dims)[0](X)
                g = torch.ones_like(out)
                backward = lambda out=out, g=g: out.backward(g, retain_graph=True)  # noqa: E731
                forward = lambda model=model, X=X: model(X)  # noqa: E731
            yield Case(
                report.FORWARD_MODEL,
                size,
                label,
                impl,
                forward,
                flops=flops["forward"],
                size_unit=UNIT,
            )
            yield Case(
                report.BACKWARD_MODEL,
                size,
                label,
                impl,
                backward,
                flops=flops["backward"],
                size_unit=UNIT,
            )
            yield Case(
                report.STEP_MODEL, size, label, impl, step, flops=flops["step"], size_unit=UNIT
            )
            yield Case(
                report.GEMMS_MODEL,
                size,
                label,
                impl,
                _bare_gemms(impl, *dims),
                flops=flops["step"],
                size_unit=UNIT,
            )
            loss, optimizer = _step_parts(impl, *dims)
            yield Case(report.LOSS_MODEL, size, label, impl, loss, size_unit=UNIT)
            yield Case(report.OPTIMIZER_MODEL, size, label, impl, optimizer, size_unit=UNIT)


def _cuda_graphs(model, X, Y, crit, opt):
    """(forward replay, training-step replay) of CUDA graphs captured from the torch twin, following
    torch's whole-network capture recipe (docs: CUDA Graphs): warm up on a side stream, set the
    gradients to None, capture once, replay. None, with the reason printed, if capture fails."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up: cuBLAS handles, the momentum buffers, autograd's caches
                opt.zero_grad(set_to_none=True)
                crit(model(X), Y).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(side)
        step_graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(step_graph):
            crit(model(X), Y).backward()
            opt.step()
        forward_graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(forward_graph):
            model(X)
        torch.cuda.synchronize()
    except Exception as exc:  # a failed capture must not stop the other timings
        print(f"torch-cuda-graph skipped: capture failed: {type(exc).__name__}: {exc}")
        return None
    # A graph replays its kernels on the addresses it captured and holds no reference to the tensors
    # behind them: the replays keep the model, the batch, the loss and the optimizer alive, or their
    # memory returns to the allocator and a replay reads whatever lands there (seen on an H200:
    # nll_loss's "target out of range" assert, from targets overwritten by another case's tensors).
    keep = (model, X, Y, crit, opt)
    return (lambda graph=forward_graph, keep=keep: graph.replay()), (
        lambda graph=step_graph, keep=keep: graph.replay()
    )


def _step_parts(impl, N, d_in, hidden, d_out):
    """(the loss's forward and backward on fixed logits, the optimizer's step on fixed gradients):
    with the forward, the backward and the bare GEMMs, what a training step's time is made of."""
    model, X, Y, crit, opt = _two_layer_setup(impl, N, d_in, hidden, d_out)
    if impl.startswith("scratch"):
        out = model(X)
        crit(out, Y)
        model.backward(crit.backward(), input_grad=False)  # the gradients the optimizer steps with

        def loss(crit=crit, out=out, Y=Y):
            crit(out, Y)
            crit.backward()
    else:
        crit(model(X), Y).backward()  # the gradients the optimizer steps with
        out = model(X).detach().requires_grad_(True)

        def loss(crit=crit, out=out, Y=Y):
            out.grad = None
            crit(out, Y).backward()

    return loss, opt.step


def _bare_gemms(impl, N, d_in, hidden, d_out):
    """The five matrix products a training step is made of (two forward; dW2, dh, dW1 backward; no
    dx, which training does not need), with nothing else: the floor for a step."""
    a = _random_arrays(
        impl, dict(x=(N, d_in), W1=(hidden, d_in), W2=(d_out, hidden), h=(N, hidden), g=(N, d_out))
    )

    def gemms(a=a):
        a["x"] @ a["W1"].T  # a1 = x W1^T
        a["h"] @ a["W2"].T  # out = h W2^T
        a["g"].T @ a["h"]  # dW2 = g^T h
        gh = a["g"] @ a["W2"]  # dh = g W2
        gh.T @ a["x"]  # dW1 = dh^T x

    return gemms


# --- normalisation: forward and backward of BatchNorm2d and LayerNorm (elementwise and reductions)

NORM_SIZES = {"BatchNorm2d": [(32, 64, 28, 28)], "LayerNorm": [(32, 196, 256)]}


def normalization_cases(impls, quick):
    """BatchNorm2d (training mode: batch statistics, running ones updated) and LayerNorm over the
    last dimension, one forward and backward each; the gradient of the input is computed (as in a
    network, where these layers sit in the middle)."""
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for name, shapes in NORM_SIZES.items():
        for shape in shapes:
            size, label = int(np.prod(shape)), "x".join(map(str, shape))
            rng = np.random.default_rng(0)
            x, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
            for impl in impls:
                if impl.startswith("scratch"):
                    xp = array_module_of(impl)
                    m = (
                        scratch.nn.BatchNorm2d(shape[1])
                        if name == "BatchNorm2d"
                        else scratch.nn.LayerNorm(shape[-1])
                    )
                    m.to("cuda" if impl == "scratch-cupy" else "cpu")
                    xd, gd = xp.asarray(x), xp.asarray(g)

                    def fn(m=m, xd=xd, gd=gd):
                        m(xd)
                        m.backward(gd)
                else:
                    device = torch_device(impl)
                    m = (
                        torch.nn.BatchNorm2d(shape[1])
                        if name == "BatchNorm2d"
                        else torch.nn.LayerNorm(shape[-1])
                    ).to(device)
                    xd = torch.from_numpy(x).to(device).requires_grad_(True)
                    gd = torch.from_numpy(g).to(device)

                    def fn(m=m, xd=xd, gd=gd):
                        xd.grad = None
                        m(xd).backward(gd)

                yield Case(
                    f"{name} forward + backward", size, label, impl, fn, size_unit="elements"
                )
                # the yardstick of an elementwise pass: one multiply over the same array, in each
                # twin
                data = xd.detach() if not impl.startswith("scratch") else xd
                yield Case(
                    report.ONE_PASS,
                    size,
                    label,
                    impl,
                    lambda data=data: data * 2.0,
                    size_unit="elements",
                )
                # what fusing a product with its sum would save (einsum does)
                if impl.startswith("scratch"):
                    xp = array_module_of(impl)
                    rows = xd.reshape(-1, shape[-1])
                    yield Case(
                        report.TWO_PASSES,
                        size,
                        label,
                        impl,
                        lambda r=rows: (r * r).sum(axis=-1),
                        size_unit="elements",
                    )
                    if hasattr(xp, "einsum"):
                        yield Case(
                            report.FUSED,
                            size,
                            label,
                            impl,
                            lambda r=rows, xp=xp: xp.einsum("ij,ij->i", r, r),
                            size_unit="elements",
                        )


# --- convolution: a LeNet layer, a ResNet layer, a 3-d layer; forward, and forward + backward

CONV_SIZES = {  # name: (N, C_in, spatial, C_out, kernel, padding)
    "LeNet conv": (64, 1, (28, 28), 6, 5, 0),
    "ResNet conv": (8, 64, (56, 56), 64, 3, 1),
    "3-d conv": (2, 8, (16, 16, 16), 16, 3, 1),
}
CONV_FORWARD, CONV_STEP, CONV_GEMMS = report.CONV_FORWARD, report.CONV_STEP, report.CONV_GEMMS
CONV_IM2COL, CONV_SCATTER = report.CONV_IM2COL, report.CONV_SCATTER


def conv_flops(N, c_in, spatial, c_out, kernel, padding):
    """2 N C_out prod(out) C_in prod(K): the forward's multiply-adds, twice; its output is the
    input's size less kernel - 1 - 2 padding along each axis (stride 1)."""
    out = [s + 2 * padding - kernel + 1 for s in spatial]
    return 2 * N * c_out * int(np.prod(out)) * c_in * kernel ** len(spatial)


def conv_cases(impls, quick):
    """Each size's forward (FLOPs: the one product) and forward + backward (three products of that
    size: the output, dL/dweight, dL/dinput), the input's gradient computed, as for a layer inside a
    network."""
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for label, (N, c_in, spatial, c_out, kernel, padding) in CONV_SIZES.items():
        n = len(spatial)
        shape, kernels = "x".join(map(str, spatial)), "x".join([str(kernel)] * n)
        size_label = f"{label} {N}x{c_in}x{shape}, {c_out} of {kernels}"
        flops = conv_flops(N, c_in, spatial, c_out, kernel, padding)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, c_in) + spatial).astype(np.float32)
        for impl in impls:
            if impl.startswith("scratch"):
                xp = array_module_of(impl)
                m = getattr(scratch.nn, f"Conv{n}d")(
                    c_in, c_out, kernel, padding=padding, generator=rng
                )
                m.to("cuda" if impl == "scratch-cupy" else "cpu")
                xd = xp.asarray(x)
                g = xp.ones(m(xd).shape, dtype=np.float32)
                forward = lambda m=m, xd=xd: m(xd)  # noqa: E731

                def step(m=m, xd=xd, g=g):
                    m(xd)
                    m.backward(g)
            else:
                device = torch_device(impl)
                m = getattr(torch.nn, f"Conv{n}d")(c_in, c_out, kernel, padding=padding).to(device)
                xd = torch.from_numpy(x).to(device).requires_grad_(True)
                g = torch.ones_like(m(xd))
                forward = lambda m=m, xd=xd: m(xd)  # noqa: E731

                def step(m=m, xd=xd, g=g):
                    xd.grad = None
                    m(xd).backward(g)

            # three different layers, not one grown: no trend between them (timing.suspicion)
            kw = dict(size_unit="FLOPs of the forward", extra={"trend": False})
            yield Case(CONV_FORWARD, flops, size_label, impl, forward, flops=flops, **kw)
            yield Case(CONV_STEP, flops, size_label, impl, step, flops=3 * flops, **kw)
            yield Case(
                CONV_GEMMS,
                flops,
                size_label,
                impl,
                _conv_gemms(impl, N, c_in, spatial, c_out, kernel, padding),
                flops=3 * flops,
                **kw,
            )
            # where the rest of scratch's time goes: its two data movements
            if impl.startswith("scratch"):
                copy, scatter = _conv_data_movement(m, xd, g)
                yield Case(CONV_IM2COL, flops, size_label, impl, copy, **kw)
                yield Case(CONV_SCATTER, flops, size_label, impl, scatter, **kw)


def _conv_gemms(impl, N, c_in, spatial, c_out, kernel, padding):
    """The three matrix products of a convolution's forward and backward, bare: columns @ W,
    columns^T @ g (dL/dW) and g @ W^T (dL/dcolumns), with columns (N * prod out, prod K * C_in)."""
    rows = N * int(np.prod([s + 2 * padding - kernel + 1 for s in spatial]))
    depth = c_in * kernel ** len(spatial)
    a = _random_arrays(impl, dict(columns=(rows, depth), W=(depth, c_out), g=(rows, c_out)))

    def gemms(a=a):
        a["columns"] @ a["W"]  # out = columns W
        a["columns"].T @ a["g"]  # dL/dW = columns^T g
        a["g"] @ a["W"].T  # dL/dcolumns = g W^T

    return gemms


def _conv_data_movement(module, x, g):
    """(the forward's window copy, the backward's scatter) of a scratch Conv, each alone: with the
    three GEMMs, most of what its forward + backward does."""
    from scratch.nn import _sliding

    xp = array_module_of(
        "scratch-cupy" if type(x).__module__.startswith("cupy") else "scratch-numpy"
    )
    n, kernel = module.dims, module.kernel_size
    padded = xp.ascontiguousarray(xp.moveaxis(_sliding.pad(x, module._pads, "zeros"), 1, -1))
    win = _sliding.windows(padded, kernel, module.stride, module.dilation, axis=1)
    rows = int(np.prod(win.shape[: 1 + n]))

    def copy():
        win.reshape(rows, -1)  # im2col: every window into a row

    out = win.shape[1 : 1 + n]
    # one offset's g W^T, channels last
    block = xp.ones((x.shape[0],) + out + (x.shape[1],), dtype=np.float32)

    def scatter():  # the slice-adds alone (their products are among the GEMMs)
        grad = xp.zeros(padded.shape, dtype=np.float32)
        for offset in _sliding.offsets(kernel):
            grad[
                (slice(None),) + _sliding.read_by(offset, out, module.stride, module.dilation)
            ] += block

    return copy, scatter


# --- recurrent: LSTM and GRU forward + backward through time

RNN_SIZES = {"small": (32, 16, 64, 128), "medium": (100, 64, 256, 512)}  # (T, batch, input, hidden)


def recurrent_cases(impls, quick):
    """One layer, (T, N, input) in, every step's output given a gradient (as a sequence model's loss
    does), backward through time, the input's gradient computed."""
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for cell in ("LSTM", "GRU"):
        for label, (T, N, d_in, hidden) in RNN_SIZES.items():
            gates = 4 if cell == "LSTM" else 3
            # forward: x W_ih^T, h W_hh^T; backward: dW_ih, dW_hh, dx, and dh for every step but the
            # first (its h0 is zeros, needing no gradient, as autograd skips it)
            flops = 2 * N * gates * hidden * (3 * T * d_in + 2 * T * hidden + (T - 1) * hidden)
            size_label = f"{label}: T={T}, N={N}, {d_in}->{hidden}"
            rng = np.random.default_rng(0)
            x = rng.standard_normal((T, N, d_in)).astype(np.float32)
            for impl in impls:
                if impl.startswith("scratch"):
                    xp = array_module_of(impl)
                    m = getattr(scratch.nn, cell)(d_in, hidden, generator=rng).to(
                        "cuda" if impl == "scratch-cupy" else "cpu"
                    )
                    xd, g = xp.asarray(x), xp.ones((T, N, hidden), dtype=np.float32)

                    def step(m=m, xd=xd, g=g):
                        m(xd)
                        m.backward((g, None))
                else:
                    device = torch_device(impl)
                    m = getattr(torch.nn, cell)(d_in, hidden).to(device)
                    xd = torch.from_numpy(x).to(device).requires_grad_(True)
                    g = torch.ones((T, N, hidden), device=device)

                    def step(m=m, xd=xd, g=g):
                        xd.grad = None
                        m(xd)[0].backward(g)

                yield Case(
                    f"{cell} forward + backward",
                    flops,
                    size_label,
                    impl,
                    step,
                    flops=flops,
                    size_unit="FLOPs of the matrix products",
                )


# (batch, length, embed_dim, heads)
ATTENTION_SIZES = {"small": (8, 64, 128, 4), "medium": (16, 256, 256, 8)}


def attention_cases(impls, quick):
    """Causal self-attention (MultiheadAttention, need_weights=False), its core alone (scaled
    dot-product attention on the heads: the products and the softmax, no projections), and a
    pre-norm GELU TransformerEncoderLayer at the small size; forward + backward, float32, the
    input's gradient computed. The size is the number of tokens, batch x length."""
    impls = [i for i in impls if i != "torch-cuda-graph"]
    for label, (B, T, E, H) in ATTENTION_SIZES.items():
        rng = np.random.default_rng(0)
        x, g = (rng.standard_normal((B, T, E)).astype(np.float32) for _ in range(2))
        heads = [rng.standard_normal((B, H, T, E // H)).astype(np.float32) for _ in range(4)]
        causal = np.triu(np.ones((T, T), bool), 1)  # MultiheadAttention: True masks out
        size_label = f"{label} B={B} T={T} E={E} heads={H}"
        for impl in impls:
            models = (
                report.ATTENTION_MODEL,
                report.SDPA_MODEL,
                report.SDPA_PRODUCTS,
                report.SDPA_SOFTMAX,
                report.ENCODER_MODEL,
            )
            for model in models:
                if model == report.ENCODER_MODEL and label != "small":
                    continue
                fn = _attention_fn(model, impl, x, g, heads, causal, E, H)
                yield Case(model, B * T, size_label, impl, fn, size_unit="tokens (batch x length)")


def _attention_parts(model, impl, heads):
    """The core's six products alone (forward: Q K^T, P V; backward: dV, dP, dQ, dK), or its
    softmax and the softmax's backward alone, on arrays of the core's shapes."""
    B, H, T, D = heads[0].shape
    rng = np.random.default_rng(1)
    square = [rng.standard_normal((B, H, T, T)).astype(np.float32) for _ in range(2)]
    if impl.startswith("scratch"):
        xp = array_module_of(impl)
        q, k, v, go = (xp.asarray(a) for a in heads)
        s, gs = (xp.asarray(a) for a in square)
        if model == report.SDPA_PRODUCTS:

            def fn():
                q @ k.swapaxes(-1, -2), s @ v  # noqa: B018  (timed, not used)
                s.swapaxes(-1, -2) @ go, go @ v.swapaxes(-1, -2), s @ k, s.swapaxes(-1, -2) @ q

            return fn
        activation = scratch.nn.activation

        def fn():
            p = activation.softmax(s, dim=-1)
            p * (gs - (gs * p).sum(axis=-1, keepdims=True))

        return fn
    device = torch_device(impl)
    q, k, v, go = (torch.from_numpy(a).to(device) for a in heads)
    s, gs = (torch.from_numpy(a).to(device) for a in square)
    if model == report.SDPA_PRODUCTS:

        def fn():
            q @ k.transpose(-1, -2), s @ v  # noqa: B018
            s.transpose(-1, -2) @ go, go @ v.transpose(-1, -2), s @ k, s.transpose(-1, -2) @ q

        return fn
    s = s.requires_grad_(True)

    def fn():
        s.grad = None
        torch.softmax(s, dim=-1).backward(gs)

    return fn


def _attention_fn(model, impl, x, g, heads, causal, E, H):
    """One forward + backward of `model` in `impl`, as a closure over its inputs on the device."""
    if model in (report.SDPA_PRODUCTS, report.SDPA_SOFTMAX):
        return _attention_parts(model, impl, heads)
    if impl.startswith("scratch"):
        xp = array_module_of(impl)
        xd, gd, mask = xp.asarray(x), xp.asarray(g), xp.asarray(causal)
        if model == report.SDPA_MODEL:
            q, k, v, go = (xp.asarray(a) for a in heads)

            def fn():
                out, saved = scratch.nn.attention.sdpa_forward(q, k, v, is_causal=True)
                scratch.nn.attention.sdpa_backward(go, saved)

            return fn
        if model == report.ATTENTION_MODEL:
            m = scratch.nn.MultiheadAttention(E, H, batch_first=True)
            m.to("cuda" if impl == "scratch-cupy" else "cpu")

            def fn():
                m(xd, xd, xd, attn_mask=mask, need_weights=False, is_causal=True)
                m.backward((gd, None))

            return fn
        m = scratch.nn.TransformerEncoderLayer(
            E, H, 4 * E, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        m.to("cuda" if impl == "scratch-cupy" else "cpu")

        def fn():
            m(xd, src_mask=mask, is_causal=True)
            m.backward(gd)

        return fn
    device = torch_device(impl)
    xd = torch.from_numpy(x).to(device).requires_grad_(True)
    gd, mask = torch.from_numpy(g).to(device), torch.from_numpy(causal).to(device)
    if model == report.SDPA_MODEL:
        q, k, v = (torch.from_numpy(a).to(device).requires_grad_(True) for a in heads[:3])
        go = torch.from_numpy(heads[3]).to(device)

        def fn():
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).backward(go)

        return fn
    if model == report.ATTENTION_MODEL:
        m = torch.nn.MultiheadAttention(E, H, batch_first=True).to(device)

        def fn():
            xd.grad = None
            m(xd, xd, xd, attn_mask=mask, need_weights=False, is_causal=True)[0].backward(gd)

        return fn
    m = torch.nn.TransformerEncoderLayer(
        E, H, 4 * E, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).to(device)

    def fn():
        xd.grad = None
        m(xd, src_mask=mask, is_causal=True).backward(gd)

    return fn


def gpt_cases(impls, quick):
    """The text suite's GPT training step (forward, cross-entropy, backward, AdamW) at widths
    around the suite's (n_embd 64): where a framework's per-call cost shows, and where the
    crossover lies. 2 layers, 4 heads, 16 windows of 64 characters, a 103-character vocabulary."""
    import scratch.models
    import torch_impl.models

    impls = [i for i in impls if i in ("scratch-numpy", "torch-cpu")]
    V, T, B = 103, 64, 16
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    for width in (16, 32, 64) if quick else (16, 32, 64, 128, 256):
        config = dict(block_size=T, n_layer=2, n_head=4, n_embd=width)
        s = scratch.models.GPT(V, **config, generator=np.random.default_rng(0))
        for impl in impls:
            if impl == "scratch-numpy":
                model, opt = s, scratch.optim.AdamW(s.param_groups(0.01), lr=1e-3)
                crit = scratch.nn.CrossEntropyLoss()

                def step(model=model, opt=opt, crit=crit):
                    opt.zero_grad()
                    crit(model(x).reshape(-1, V), y.reshape(-1))
                    model.backward(crit.backward().reshape(B, T, V))
                    opt.step()
            else:
                model = copy_weights(s, torch_impl.models.GPT(V, **config))
                opt = torch.optim.AdamW(model.param_groups(0.01), lr=1e-3)
                xt, yt = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)

                def step(model=model, opt=opt, xt=xt, yt=yt):
                    opt.zero_grad()
                    logits = model(xt).reshape(-1, V)
                    torch.nn.functional.cross_entropy(logits, yt).backward()
                    opt.step()

            yield Case(
                report.GPT_STEP,
                width,
                f"n_embd={width}",
                impl,
                step,
                size_unit="n_embd (2 layers, 4 heads, 16 x 64 characters)",
            )


# --- the NumPy floor: what each layer cannot do with less in NumPy, timed in the same run
#
# A layer's floor is its matrix products timed bare plus the elementwise passes its formulas
# cannot do without, each a NumPy call on an array of the shape it works on: a *full* pass reads
# one array and writes another (xp.multiply(a, 1.0, out=b)), a *read* pass only reads
# (a.sum()). The counts, per layer (shapes as the layer's, float32):
#
#   two-layer step, N x (in-hidden-out), SGD with momentum:
#       the 5 GEMMs (_bare_gemms); (N, hidden): 3 full (the bias add, the ReLU, the ReLU's
#       backward), 2 reads (that backward's second input, the bias gradient's sum);
#       (N, out): 3 full (the bias add, the loss's exp, its gradient), 2 reads (the logits' max and
#       the bias gradient's sum); each weight and bias: 2 full, 2 reads (momentum
#       buf <- m buf + g, then p <- p - lr buf: each reads two arrays and writes one)
#   BatchNorm2d, training, forward + backward, (N, C, H, W): 2 full (write y, write dx), 6 reads
#       (the mean and the squares of x; the reductions sum g and sum g x_hat, two arrays; dx's
#       second input)
#   LayerNorm over the last dimension, forward + backward: 2 full, 5 reads (as BatchNorm; its
#       rows fit in cache, so the statistics' second read is not counted)
#   conv forward + backward: the 3 GEMMs, the window copy (im2col) and the scatter of its
#       gradient (scratch's own, timed alone: NumPy has no convolution, these are the least data
#       a convolution by products moves), on the output (N, C_out, *O): 3 full (the layout to
#       and from channels-last for y and g, the bias add), 1 read (the bias gradient); on the
#       input: 2 full (its layout, and dx's)
#   LSTM, T steps: the products (x W_ih^T for all steps, one h W_hh^T a step; dW_ih, dx, dW_hh
#       stacked over the steps, one dh a step); each step on (N, 4H): 4 full (the gates' sum,
#       their nonlinearity, its derivative, the gates' gradient), on (N, H): 11 full (c', tanh c',
#       h'; dc through h', do, di, df, dg, dc to the previous step)
#   GRU: the same products with 3H; each step on (N, 3H): 4 full, on (N, H): 10 full
#
# Counted generously for NumPy: one call for a nonlinearity (sigmoid takes several in NumPy),
# none for Python's own overhead between calls. Within 1.3x of it is the target.

FLOOR = report.FLOOR  # + the layer's model name: the floor of that row


def _passes(impl, plan):
    """A callable making the passes of `plan`: [(shape, full, reads, times)], `times` repeats
    (a recurrent layer's steps)."""
    xp = array_module_of(impl)
    work = [
        (xp.ones(shape, dtype=np.float32), xp.empty(shape, dtype=np.float32), full, reads, times)
        for shape, full, reads, times in plan
    ]

    def passes(work=work, xp=xp):
        for a, b, full, reads, times in work:
            for _ in range(times):
                for _ in range(full):
                    xp.multiply(a, 1.0, out=b)
                for _ in range(reads):
                    a.sum()

    return passes


def _both(*parts):
    def run(parts=parts):
        for part in parts:
            part()

    return run


def floor_cases(impls, quick):
    """Each layer's NumPy floor (the comment above), for the scratch implementations, at the
    sizes of the layer's own cases, under the name FLOOR + the layer's model."""
    impls = [i for i in impls if i.startswith("scratch")]
    for impl in impls:
        for dims in TWO_LAYER_QUICK if quick else TWO_LAYER_FULL:
            N, d_in, hidden, d_out = dims
            size, label = _size(*dims)
            plan = [((N, hidden), 3, 2, 1), ((N, d_out), 3, 2, 1)] + [
                (shape, 2, 2, 1) for shape in ((hidden, d_in), (hidden,), (d_out, hidden), (d_out,))
            ]
            fn = _both(_bare_gemms(impl, *dims), _passes(impl, plan))
            yield Case(FLOOR + report.STEP_MODEL, size, label, impl, fn, size_unit=UNIT)
        for name, shapes in NORM_SIZES.items():
            reads = 6 if name == "BatchNorm2d" else 5
            for shape in shapes:
                fn = _passes(impl, [(shape, 2, reads, 1)])
                size, label = int(np.prod(shape)), "x".join(map(str, shape))
                model = f"{FLOOR}{name} forward + backward"
                yield Case(model, size, label, impl, fn, size_unit="elements")
        for label, (N, c_in, spatial, c_out, kernel, padding) in CONV_SIZES.items():
            n = len(spatial)
            shape, kernels = "x".join(map(str, spatial)), "x".join([str(kernel)] * n)
            size_label = f"{label} {N}x{c_in}x{shape}, {c_out} of {kernels}"
            xp = array_module_of(impl)
            m = getattr(scratch.nn, f"Conv{n}d")(c_in, c_out, kernel, padding=padding)
            m.to("cuda" if impl == "scratch-cupy" else "cpu")
            x = xp.ones((N, c_in) + spatial, dtype=np.float32)
            out = tuple(s + 2 * padding - kernel + 1 for s in spatial)
            g = xp.ones((N, c_out) + out, dtype=np.float32)
            copy, scatter = _conv_data_movement(m, x, g)
            plan = [((N, c_out) + out, 3, 1, 1), ((N, c_in) + spatial, 2, 0, 1)]
            fn = _both(
                _conv_floor_products(impl, N, c_in, spatial, c_out, kernel, padding),
                copy,
                scatter,
                _passes(impl, plan),
            )
            flops = conv_flops(N, c_in, spatial, c_out, kernel, padding)
            kw = dict(size_unit="FLOPs of the forward", extra={"trend": False})
            yield Case(FLOOR + CONV_STEP, flops, size_label, impl, fn, **kw)
        for cell, gates, per_step in (("LSTM", 4, 11), ("GRU", 3, 10)):
            for label, (T, N, d_in, hidden) in RNN_SIZES.items():
                flops = 2 * N * gates * hidden * (3 * T * d_in + 2 * T * hidden + (T - 1) * hidden)
                plan = [((N, gates * hidden), 4, 0, T), ((N, hidden), per_step, 0, T)]
                fn = _both(_rnn_gemms(impl, T, N, d_in, hidden, gates), _passes(impl, plan))
                yield Case(
                    f"{FLOOR}{cell} forward + backward",
                    flops,
                    f"{label}: T={T}, N={N}, {d_in}->{hidden}",
                    impl,
                    fn,
                    size_unit="FLOPs of the matrix products",
                )


def _conv_floor_products(impl, N, c_in, spatial, c_out, kernel, padding):
    """A convolution's products as the least NumPy can do them: columns @ W, columns^T @ g, and
    dL/dx as one product g W_k a kernel offset (rows, C_out) @ (C_out, C_in), whose results the
    scatter adds back (forming every window's gradient at once, g W^T (rows, K C_in), writes a
    matrix K times the input's size: 115 ms against 64 for scratch's whole step at the ResNet
    size, measured)."""
    rows = N * int(np.prod([s + 2 * padding - kernel + 1 for s in spatial]))
    offsets = kernel ** len(spatial)
    a = _random_arrays(
        impl,
        dict(columns=(rows, offsets * c_in), W=(offsets * c_in, c_out), g=(rows, c_out)),
    )
    W_k = [a["W"][k * c_in : (k + 1) * c_in].T for k in range(offsets)]  # (c_out, c_in) each

    def products(a=a, W_k=W_k):
        a["columns"] @ a["W"]  # out = columns W
        a["columns"].T @ a["g"]  # dL/dW = columns^T g
        for w in W_k:
            a["g"] @ w  # offset k's share of dL/dx

    return products


def _rnn_gemms(impl, T, N, d_in, hidden, gates):
    """A recurrent layer's products, bare: the input's projection for every step at once, one
    hidden-state product a step; backward dW_ih, dx and dW_hh over the stacked steps, one dh a
    step (none for the first step's zero state)."""
    G = gates * hidden
    a = _random_arrays(
        impl,
        dict(X=(T * N, d_in), W_ih=(G, d_in), W_hh=(G, hidden), h=(N, hidden), dG=(T * N, G)),
    )
    a["H"] = _random_arrays(impl, dict(H=(T * N, hidden)))["H"]  # the hidden states, stacked

    def gemms(a=a, T=T, N=N):
        a["X"] @ a["W_ih"].T  # gi = x W_ih^T, every step
        for _ in range(T):
            a["h"] @ a["W_hh"].T  # gh = h W_hh^T
        a["dG"].T @ a["X"]  # dW_ih
        a["dG"] @ a["W_ih"]  # dx
        a["dG"][N:].T @ a["H"][: (T - 1) * N]  # dW_hh, over the steps with a previous state
        for t in range(1, T):
            a["dG"][t * N : (t + 1) * N] @ a["W_hh"]  # dh to the previous step

    return gemms


BUILDERS = {
    "gradient_descent": gradient_descent_cases,
    "sgd": sgd_cases,
    "adam": adam_cases,
    "perceptron": perceptron_cases,
    "two_layer": two_layer_cases,
    "normalization": normalization_cases,
    "conv": conv_cases,
    "recurrent": recurrent_cases,
    "attention": attention_cases,
    "gpt": gpt_cases,
    "floor": floor_cases,
}


def all_cases(impls, quick, only=None):
    """Every builder's cases, or those of the builders named in `only`."""
    for name, build in BUILDERS.items():
        if only is None or name in only:
            yield from build(impls, quick)


# --- the yardstick: this machine's GEMM peak, measured in the same run


def gemm_cases(impls, quick):
    n = 1024 if quick else 2048
    for impl in [i for i in impls if i != "torch-cuda-graph"]:
        if impl.startswith("scratch"):
            xp = array_module_of(impl)
            a = xp.ones((n, n), dtype=xp.float32)
            fn = lambda a=a, xp=xp: xp.matmul(a, a)  # noqa: E731
        else:
            a = torch.ones((n, n), device=torch_device(impl))
            fn = lambda a=a: torch.matmul(a, a)  # noqa: E731
        # the best of three: the yardstick of every "% peak" (timing._timed)
        yield Case(
            report.PEAK_MODEL, n, f"{n}x{n}x{n}", impl, fn, flops=2 * n**3, extra={"best_of": 3}
        )
