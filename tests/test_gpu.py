"""The same handwritten code on a GPU: scratch on CuPy against torch on CUDA (TF32 off).

Every test here carries the `gpu` marker and skips cleanly where CUDA or CuPy is absent
(tests/conftest.py). cupy is imported inside the tests so that this file loads without it.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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
@given(
    N=st.integers(1, 64),
    dims=st.tuples(st.integers(1, 32), st.integers(1, 64), st.integers(1, 10)),
    seed=st.integers(0, 1000),
)
def test_simple_nn_on_cupy_matches_torch_on_cuda(dtype, N, dims, seed):
    import cupy

    rng = np.random.default_rng(seed)
    s = s2.SimpleNN(*dims, dtype=dtype, generator=rng).to("cuda")
    t = t2.SimpleNN(
        *dims, dtype=torch.float64 if dtype == np.float64 else torch.float32, device="cuda"
    )
    copy_weights(s, t)  # NumPy, even from the GPU
    x = rng.standard_normal((N, dims[0])).astype(dtype)
    g = rng.standard_normal((N, dims[2])).astype(dtype)
    xt = torch.from_numpy(x).cuda().requires_grad_(True)
    out_s = s(cupy.asarray(x))
    assert isinstance(out_s, cupy.ndarray)
    # atol x10: sums of up to 32 + 64 products of N(0,1) terms
    assert_close(out_s, t(xt), dtype, scale=10)
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
    s_losses = s2.train(
        s,
        cupy.asarray(X),
        cupy.asarray(Y),
        snn.CrossEntropyLoss(),
        scratch.optim.Adam(s.parameters(), lr=0.01),
        epochs=8,
        batch_size=8,
    )
    t_losses = t2.train(
        t,
        torch.from_numpy(X).cuda(),
        torch.from_numpy(Y).cuda(),
        torch.nn.CrossEntropyLoss(),
        torch.optim.Adam(t.parameters(), lr=0.01),
        epochs=8,
        batch_size=8,
    )
    assert len(s_losses) == 96
    assert_close(np.array(s_losses), np.array(t_losses))


def test_gradient_descent_on_cupy_matches_torch_on_cuda():
    import cupy

    s_params, s_losses = sgd.gradient_descent(cupy.asarray([-1.0, 4.0]), 0.2, 50)
    t_params, t_losses = tgd.gradient_descent(
        torch.tensor([-1.0, 4.0], dtype=torch.float64, device="cuda"), 0.2, 50
    )
    assert isinstance(s_params, cupy.ndarray)
    assert_close(s_params, t_params)
    assert_close(s_losses, t_losses)


def test_state_dict_moves_back_to_numpy():
    s = s2.SimpleNN(3, 4, 2).to("cuda").to("cpu")
    assert all(isinstance(v, np.ndarray) for v in s.state_dict().values())
    assert isinstance(to_numpy(s(np.ones((1, 3), np.float32))), np.ndarray)


# --- every layer family, scratch on CuPy against torch on CUDA, in float64 (so cuDNN's and cuBLAS's
# algorithm choices cannot hide a wrong gradient behind float32 rounding)

GPU_LAYERS = {
    "Conv2d": (lambda: snn.Conv2d(3, 4, 3, padding=1, stride=2, dtype=np.float64), (2, 3, 7, 6)),
    "Conv3d-groups": (
        lambda: snn.Conv3d(4, 4, 2, groups=2, padding_mode="circular", padding=1, dtype=np.float64),
        (1, 4, 4, 3, 5),
    ),
    "MaxPool2d": (lambda: snn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 7, 6)),
    "AvgPool1d": (
        lambda: snn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False),
        (2, 3, 9),
    ),
    "BatchNorm2d": (lambda: snn.BatchNorm2d(3, dtype=np.float64), (4, 3, 5, 5)),
    "LayerNorm": (lambda: snn.LayerNorm((4, 5), dtype=np.float64), (3, 4, 5)),
}


@pytest.mark.parametrize("name", list(GPU_LAYERS))
def test_each_layer_family_on_cupy_matches_torch_on_cuda(name):
    import cupy

    build, shape = GPU_LAYERS[name]
    s = build()
    torch_twin = {
        "Conv2d": lambda: torch.nn.Conv2d(3, 4, 3, padding=1, stride=2, dtype=torch.float64),
        "Conv3d-groups": lambda: torch.nn.Conv3d(
            4, 4, 2, groups=2, padding_mode="circular", padding=1, dtype=torch.float64
        ),
        "MaxPool2d": lambda: torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        "AvgPool1d": lambda: torch.nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False),
        "BatchNorm2d": lambda: torch.nn.BatchNorm2d(3, dtype=torch.float64),
        "LayerNorm": lambda: torch.nn.LayerNorm((4, 5), dtype=torch.float64),
    }[name]().cuda()
    copy_weights(s, torch_twin)
    s.to("cuda")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    xt = torch.from_numpy(x).cuda().requires_grad_(True)
    out_s, out_t = s(cupy.asarray(x)), torch_twin(xt)
    assert isinstance(out_s, cupy.ndarray)
    assert_close(out_s, out_t)
    g = rng.standard_normal(out_s.shape)
    out_t.backward(torch.from_numpy(g).cuda())
    assert_close(s.backward(cupy.asarray(g)), xt.grad)
    for n, p in torch_twin.named_parameters():
        assert_close(dict(s.named_parameters())[n].grad, p.grad, err_msg=n)
    for n, b in torch_twin.named_buffers():
        assert_close(dict(s.named_buffers())[n], b, np.float64, err_msg=n)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_recurrent_layers_on_cupy_match_torch_on_cuda(name):
    import cupy

    s = getattr(snn, name)(
        5, 6, num_layers=2, bidirectional=True, dtype=np.float64, generator=np.random.default_rng(0)
    )
    t = copy_weights(
        s, getattr(torch.nn, name)(5, 6, num_layers=2, bidirectional=True, dtype=torch.float64)
    ).cuda()
    s.to("cuda")
    x = np.random.default_rng(1).standard_normal((7, 3, 5))
    xt = torch.from_numpy(x).cuda().requires_grad_(True)
    out_s, _ = s(cupy.asarray(x))
    out_t, _ = t(xt)
    assert_close(out_s, out_t)
    g = np.random.default_rng(2).standard_normal(out_s.shape)
    out_t.backward(torch.from_numpy(g).cuda())
    assert_close(s.backward((cupy.asarray(g), None))[0], xt.grad)
    for n, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[n].grad, p.grad, err_msg=n)


@pytest.mark.parametrize("name", ["Embedding", "GELU", "MultiheadAttention", "Transformer"])
def test_the_attention_chapter_on_cupy_matches_torch_on_cuda(name):
    """float64; the embedding's scatter-add is cupy.add.at, GELU's erf cupyx's."""
    import cupy

    rng = np.random.default_rng(0)
    builds = {
        "Embedding": (
            lambda: snn.Embedding(5, 8, dtype=np.float64),
            lambda: torch.nn.Embedding(5, 8, dtype=torch.float64),
        ),
        "GELU": (snn.GELU, torch.nn.GELU),
        "MultiheadAttention": (
            lambda: snn.MultiheadAttention(8, 2, dtype=np.float64),
            lambda: torch.nn.MultiheadAttention(8, 2, dtype=torch.float64),
        ),
        "Transformer": (
            lambda: snn.TransformerEncoderLayer(
                8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, dtype=np.float64
            ),
            lambda: torch.nn.TransformerEncoderLayer(
                8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, dtype=torch.float64
            ),
        ),
    }
    s, t = (b() for b in builds[name])
    copy_weights(s, t)
    t = t.cuda()
    s.to("cuda")
    x = np.array([[1, 1, 3], [0, 4, 1]]) if name == "Embedding" else rng.standard_normal((4, 2, 8))
    xt = torch.from_numpy(x).cuda()
    if name != "Embedding":
        xt.requires_grad_(True)
    if name == "MultiheadAttention":
        out_s = s(*(cupy.asarray(x),) * 3)[0]
        out_t = t(xt, xt, xt)[0]
    else:
        out_s, out_t = s(cupy.asarray(x)), t(xt)
    assert_close(out_s, out_t)
    g = rng.standard_normal(out_s.shape)
    out_t.backward(torch.from_numpy(g).cuda())
    grads = s.backward((cupy.asarray(g), None) if name == "MultiheadAttention" else cupy.asarray(g))
    if name == "MultiheadAttention":
        assert_close(sum(grads), xt.grad)
    elif name != "Embedding":
        assert_close(grads, xt.grad)
    for n, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[n].grad, p.grad, err_msg=n)
