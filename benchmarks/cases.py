"""What is timed: one `Case` per (model, size, implementation), each a callable doing one unit of work.

Implementations:
  scratch-numpy   the handwritten code on NumPy (CPU)        torch-cpu    its torch twin, eager, CPU
  scratch-cupy    the same handwritten code on CuPy (GPU)    torch-cuda   its torch twin, eager, CUDA
Each builder returns the cases for the implementations it is asked for; a new model adds a builder
to BUILDERS and nothing else changes.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

import scratch.gradient_descent
import scratch.optim
import scratch.perceptron
import torch_impl.gradient_descent
import torch_impl.perceptron
from scratch.nn import Parameter

CPU_IMPLS = ("scratch-numpy", "torch-cpu")
GPU_IMPLS = ("scratch-cupy", "torch-cuda")


@dataclass
class Case:
    model: str  # what is timed, e.g. "Adam step"
    size: int  # the x axis of the scaling plot
    size_label: str  # e.g. "n=1,000,000"
    impl: str  # one of CPU_IMPLS + GPU_IMPLS
    fn: object  # fn() does one unit of work
    flops: float | None = None  # floating-point operations per call, where the count is meaningful
    notes: str = ""
    extra: dict = field(default_factory=dict)


def array_module(impl):
    if impl == "scratch-cupy":
        import cupy

        return cupy
    return np


def torch_device(impl):
    return "cuda" if impl == "torch-cuda" else "cpu"


# --- notes §1: gradient descent on the bowl


def gradient_descent_cases(impls, quick):
    for iterations in (10, 100) if quick else (10, 100, 1000):
        for impl in impls:
            if impl.startswith("scratch"):
                start = array_module(impl).asarray([0.0, 0.0])
                fn = lambda s=start, k=iterations: scratch.gradient_descent.gradient_descent(s, 0.1, k)  # noqa: E731
            else:
                start = torch.zeros(2, dtype=torch.float64, device=torch_device(impl))
                fn = lambda s=start, k=iterations: torch_impl.gradient_descent.gradient_descent(s, 0.1, k)  # noqa: E731
            yield Case("gradient descent (bowl)", iterations, f"{iterations} steps", impl, fn)


# --- scratch.optim vs torch.optim: one step over n parameters (memory-bound elementwise work)


def _optimizer_cases(name, make_scratch, make_torch, flops_per_element, impls, quick):
    for n in (10**3, 10**5, 10**6) if quick else (10**2, 10**3, 10**4, 10**5, 10**6, 10**7):
        for impl in impls:
            if impl.startswith("scratch"):
                xp = array_module(impl)
                p = Parameter(xp.ones(n, dtype=xp.float32))
                p.grad = xp.full(n, 1e-3, dtype=xp.float32)
                opt = make_scratch([p])
            else:
                p = torch.ones(n, device=torch_device(impl), requires_grad=True)
                p.grad = torch.full((n,), 1e-3, device=torch_device(impl))
                opt = make_torch([p])
            yield Case(name, n, f"n={n:,}", impl, opt.step, flops=flops_per_element * n)


def sgd_cases(impls, quick):
    # buf = 0.9 buf + g; p -= lr buf: ~4 flops an element
    yield from _optimizer_cases("SGD step (momentum 0.9)", lambda p: scratch.optim.SGD(p, lr=1e-3, momentum=0.9),
                                lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=False), 4, impls, quick)


def adam_cases(impls, quick):
    # m, v updates, sqrt, two divisions, the step: ~12 flops an element
    yield from _optimizer_cases("Adam step", lambda p: scratch.optim.Adam(p, lr=1e-3),
                                lambda p: torch.optim.Adam(p, lr=1e-3, foreach=False), 12, impls, quick)


# --- notes §2: one epoch of the online perceptron rule (a Python loop over samples, by design)


def perceptron_cases(impls, quick):
    d = 8
    for n in (100, 1000) if quick else (100, 1000, 10000):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d)).astype(np.float32)
        y = (rng.random(n) < 0.5).astype(np.float32)  # random labels: it keeps making mistakes
        for impl in impls:
            if impl == "scratch-cupy":
                continue  # the rule is a per-sample loop; a GPU kernel launch per sample only slows it
            if impl.startswith("scratch"):
                model, train = scratch.perceptron.Perceptron(d), scratch.perceptron.train_perceptron
                inputs, targets = X, y
            else:
                model = torch_impl.perceptron.Perceptron(d, device=torch_device(impl))
                train = torch_impl.perceptron.train_perceptron
                inputs, targets = torch.from_numpy(X).to(torch_device(impl)), torch.from_numpy(y).to(torch_device(impl))
            fn = lambda m=model, t=train, a=inputs, b=targets: t(m, a, b, 0.01, epochs=1)  # noqa: E731
            yield Case("perceptron epoch", n, f"n={n:,}, d={d}", impl, fn, flops=4 * n * d)


BUILDERS = [gradient_descent_cases, sgd_cases, adam_cases, perceptron_cases]


def all_cases(impls, quick):
    for build in BUILDERS:
        yield from build(impls, quick)


# --- the yardstick: this machine's GEMM peak, measured in the same run


def gemm_cases(impls, quick):
    n = 1024 if quick else 2048
    for impl in impls:
        if impl.startswith("scratch"):
            xp = array_module(impl)
            a = xp.ones((n, n), dtype=xp.float32)
            fn = lambda a=a, xp=xp: xp.matmul(a, a)  # noqa: E731
        else:
            a = torch.ones((n, n), device=torch_device(impl))
            fn = lambda a=a: torch.matmul(a, a)  # noqa: E731
        yield Case("GEMM float32 (peak)", n, f"{n}x{n}x{n}", impl, fn, flops=2 * n**3)
