"""The same handwritten code on a GPU: scratch on CuPy against torch on CUDA (TF32 off).

Every test here carries the `gpu` marker and skips cleanly where CUDA or CuPy is absent
(tests/conftest.py). cupy is imported inside the tests so that this file loads without it.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import scratch.gradient_descent as sgd
import scratch.nn as snn
import scratch.optim
import scratch.two_layer as s2
import torch_impl.gradient_descent as tgd
import torch_impl.two_layer as t2
from tests.helpers import assert_close, copy_weights, to_numpy

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def true_float32_on_the_gpu(monkeypatch):
    """Equivalence needs IEEE float32 products: TF32 would keep only 10 mantissa bits. CuPy reads
    CUPY_TF32 (default off) at its first float32 matrix product, which happens in these tests."""
    monkeypatch.setenv("CUPY_TF32", "0")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(N=st.integers(1, 64), dims=st.tuples(st.integers(1, 32), st.integers(1, 64), st.integers(1, 10)),
       seed=st.integers(0, 1000))
def test_simple_nn_on_cupy_matches_torch_on_cuda(dtype, N, dims, seed):
    import cupy

    rng = np.random.default_rng(seed)
    s = s2.SimpleNN(*dims, dtype=dtype, generator=rng).to("cuda")
    t = t2.SimpleNN(*dims, dtype=torch.float64 if dtype == np.float64 else torch.float32, device="cuda")
    copy_weights(s, t)  # NumPy, even from the GPU
    x = rng.standard_normal((N, dims[0])).astype(dtype)
    g = rng.standard_normal((N, dims[2])).astype(dtype)
    xt = torch.from_numpy(x).cuda().requires_grad_(True)
    out_s = s(cupy.asarray(x))
    assert isinstance(out_s, cupy.ndarray)
    assert_close(out_s, t(xt), dtype, scale=10)  # atol x10: sums of up to 32 + 64 products of N(0,1) terms
    t(xt).backward(torch.from_numpy(g).cuda())
    assert_close(s.backward(cupy.asarray(g)), xt.grad, dtype, scale=10)
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].grad, p.grad, dtype, scale=10, err_msg=name)


def test_training_on_cupy_matches_torch_on_cuda():
    import cupy

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((96, 8)), rng.integers(0, 3, 96)
    s = s2.SimpleNN(8, 16, 3, dtype=np.float64, generator=rng).to("cuda")
    t = t2.SimpleNN(8, 16, 3, dtype=torch.float64, device="cuda")
    copy_weights(s, t)
    s_losses = s2.train(s, cupy.asarray(X), cupy.asarray(Y), snn.CrossEntropyLoss(),
                        scratch.optim.Adam(s.parameters(), lr=0.01), epochs=8, batch_size=8)
    t_losses = t2.train(t, torch.from_numpy(X).cuda(), torch.from_numpy(Y).cuda(), torch.nn.CrossEntropyLoss(),
                        torch.optim.Adam(t.parameters(), lr=0.01), epochs=8, batch_size=8)
    assert len(s_losses) == 96
    assert_close(np.array(s_losses), np.array(t_losses))


def test_gradient_descent_on_cupy_matches_torch_on_cuda():
    import cupy

    s_params, s_losses = sgd.gradient_descent(cupy.asarray([-1.0, 4.0]), 0.2, 50)
    t_params, t_losses = tgd.gradient_descent(torch.tensor([-1.0, 4.0], dtype=torch.float64, device="cuda"), 0.2, 50)
    assert isinstance(s_params, cupy.ndarray)
    assert_close(s_params, t_params)
    assert_close(s_losses, t_losses)


def test_state_dict_moves_back_to_numpy():
    s = s2.SimpleNN(3, 4, 2).to("cuda").to("cpu")
    assert all(isinstance(v, np.ndarray) for v in s.state_dict().values())
    assert isinstance(to_numpy(s(np.ones((1, 3), np.float32))), np.ndarray)
