"""torch's dtype rules, torch's zero-size results, and no NaN passed off as a token.

Each case is run through torch first: where torch refuses, scratch must refuse too, in words; where
torch gives a result (an empty batch, zero keys, a broadcast batch), scratch must give the same
result and the same gradients. Then the tests that a sampled mutation run showed missing: each
fails on the mutant named in its docstring.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.models as smodels
import scratch.nn as snn
import scratch.nn.functional as SF
import torch_impl.models as tmodels
from scratch._twins import sample_next
from tests.helpers import assert_close, copy_weights

F = torch.nn.functional
T = torch.from_numpy


def rng(seed=0):
    return np.random.default_rng(seed)


# --- refused as torch refuses

INT = np.arange(6).reshape(2, 3)
COMPLEX = np.ones((2, 3), np.complex64)
BOOL = INT > 2
Q = np.ones((2, 3, 4), np.float32)

REFUSED = [
    # (what, scratch's call, torch's call, scratch's words)
    (
        "dropout on integers",
        lambda: SF.dropout(INT, 0.5),
        lambda: F.dropout(T(INT), 0.5),
        "floating-point input, got int64",
    ),
    (
        "Dropout on integers",
        lambda: snn.Dropout(0.5)(INT),
        lambda: torch.nn.Dropout(0.5)(T(INT)),
        "floating-point input",
    ),
    (
        "gelu on integers",
        lambda: SF.gelu(INT),
        lambda: F.gelu(T(INT)),
        "floating-point input, got int64",
    ),
    (
        "tanh GELU on complex",
        lambda: SF.gelu(COMPLEX, approximate="tanh"),
        lambda: F.gelu(T(COMPLEX), approximate="tanh"),
        "got complex",
    ),
    (
        "softmax on integers",
        lambda: SF.softmax(INT, dim=1),
        lambda: F.softmax(T(INT), dim=1),
        "floating-point",
    ),
    (
        "relu on bools",
        lambda: SF.relu(BOOL),
        lambda: F.relu(T(BOOL)),
        "Boolean inputs not supported for relu",
    ),
    (
        "attention on int64 q, k, v",
        lambda: SF.scaled_dot_product_attention(*(Q.astype(np.int64),) * 3),
        lambda: F.scaled_dot_product_attention(*(T(Q.astype(np.int64)),) * 3),
        "floating-point query",
    ),
    (
        "a float64 mask on float32 scores",
        lambda: SF.scaled_dot_product_attention(Q, Q, Q, attn_mask=np.zeros((3, 3))),
        lambda: F.scaled_dot_product_attention(
            T(Q), T(Q), T(Q), attn_mask=torch.zeros(3, 3, dtype=torch.float64)
        ),
        "Expected attn_mask dtype to be bool or float or to match query dtype",
    ),
    (
        'is_causal="yes"',
        lambda: SF.scaled_dot_product_attention(Q, Q, Q, is_causal="yes"),
        lambda: F.scaled_dot_product_attention(T(Q), T(Q), T(Q), is_causal="yes"),
        "is_causal must be True or False",
    ),
    (
        'scale="2"',
        lambda: SF.scaled_dot_product_attention(Q, Q, Q, scale="2"),
        lambda: F.scaled_dot_product_attention(T(Q), T(Q), T(Q), scale="2"),
        "scale must be a real number",
    ),
    (
        "a string max_norm",
        lambda: snn.Embedding(5, 3, max_norm="1")(np.array([1])),
        lambda: torch.nn.Embedding(5, 3, max_norm="1")(torch.tensor([1])),
        "max_norm must be a real number",
    ),
    (
        "F.linear's integer input and float weight",
        lambda: SF.linear(INT, np.ones((2, 3))),
        lambda: F.linear(T(INT), torch.ones(2, 3, dtype=torch.float64)),
        "expected m1 and m2 to have the same dtype",
    ),
]


@pytest.mark.parametrize(
    "what, scratch_call, torch_call, words", REFUSED, ids=[r[0] for r in REFUSED]
)
def test_what_torch_refuses_scratch_refuses_in_words(what, scratch_call, torch_call, words):
    with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
        torch_call()
    with pytest.raises((TypeError, ValueError), match=words):
        scratch_call()


@pytest.mark.parametrize(
    "grad",
    [np.ones((2, 2), np.complex64), np.ones((2, 2), bool), np.array([["a", "b"], ["c", "d"]])],
    ids=["complex", "bool", "str"],
)
def test_a_grad_output_that_is_not_real_numbers_is_refused(grad):
    """A complex grad_output lost its imaginary part with a NumPy warning."""
    m = snn.Linear(3, 2)
    m(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="grad_output must be real numbers"):
        m.backward(grad)
    m.backward(np.ones((2, 2), np.float32))  # refused, so the graph is still there


@pytest.mark.parametrize(
    "bad, words",
    [
        (torch.Generator(), r"got torch\._C\.Generator"),
        (3, r"np\.random\.default_rng\(3\)"),
        (np.random.RandomState(0), "RandomState"),
    ],
    ids=["torch.Generator", "int", "RandomState"],
)
@pytest.mark.parametrize(
    "build",
    [
        lambda g: snn.Dropout(0.5, generator=g),
        lambda g: snn.Linear(2, 3, generator=g),
        lambda g: snn.MultiheadAttention(4, 2, generator=g),
        lambda g: smodels.generate(
            smodels.GPT(5, 4, 1, 1, 4), np.zeros((1, 1), np.int64), 1, generator=g
        ),
    ],
    ids=["Dropout", "Linear", "MultiheadAttention", "generate"],
)
def test_a_generator_that_is_not_numpys_is_refused_with_the_fix(build, bad, words):
    with pytest.raises(TypeError, match=words):
        build(bad)


# --- torch's results on zero-size input


def both_sdpa(q, k, v, **kw):
    """Forward and backward of attention in both twins; returns (scratch, torch) lists of arrays."""
    out, saved = snn.attention.sdpa_forward(q, k, v)
    g = rng(9).standard_normal(out.shape)
    s = [out, *snn.attention.sdpa_backward(g, saved)]
    qt, kt, vt = (T(a).requires_grad_(True) for a in (q, k, v))
    ot = F.scaled_dot_product_attention(qt, kt, vt, **kw)
    ot.backward(T(g))
    return s, [ot, qt.grad, kt.grad, vt.grad]


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 3, 4), (2, 0, 4), (2, 0, 4)),  # zero keys: the output is 0
        ((2, 3, 0), (2, 3, 0), (2, 3, 5)),  # a zero head size
        ((4, 3, 8), (4, 4, 6, 8), (4, 4, 6, 8)),  # torch's own sample: the batch dims broadcast
        ((4, 3, 8), (4, 6, 8), (1, 6, 8)),
        ((2, 1, 3, 4), (1, 5, 6, 4), (2, 5, 6, 4)),
    ],
    ids=[
        "zero keys",
        "zero head size",
        "broadcast (torch's sample)",
        "broadcast value",
        "broadcast both",
    ],
)
def test_attention_gives_torchs_result_and_gradients(shapes):
    q, k, v = (rng(i).standard_normal(s) for i, s in enumerate(shapes))
    s, t = both_sdpa(q, k, v)
    for name, a, b in zip(("out", "dq", "dk", "dv"), s, t):
        assert_close(a, b, err_msg=name)


def test_attention_refuses_batch_dims_that_do_not_broadcast():
    """The batch-shape check for 3-d queries (a mutant without it passed every test)."""
    q, k = np.ones((4, 3, 8)), np.ones((5, 6, 8))
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(T(q), T(k), T(k))
    with pytest.raises(ValueError, match="batch dims of query, key and value must broadcast"):
        SF.scaled_dot_product_attention(q, k, k)


def test_gqa_refuses_key_heads_that_do_not_divide_the_query_heads():
    """enable_gqa's head-count check (a mutant without it passed every test)."""
    q, k = np.ones((2, 6, 3, 4)), np.ones((2, 4, 3, 4))
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(T(q), T(k), T(k), enable_gqa=True)
    with pytest.raises(
        ValueError, match=r"key/value heads \(4\) must divide the query heads \(6\)"
    ):
        SF.scaled_dot_product_attention(q, k, k, enable_gqa=True)


@pytest.mark.parametrize(
    "build, torch_build, shape",
    [
        (lambda: snn.Conv2d(1, 2, 3), lambda: torch.nn.Conv2d(1, 2, 3), (0, 1, 5, 5)),
        (lambda: snn.RNN(3, 4), lambda: torch.nn.RNN(3, 4), (2, 0, 3)),
        (
            lambda: snn.LSTM(3, 4, num_layers=2),
            lambda: torch.nn.LSTM(3, 4, num_layers=2),
            (2, 0, 3),
        ),
        (
            lambda: snn.GRU(3, 4, batch_first=True),
            lambda: torch.nn.GRU(3, 4, batch_first=True),
            (0, 2, 3),
        ),
    ],
    ids=["Conv2d", "RNN", "LSTM", "GRU"],
)
def test_an_empty_batch_gives_torchs_empty_results(build, torch_build, shape):
    s = build()
    t = copy_weights(s, torch_build())
    x = np.zeros(shape, np.float32)
    out = s(x)
    xt = T(x).requires_grad_(True)
    out_t = t(xt)
    first, first_t = (out[0], out_t[0]) if isinstance(out, tuple) else (out, out_t)
    assert first.shape == tuple(first_t.shape)
    first_t.sum().backward()
    grad = s.backward(
        (np.ones(first.shape, np.float32), None)
        if isinstance(out, tuple)
        else np.ones(first.shape, np.float32)
    )
    grad = grad[0] if isinstance(grad, tuple) else grad
    assert grad.shape == tuple(xt.grad.shape) == shape
    for (n, p), q in zip(s.named_parameters(), t.parameters()):
        assert_close(p.grad, q.grad, err_msg=n)  # zeros: no sample gave any gradient


def test_gpt_at_length_zero_gives_torchs_empty_logits():
    s = smodels.GPT(5, 4, 1, 1, 4, generator=rng())
    t = copy_weights(s, tmodels.GPT(5, 4, 1, 1, 4))
    ids = np.zeros((2, 0), np.int64)
    assert s(ids).shape == tuple(t(T(ids)).shape) == (2, 0, 5)


@pytest.mark.parametrize("twin, lib", [(smodels, np), (tmodels, torch)], ids=["scratch", "torch"])
def test_generate_refuses_an_empty_context_in_both_twins(twin, lib):
    model = twin.GPT(5, 4, 1, 1, 4)
    ids = np.zeros((1, 0), np.int64) if lib is np else torch.zeros((1, 0), dtype=torch.int64)
    with pytest.raises(ValueError, match="generate needs a context of at least one token"):
        twin.generate(model, ids, 3, generator=rng())


def test_batch_norm_of_an_empty_1d_input_is_torchs_empty_result():
    out = SF.batch_norm(np.zeros(0, np.float32), None, None, training=True)
    assert out.shape == tuple(F.batch_norm(torch.zeros(0), None, None, training=True).shape) == (0,)
    with pytest.raises(ValueError, match=r"shape \(N, C, \*\)"):  # torch: IndexError
        SF.batch_norm(np.zeros(3, np.float32), None, None, training=True)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_of_a_0d_array_is_a_0d_array(approximate):
    """Exact GELU raised AttributeError; the tanh form returned a NumPy scalar."""
    x = np.array(0.7)
    for y in (SF.gelu(x, approximate=approximate), snn.GELU(approximate)(x)):
        assert isinstance(y, np.ndarray) and y.shape == ()
        assert_close(y, F.gelu(T(x), approximate=approximate))


# --- Embedding's max_norm for every norm


@pytest.mark.parametrize("norm_type", [math.inf, -math.inf, 0, 1, 2, 3.5])
def test_embedding_max_norm_renormalises_as_torch_for_every_norm_type(norm_type):
    """norm_type=inf did nothing; 0 raised ZeroDivisionError."""
    s = snn.Embedding(6, 3, max_norm=0.5, norm_type=norm_type, dtype=np.float64, generator=rng())
    t = torch.nn.Embedding(6, 3, max_norm=0.5, norm_type=norm_type, dtype=torch.float64)
    t.weight.data = T(s.weight.data.copy())
    ids = np.array([[0, 1, 2], [2, 5, 0]])
    assert_close(s(ids), t(T(ids)))
    assert_close(s.weight.data, t.weight)


# --- the sampler


def test_nan_logits_are_refused_not_sampled_as_token_0():
    logits = np.array([[0.0, 1.0, 2.0], [np.nan, 1.0, 2.0]])
    with pytest.raises(RuntimeError):  # torch.multinomial refuses them too
        torch.multinomial(torch.softmax(T(logits), -1), 1)
    with pytest.raises(ValueError, match="logits of row 1 contain NaN"):
        sample_next(logits, 1.0, None, rng())


@given(
    logits=hnp.arrays(np.int64, (3, 7), elements=st.integers(-50, 50), unique=True),
    temperature=st.sampled_from([1e-308, 5e-324, 1e-200, 1e-30]),
)
def test_a_tiny_temperature_gives_the_argmax(logits, temperature):
    """logits / 1e-308 was inf - inf = NaN, and token 0. (Logits at least 1 apart: closer ones,
    1e-53 apart at temperature 1e-30, are a fair draw between the two.)"""
    logits = logits.astype(np.float64)
    np.testing.assert_array_equal(sample_next(logits, temperature, None, rng()), logits.argmax(-1))


def test_generates_default_temperature_is_1():
    """A mutant with another default passed every test: each passed a temperature."""
    model = smodels.GPT(7, 4, 1, 1, 8, generator=rng())
    model.tok_emb.weight.data *= 10  # logits far from uniform, so that temperature matters
    ids = np.array([[1, 2]])

    def sample(**kw):
        return smodels.generate(model, ids, 30, generator=rng(3), **kw)

    assert np.array_equal(sample(), sample(temperature=1.0))
    assert not np.array_equal(sample(), sample(temperature=0.5))
    assert not np.array_equal(sample(), sample(temperature=2.0))


# --- dropout's training path, MultiheadAttention in eval and at initialisation


def test_functional_dropout_in_training_multiplies_by_the_generators_mask():
    """F.dropout's own path (mutants that never drop, or divide by the mask, passed): the kept
    values scaled by 1 / (1 - p), the others 0, the mask the one the generator gives."""
    x = rng(1).standard_normal((50, 40))
    y = SF.dropout(x, 0.25, training=True, generator=rng(5))
    keep = rng(5).random(x.shape) >= 0.25
    np.testing.assert_array_equal(y == 0, ~keep)
    assert_close(y, np.where(keep, x / 0.75, 0.0))
    assert 0.2 < 1 - keep.mean() < 0.3


def test_multihead_attention_in_eval_ignores_its_dropout_and_equals_torch():
    """A mutant that left attention dropout on in eval (at p = 1, say) passed every test."""
    s = snn.MultiheadAttention(4, 2, dropout=1.0, dtype=np.float64, generator=rng()).eval()
    t = copy_weights(s, torch.nn.MultiheadAttention(4, 2, dropout=1.0, dtype=torch.float64)).eval()
    x = rng(1).standard_normal((3, 2, 4))
    out, w = s(x, x, x)
    out_t, w_t = t(T(x), T(x), T(x))
    assert_close(out, out_t)
    assert_close(w, w_t)
    assert np.abs(out).sum() > 0


@pytest.mark.parametrize("kdim", [None, 3])
def test_multihead_attention_starts_as_torchs(kdim):
    """The initialisation compared with torch's (a mutant with out_proj's bias at 1 passed): zero
    biases, xavier_uniform_ projections within their bound, out_proj's weight as a Linear's."""
    s = snn.MultiheadAttention(8, 2, kdim=kdim, vdim=kdim, add_bias_kv=True, generator=rng())
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(8, 2, kdim=kdim, vdim=kdim, add_bias_kv=True)
    s_sd, t_sd = s.state_dict(), t.state_dict()
    assert list(s_sd) == list(t_sd)
    for key in ("in_proj_bias", "out_proj.bias"):
        np.testing.assert_array_equal(s_sd[key], t_sd[key].numpy())
        assert not s_sd[key].any()
    for key, value in t_sd.items():
        # xavier_uniform_: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); in_proj_weight's (3E, E)
        # as one matrix, as torch's
        if key.endswith("proj_weight"):
            fan_out, fan_in = value.shape
            bound = math.sqrt(6 / (fan_in + fan_out))
            for w in (s_sd[key], value.numpy()):
                assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound, key
    bound = 1 / math.sqrt(8)  # out_proj: a Linear's kaiming_uniform_(a=sqrt 5) = U(-1/sqrt(in), ..)
    for w in (s_sd["out_proj.weight"], t_sd["out_proj.weight"].numpy()):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
