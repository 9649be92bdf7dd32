"""The attention chapter against torch: Embedding, Dropout, GELU, scaled dot-product attention,
MultiheadAttention and TransformerEncoderLayer. Forward and every gradient over drawn options,
float64 to ~1e-10 and float32 at torch.testing's defaults; finite differences (dropout included,
through a fixed mask); closed forms; torch's edge cases by name; bad input in words; a small
transformer trained identically in both twins for 120 steps with AdamW."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
import scratch.nn.functional as F
import scratch.optim
from scratch.gradcheck import numerical_gradient
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    assert_matches_finite_differences,
    check_module_finite_differences,
    copy_weights,
    to_numpy,
)
from tests.strategies import DTYPES, values_within

FEWER = settings(max_examples=max(10, settings.default.max_examples // 2))


values = values_within(2.0)


def tensors(*arrays, grad=True):
    return [torch.from_numpy(a.copy()).requires_grad_(grad) for a in arrays]


# --- Embedding


@DTYPES
@given(
    data=st.data(),
    V=st.integers(1, 8),
    D=st.integers(1, 4),
    ids_shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
    padding=st.none() | st.integers(-8, 7),
    max_norm=st.none() | st.floats(0.1, 3.0),
    norm_type=st.sampled_from([1.0, 2.0, 3.0]),
    scale_grad_by_freq=st.booleans(),
)
def test_embedding_matches_torch_for_every_option(
    dtype, data, V, D, ids_shape, padding, max_norm, norm_type, scale_grad_by_freq
):
    padding = None if padding is None or not -V <= padding < V else padding
    opts = dict(
        padding_idx=padding,
        max_norm=max_norm,
        norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq,
    )
    s = snn.Embedding(V, D, **opts, dtype=dtype, generator=np.random.default_rng(0))
    t = torch.nn.Embedding(V, D, **opts, dtype=TORCH_DTYPE[np.dtype(dtype)])
    copy_weights(s, t)
    ids = data.draw(hnp.arrays(np.int64, ids_shape, elements=st.integers(0, V - 1)), label="ids")
    out_s, out_t = s(ids), t(torch.from_numpy(ids))
    assert_close(out_s, out_t, dtype)
    assert_close(s.weight.data, t.weight, dtype, err_msg="max_norm renormalises in place")
    g = data.draw(hnp.arrays(dtype, out_s.shape, elements=values(dtype)), label="grad")
    out_t.backward(torch.from_numpy(g))
    assert s.backward(g) is None  # integer ids: no gradient
    # a row's gradient sums up to size(ids) values
    assert_close(s.weight.grad, t.weight.grad, dtype, scale=max(1.0, math.sqrt(ids.size)))
    assert repr(s) == repr(t)


def test_repeated_ids_sum_their_gradients():
    """The classic bug: weight.grad[ids] += g keeps one gradient of each repeated id."""
    s = snn.Embedding(4, 2, dtype=np.float64)
    ids = np.array([1, 1, 1, 3])
    s(ids)
    s.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(s.weight.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])
    buggy = np.zeros((4, 2))
    buggy[ids] += np.ones((4, 2))
    assert buggy[1, 0] == 1  # what the one-line version would have given


def test_padding_idx_gets_no_gradient_and_starts_at_zero():
    s = snn.Embedding(5, 3, padding_idx=-1, dtype=np.float64)
    assert s.padding_idx == 4 and not s.weight.data[4].any()
    s(np.array([4, 4, 0]))
    s.backward(np.ones((3, 3)))
    assert not s.weight.grad[4].any() and (s.weight.grad[0] == 1).all()


@pytest.mark.parametrize(
    "ids, error, match",
    [
        (np.array([0, 5]), IndexError, r"id 5 is out of range: ids must be in \[0, 5\)"),
        (np.array([-1, 2]), IndexError, r"id -1 is out of range"),
        (np.array([0.0, 1.0]), TypeError, r"integer ids, got float64: pass input\.astype"),
    ],
)
def test_embedding_refuses_bad_ids_in_words(ids, error, match):
    s = snn.Embedding(5, 2)
    before = s.weight.data.copy()
    with pytest.raises(error, match=match):
        s(ids)
    np.testing.assert_array_equal(s.weight.data, before)


def test_embedding_refuses_sparse_and_a_bad_padding_idx():
    with pytest.raises(NotImplementedError, match="sparse=True"):
        snn.Embedding(3, 2, sparse=True)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        snn.Embedding(3, 2, padding_idx=3)


# --- Dropout


def test_dropout_is_the_identity_in_eval_and_at_p_0_and_zero_at_p_1():
    x = np.random.default_rng(0).standard_normal((4, 5))
    d = snn.Dropout(0.3).eval()
    assert d(x) is x and d.backward(x) is not None
    assert snn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(snn.Dropout(1.0)(x), np.zeros_like(x))
    t = torch.nn.Dropout(1.0)
    np.testing.assert_array_equal(t(torch.from_numpy(x)).numpy(), np.zeros_like(x))
    assert F.dropout(x, 0.3, training=False) is x


def test_dropout_keeps_1_minus_p_scaled_and_backprops_through_its_mask():
    x = np.ones((200, 100))
    d = snn.Dropout(0.25, generator=np.random.default_rng(0))
    y = d(x)
    kept = y != 0
    # 20,000 Bernoulli(0.75) draws: the fraction kept is within 5 standard deviations of 0.75
    assert abs(kept.mean() - 0.75) < 5 * math.sqrt(0.75 * 0.25 / x.size)
    np.testing.assert_allclose(y[kept], 1 / 0.75)  # inverted dropout: the expectation is kept
    g = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(d.backward(g), g * y)  # y = x * mask with x = 1: y is the mask


def test_dropout_refuses_a_probability_outside_0_1():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            snn.Dropout(p)
        with pytest.raises(ValueError):
            torch.nn.Dropout(p)


# --- GELU


@DTYPES
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@given(data=st.data())
def test_gelu_matches_torch(dtype, approximate, data):
    x = data.draw(hnp.arrays(dtype, hnp.array_shapes(max_dims=3), elements=values(dtype, 6.0)))
    s = snn.GELU(approximate)
    (xt,) = tensors(x)
    out_t = TF.gelu(xt, approximate=approximate)
    assert_close(s(x), out_t, dtype)
    g = np.ones_like(x)
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype)
    assert repr(s) == repr(torch.nn.GELU(approximate))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_closed_forms_and_torchs_values_at_the_edges(approximate):
    """gelu(0) = 0 with slope 1/2; large |x|: x and 0; +-inf as torch gives them."""
    x = np.array([0.0, 30.0, -30.0, np.inf, -np.inf])
    with np.errstate(invalid="ignore"):
        got = F.gelu(x, approximate)
    expected = TF.gelu(torch.from_numpy(x), approximate=approximate).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[:3], [0.0, 30.0, 0.0], atol=1e-12)
    finite = ~np.isnan(expected)
    np.testing.assert_array_equal(got[finite], expected[finite])
    s = snn.GELU(approximate)
    s(np.array([0.0]))
    assert s.backward(np.array([1.0]))[0] == 0.5


def test_gelu_refuses_an_unknown_approximation():
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        snn.GELU("fast")


# --- scaled dot-product attention


@st.composite
def sdpa_case(draw, dtype):
    B, Hk = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    gqa = draw(st.booleans())
    Hq = Hk * (draw(st.integers(1, 2)) if gqa else 1)
    L, S, E, Ev = (draw(st.integers(1, 5)) for _ in range(4))
    arrays = [
        draw(hnp.arrays(dtype, shape, elements=values(dtype)))
        for shape in ((B, Hq, L, E), (B, Hk, S, E), (B, Hk, S, Ev))
    ]
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask = None
    if kind == "bool":  # every query keeps key 0, so no row is fully masked here
        mask = draw(hnp.arrays(bool, (L, S)))
        mask[:, 0] = True
    elif kind == "float":
        mask = draw(hnp.arrays(dtype, (B, 1, L, S), elements=values(dtype)))
    scale = draw(st.none() | st.floats(0.1, 2.0))
    return arrays, mask, kind == "causal", scale, gqa


@DTYPES
@given(data=st.data())
def test_sdpa_matches_torch_for_every_mask_scale_and_gqa(dtype, data):
    (q, k, v), mask, causal, scale, gqa = data.draw(sdpa_case(dtype))
    opts = dict(is_causal=causal, scale=scale, enable_gqa=gqa)
    out, saved = snn.attention.sdpa_forward(
        q, k, v, attn_mask=mask, is_causal=causal, scale=scale, enable_gqa=gqa
    )
    qt, kt, vt = tensors(q, k, v)
    mt = None if mask is None else torch.from_numpy(mask)
    out_t = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, **opts)
    assert_close(out, out_t, dtype)
    assert_close(F.scaled_dot_product_attention(q, k, v, mask, **opts), out_t, dtype)
    g = data.draw(hnp.arrays(dtype, out.shape, elements=values(dtype)))
    out_t.backward(torch.from_numpy(g))
    grads = snn.attention.sdpa_backward(g, saved)
    for name, got, t in zip("qkv", grads, (qt, kt, vt)):
        assert_close(got, t.grad, dtype, err_msg=f"d{name}")


def test_sdpa_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    mask = rng.standard_normal((3, 5))
    g = rng.standard_normal((2, 3, 3))
    out, saved = snn.attention.sdpa_forward(q, k, v, attn_mask=mask)
    analytic = snn.attention.sdpa_backward(g, saved)
    arrays = [q, k, v]
    for i, name in enumerate("qkv"):

        def f(a, i=i):
            args = arrays[:i] + [a] + arrays[i + 1 :]
            return np.sum(g * F.scaled_dot_product_attention(*args, attn_mask=mask))

        numeric = numerical_gradient(f, arrays[i])
        assert_matches_finite_differences(analytic[i], numeric, np.sum(g * out), err_msg=name)


def test_sdpa_dropout_backprops_through_the_same_mask():
    """With a generator seeded the same before each call, the mask is fixed: finite differences
    of that fixed function check the backward through it."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 3, 4)) for _ in range(3))
    g = rng.standard_normal((1, 3, 4))

    def run(q):
        return snn.attention.sdpa_forward(
            q, k, v, dropout_p=0.4, generator=np.random.default_rng(7)
        )

    out, saved = run(q)
    assert saved.drop_mask is not None and (saved.drop_mask == 0).any()  # some weights dropped
    numeric = numerical_gradient(lambda a: np.sum(g * run(a)[0]), q)
    assert_matches_finite_differences(
        snn.attention.sdpa_backward(g, saved)[0], numeric, np.sum(g * out)
    )


def test_sdpa_closed_forms():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((1, 4)), rng.standard_normal((1, 2))
    # one key: every query's only weight is 1, so the output is that key's value
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v), np.repeat(v, 3, axis=0))
    # equal scores (a zero query): the mean of the values
    k, v = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    out = F.scaled_dot_product_attention(np.zeros((1, 4)), k, v)
    np.testing.assert_allclose(out[0], v.mean(axis=0))
    # causal: the first position sees only itself
    q = rng.standard_normal((5, 4))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out[0], v[0])


def test_a_fully_masked_query_gives_what_torch_gives():
    """torch's scaled_dot_product_attention gives 0 for a query that may see no key (and no
    gradient); MultiheadAttention with need_weights=True gives NaN there, as torch's does."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)) for _ in range(3))
    mask = np.ones((3, 3), bool)
    mask[1] = False
    qt, kt, vt = tensors(q, k, v)
    out_t = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.from_numpy(mask))
    out, saved = snn.attention.sdpa_forward(q, k, v, attn_mask=mask)
    assert_close(out, out_t)
    assert not out[..., 1, :].any()
    g = np.ones_like(out)
    out_t.backward(torch.from_numpy(g))
    for got, t in zip(snn.attention.sdpa_backward(g, saved), (qt, kt, vt)):
        assert_close(got, t.grad)
    s = snn.MultiheadAttention(4, 2, dtype=np.float64)
    t = copy_weights(s, torch.nn.MultiheadAttention(4, 2, dtype=torch.float64))
    x = rng.standard_normal((3, 1, 4))
    blocked = ~mask  # MultiheadAttention masks out where True
    out_s, w_s = s(x, x, x, attn_mask=blocked)
    out_t, w_t = t(*tensors(x, x, x), attn_mask=torch.from_numpy(blocked))
    np.testing.assert_array_equal(np.isnan(out_s), np.isnan(out_t.detach().numpy()))
    np.testing.assert_array_equal(np.isnan(w_s), np.isnan(w_t.detach().numpy()))
    out_s, _ = s(x, x, x, attn_mask=blocked, need_weights=False)
    out_t, _ = t(*tensors(x, x, x), attn_mask=torch.from_numpy(blocked), need_weights=False)
    assert_close(out_s, out_t)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda q: F.scaled_dot_product_attention(
                q, q, q, np.ones((3, 3), bool), is_causal=True
            ),
            ValueError,
            "pass attn_mask or is_causal=True, not both",
        ),
        (
            lambda q: F.scaled_dot_product_attention(q, q[..., :2], q),
            ValueError,
            "same embedding size",
        ),
        (
            lambda q: F.scaled_dot_product_attention(q, q, q, np.ones((2, 3), bool)),
            ValueError,
            r"attn_mask of shape \(2, 3\) must broadcast to the scores' shape \(2, 3, 3\)",
        ),
        (
            lambda q: F.scaled_dot_product_attention(q, q, q, np.ones((3, 3), np.int64)),
            TypeError,
            r"attn_mask must be bool or floating point, got int64: pass attn_mask\.astype\(bool\)",
        ),
        (
            lambda q: F.scaled_dot_product_attention(q, q, q.astype(np.float32)),
            TypeError,
            "one dtype",
        ),
    ],
)
def test_sdpa_refuses_bad_input_in_words(call, error, match):
    with pytest.raises(error, match=match):
        call(np.zeros((2, 3, 4)))


# --- MultiheadAttention


@st.composite
def mha_case(draw):
    H = draw(st.integers(1, 3))
    E = H * draw(st.integers(1, 3))
    same = draw(st.booleans())
    opts = dict(
        bias=draw(st.booleans()),
        add_bias_kv=draw(st.booleans()),
        add_zero_attn=draw(st.booleans()),
        kdim=None if same else draw(st.integers(1, 4)),
        vdim=None if same else draw(st.integers(1, 4)),
        batch_first=draw(st.booleans()),
    )
    L, S, N = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batched = draw(st.booleans())
    forward = dict(need_weights=draw(st.booleans()), average_attn_weights=draw(st.booleans()))
    masks = draw(
        st.sampled_from(
            ["none", "attn bool", "attn float", "attn 3-d", "padding", "both", "causal"]
        )
    )
    return H, E, opts, (L, S, N), batched, forward, masks


def mha_inputs(rng, E, opts, L, S, N, batched, dtype):
    kdim, vdim = opts["kdim"] or E, opts["vdim"] or E
    if opts["causal"] if "causal" in opts else False:
        S = L
    shapes = [(T, d) for T, d in ((L, E), (S, kdim), (S, vdim))]
    if batched:
        shapes = [((N, T, d) if opts["batch_first"] else (T, N, d)) for T, d in shapes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@DTYPES
@FEWER
@given(case=mha_case(), seed=st.integers(0, 2**16))
def test_multihead_attention_matches_torch_for_every_option(dtype, case, seed):
    H, E, opts, (L, S, N), batched, forward, masks = case
    rng = np.random.default_rng(seed)
    if masks == "causal":
        S = L
    s = snn.MultiheadAttention(E, H, **opts, dtype=dtype, generator=rng)
    t = torch.nn.MultiheadAttention(E, H, **opts, dtype=TORCH_DTYPE[np.dtype(dtype)])
    copy_weights(s, t)
    q, k, v = mha_inputs(rng, E, opts, L, S, N, batched, dtype)
    kw = dict(forward)
    n = N if batched else 1
    if masks in ("attn bool", "both", "causal"):
        keep_first = rng.random((L, S)) < 0.3
        keep_first[:, 0] = False  # MultiheadAttention masks out where True: key 0 stays seen
        kw["attn_mask"] = np.triu(np.ones((L, S), bool), 1) if masks == "causal" else keep_first
        kw["is_causal"] = masks == "causal" and not forward["need_weights"]
    if masks == "attn float":
        kw["attn_mask"] = rng.standard_normal((L, S)).astype(dtype)
    if masks == "attn 3-d":
        kw["attn_mask"] = rng.standard_normal((n * H, L, S)).astype(dtype)
    if masks in ("padding", "both"):
        padding = rng.random((n, S) if batched else (S,)) < 0.3
        padding[..., 0] = False
        kw["key_padding_mask"] = padding
    tkw = {key: torch.from_numpy(a) if isinstance(a, np.ndarray) else a for key, a in kw.items()}
    qt, kt, vt = tensors(q, k, v)
    out_s, w_s = s(q, k, v, **kw)
    out_t, w_t = t(qt, kt, vt, **tkw)
    assert_close(out_s, out_t, dtype)
    assert (w_s is None) == (w_t is None)
    g = rng.standard_normal(out_s.shape).astype(dtype)
    gw = None if w_s is None else rng.standard_normal(w_s.shape).astype(dtype)
    total = (out_t * torch.from_numpy(g)).sum()
    if gw is not None:
        assert_close(w_s, w_t, dtype)
        total = total + (w_t * torch.from_numpy(gw)).sum()
    total.backward()
    grads = s.backward((g, gw))
    for name, got, ref in zip(("query", "key", "value"), grads, (qt, kt, vt)):
        assert_close(got, ref.grad, dtype, err_msg=name)
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].grad, p.grad, dtype, err_msg=name)
    assert list(s.state_dict()) == list(t.state_dict()) and repr(s) == repr(t)


def test_multihead_attention_backward_matches_finite_differences():
    """Through every parameter and the query (as self-attention: one x, its three gradients
    summed), with masks, bias_kv and a zero attention slot."""
    rng = np.random.default_rng(0)
    s = snn.MultiheadAttention(
        4, 2, add_bias_kv=True, add_zero_attn=True, dtype=np.float64, generator=rng
    )
    x = rng.standard_normal((3, 2, 4))
    g = rng.standard_normal((3, 2, 4))
    padding = np.array([[False, False, True], [False, False, False]])

    class SelfAttention(snn.Module):
        def __init__(self):
            super().__init__()
            self.attn = s

        def forward(self, x):
            return self.attn(x, x, x, key_padding_mask=padding, need_weights=False)[0]

        def backward(self, g, *, input_grad=True):
            return sum(self.attn.backward((g, None)))

    check_module_finite_differences(SelfAttention(), x, g)


def test_multihead_attention_dropout_backprops_through_the_same_mask():
    rng = np.random.default_rng(0)
    s = snn.MultiheadAttention(4, 2, dropout=0.3, dtype=np.float64, generator=rng)
    x = rng.standard_normal((3, 1, 4))
    g = rng.standard_normal((3, 1, 4))

    def run(a):
        s.generator = np.random.default_rng(11)
        return s(a, x, x, need_weights=False)[0]

    out = run(x)
    analytic = s.backward((g, None))[0]
    numeric = numerical_gradient(lambda a: np.sum(g * run(a)), x)
    assert_matches_finite_differences(analytic, numeric, np.sum(g * out))


@pytest.mark.parametrize(
    "build, call, error, match",
    [
        (lambda: snn.MultiheadAttention(5, 2), None, ValueError, "embed_dim must be divisible"),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x, x, x, attn_mask=np.zeros((2, 2))),
            ValueError,
            r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\)",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x, x, x, key_padding_mask=np.zeros((3, 2), bool)),
            ValueError,
            r"key_padding_mask must have shape \(2, 3\)",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x, x, x, is_causal=True),
            RuntimeError,
            "Need attn_mask if specifying the is_causal hint",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x.astype(np.float64), x, x),
            TypeError,
            "expected query of dtype float32",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x[..., :3], x, x),
            ValueError,
            "query must have 4 features",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x, x, x, attn_mask=np.zeros((3, 3), np.int64)),
            TypeError,
            "attn_mask must be bool or floating point, got int64",
        ),
        (
            lambda: snn.MultiheadAttention(4, 2),
            lambda m, x: m(x, x, x, key_padding_mask=np.zeros((2, 3), np.int64)),
            TypeError,
            "key_padding_mask must be bool or floating point, got int64",
        ),
    ],
)
def test_multihead_attention_refuses_bad_input_in_words(build, call, error, match):
    with pytest.raises(error, match=match):
        m = build()
        call(m, np.zeros((3, 2, 4), np.float32))


# --- TransformerEncoderLayer


@DTYPES
@FEWER
@given(
    norm_first=st.booleans(),
    activation=st.sampled_from(["relu", "gelu", "GELU module"]),
    batch_first=st.booleans(),
    bias=st.booleans(),
    masks=st.sampled_from(["none", "causal", "padding"]),
    seed=st.integers(0, 2**16),
)
def test_transformer_encoder_layer_matches_torch(
    dtype, norm_first, activation, batch_first, bias, masks, seed
):
    rng = np.random.default_rng(seed)
    opts = dict(norm_first=norm_first, batch_first=batch_first, bias=bias, dropout=0.0)
    s_act = snn.GELU() if activation == "GELU module" else activation
    t_act = torch.nn.GELU() if activation == "GELU module" else activation
    s = snn.TransformerEncoderLayer(8, 2, 16, activation=s_act, **opts, dtype=dtype, generator=rng)
    t = torch.nn.TransformerEncoderLayer(
        8, 2, 16, activation=t_act, **opts, dtype=TORCH_DTYPE[np.dtype(dtype)]
    )
    copy_weights(s, t)
    x = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8)).astype(dtype)
    kw = {}
    if masks == "causal":
        kw = dict(src_mask=np.triu(np.ones((5, 5), bool), 1), is_causal=True)
    elif masks == "padding":
        padding = np.zeros((3, 5), bool)
        padding[1, 3:] = True
        kw = dict(src_key_padding_mask=padding)
    (xt,) = tensors(x)
    out_s = s(x, **kw)
    out_t = t(
        xt, **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    )
    assert_close(out_s, out_t, dtype)
    g = rng.standard_normal(out_s.shape).astype(dtype)
    out_t.backward(torch.from_numpy(g))
    assert_close(s.backward(g), xt.grad, dtype)
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].grad, p.grad, dtype, err_msg=name)
    assert list(s.state_dict()) == list(t.state_dict()) and repr(s) == repr(t)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer_backward_matches_finite_differences(norm_first):
    rng = np.random.default_rng(0)
    s = snn.TransformerEncoderLayer(
        4,
        2,
        6,
        dropout=0.0,
        activation="gelu",
        norm_first=norm_first,
        dtype=np.float64,
        generator=rng,
    )
    check_module_finite_differences(
        s, rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    )


def test_transformer_encoder_layer_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="activation should be relu/gelu, not 'tanh'"):
        snn.TransformerEncoderLayer(4, 2, activation="tanh")


# --- a small transformer trained identically in both twins


class TinyTransformer(snn.Module):
    """Embedding + a causal pre-norm GELU encoder layer + a Linear head: next-token logits."""

    def __init__(self, vocab, d, dtype):
        super().__init__()
        rng = np.random.default_rng(0)
        self.embed = snn.Embedding(vocab, d, dtype=dtype, generator=rng)
        self.block = snn.TransformerEncoderLayer(
            d,
            2,
            2 * d,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
            dtype=dtype,
            generator=rng,
        )
        self.head = snn.Linear(d, vocab, dtype=dtype, generator=rng)

    def forward(self, ids):
        T = ids.shape[1]
        mask = np.triu(np.ones((T, T), bool), 1)
        return self.head(self.block(self.embed(ids), src_mask=mask, is_causal=True))

    def backward(self, g, *, input_grad=True):
        self.embed.backward(self.block.backward(self.head.backward(g)))


class TorchTinyTransformer(torch.nn.Module):
    def __init__(self, vocab, d, dtype):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d, dtype=dtype)
        self.block = torch.nn.TransformerEncoderLayer(
            d,
            2,
            2 * d,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
            dtype=dtype,
        )
        self.head = torch.nn.Linear(d, vocab, dtype=dtype)

    def forward(self, ids):
        T = ids.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        return self.head(self.block(self.embed(ids), src_mask=mask, is_causal=True))


def test_a_small_transformer_trains_identically_for_120_steps_with_adamw():
    vocab, d = 7, 8
    s = TinyTransformer(vocab, d, np.float64)
    t = copy_weights(s, TorchTinyTransformer(vocab, d, torch.float64))
    s_opt = scratch.optim.AdamW(s.parameters(), lr=0.01)
    t_opt = torch.optim.AdamW(t.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    s_losses, t_losses = [], []
    for _ in range(120):
        ids = rng.integers(0, vocab, (4, 6))
        targets = (ids + 1) % vocab  # learnable: the next id is this one plus one
        s_opt.zero_grad()
        loss_s = snn.CrossEntropyLoss()
        s_losses.append(float(loss_s(s(ids).reshape(-1, vocab), targets.reshape(-1))))
        s.backward(loss_s.backward().reshape(4, 6, vocab))
        s_opt.step()
        t_opt.zero_grad()
        loss_t = TF.cross_entropy(
            t(torch.from_numpy(ids)).reshape(-1, vocab), torch.from_numpy(targets).reshape(-1)
        )
        loss_t.backward()
        t_opt.step()
        t_losses.append(loss_t.item())
    assert_close(np.array(s_losses), np.array(t_losses), np.float64)
    assert s_losses[-1] < 0.2 * s_losses[0]  # it learned the rule
    for name, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[name].data, p, np.float64, err_msg=name)
    assert to_numpy(p).dtype == np.float64


# --- torch's own edge cases, by the names of torch's tests (test/test_nn.py, test_transformers.py)


def _compare_module(s, t, inputs, tinputs, call=None):
    call = call or (lambda m, *a: m(*a))
    out_s, out_t = call(s, *inputs), call(t, *tinputs)
    out_s = out_s[0] if isinstance(out_s, tuple) else out_s
    out_t = out_t[0] if isinstance(out_t, tuple) else out_t
    assert_close(out_s, out_t)


def test_embedding_max_norm_unsorted_repeating_indices():
    """torch's test of that name: max_norm with ids repeated out of order renormalises each row
    once, the same as with sorted ids."""
    ids = np.array([2, 8, 8, 6, 2] * 20)
    s = snn.Embedding(10, 20, max_norm=2.0, dtype=np.float64)
    t = copy_weights(s, torch.nn.Embedding(10, 20, max_norm=2.0, dtype=torch.float64))
    _compare_module(s, t, (ids,), (torch.from_numpy(ids),))
    assert_close(s.weight.data, t.weight)


def test_mha_unbatched_with_a_3d_mask_of_num_heads_rows():
    """Unbatched input takes an attn_mask of (num_heads, L, S), as torch's unbatched tests do."""
    rng = np.random.default_rng(0)
    s = snn.MultiheadAttention(6, 3, dtype=np.float64, generator=rng)
    t = copy_weights(s, torch.nn.MultiheadAttention(6, 3, dtype=torch.float64))
    x, mask = rng.standard_normal((4, 6)), rng.standard_normal((3, 4, 4))
    _compare_module(
        s,
        t,
        (x, x, x, None, True, mask),
        tensors(x, x, x, grad=False) + [None, True, torch.from_numpy(mask)],
    )


def test_sdpa_causal_with_more_keys_than_queries_is_top_left_aligned():
    """torch's is_causal is tril(ones(L, S)): query i sees keys 0..i even when S > L."""
    rng = np.random.default_rng(0)
    q, k, v = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 5, 4)),
        rng.standard_normal((2, 5, 2)),
    )
    out_t = TF.scaled_dot_product_attention(*tensors(q, k, v, grad=False), is_causal=True)
    assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True), out_t)


def test_transformerencoderlayer_src_mask_and_padding_together():
    """A causal src_mask and a key padding mask at once (float masks, as torch's test uses)."""
    rng = np.random.default_rng(0)
    s = snn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, dtype=np.float64, generator=rng)
    t = copy_weights(s, torch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, dtype=torch.float64))
    x = rng.standard_normal((5, 2, 4))
    mask = np.where(np.triu(np.ones((5, 5), bool), 1), -np.inf, 0.0)
    padding = np.zeros((2, 5))
    padding[1, 4] = -np.inf
    _compare_module(
        s,
        t,
        (x, mask, padding),
        tensors(x, grad=False) + [torch.from_numpy(mask), torch.from_numpy(padding)],
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_matches_finite_differences(approximate):
    x = np.random.default_rng(0).standard_normal((3, 4)) * 3
    check_module_finite_differences(snn.GELU(approximate), x, np.ones_like(x))


def test_multihead_attention_key_and_value_gradients_match_finite_differences():
    """Cross-attention: the key's and the value's gradients, each against central differences."""
    rng = np.random.default_rng(1)
    s = snn.MultiheadAttention(4, 2, kdim=3, vdim=5, dtype=np.float64, generator=rng)
    q, k, v = (
        rng.standard_normal((2, 1, 4)),
        rng.standard_normal((3, 1, 3)),
        rng.standard_normal((3, 1, 5)),
    )
    g = rng.standard_normal((2, 1, 4))
    out, _ = s(q, k, v, need_weights=False)
    _, d_k, d_v = s.backward((g, None))
    numeric_k = numerical_gradient(lambda a: np.sum(g * s(q, a, v)[0]), k)
    numeric_v = numerical_gradient(lambda a: np.sum(g * s(q, k, a)[0]), v)
    assert_matches_finite_differences(d_k, numeric_k, np.sum(g * out), err_msg="key")
    assert_matches_finite_differences(d_v, numeric_v, np.sum(g * out), err_msg="value")


def test_an_embedding_given_integer_weights_is_refused_as_torch_refuses_it():
    with pytest.raises(TypeError, match=r"_weight must be floating point, got int64: pass"):
        snn.Embedding(3, 2, _weight=np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(RuntimeError):  # torch: only floating point tensors can require gradients
        torch.nn.Embedding(3, 2, _weight=torch.zeros(3, 2, dtype=torch.int64))
