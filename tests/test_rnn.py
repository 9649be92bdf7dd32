"""RNN, LSTM, GRU and their cells against torch: outputs, final states and every gradient (input,
h0, c0, each parameter) over drawn lengths, batches and every option in combination; finite
differences through time; gradients through h_n alone and through the output alone; dropout;
a sequence classifier trained identically; bad input that changes nothing."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.nn as snn
from scratch.gradcheck import numerical_gradient
from tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    assert_matches_finite_differences,
    copy_weights,
    train_twins,
)
from tests.strategies import DTYPES, rnn_case, rnn_shapes, values_within

# torch says oneDNN has no LSTM with projections and falls back to its own: true, and not this
# test's business
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


values = values_within(1.5)


def rnn_twins(name, input_size, hidden, options, dtype, seed=0):
    """Twins with random, distinct values in every parameter (never zeros: a wrong bias must show;
    see numpy-ml issue 42, whose test copied one bias into both and initialised it to zero)."""
    s = getattr(snn, name)(
        input_size, hidden, **options, dtype=dtype, generator=np.random.default_rng(seed)
    )
    return s, copy_weights(
        s,
        getattr(torch.nn, name)(input_size, hidden, **options, dtype=TORCH_DTYPE[np.dtype(dtype)]),
    )


def run_both(s, t, x, hx, grads, dtype, scale=1.0):
    """Forward and backward in both twins; outputs, states and every gradient compared."""
    lstm = isinstance(s, snn.LSTM)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    hxt = None
    if hx is not None:
        hxt = (
            tuple(torch.from_numpy(a.copy()).requires_grad_(True) for a in hx)
            if lstm
            else torch.from_numpy(hx.copy()).requires_grad_(True)
        )
    out, state = s(x, hx)
    out_t, state_t = t(xt, hxt)
    states, states_t = (state, state_t) if lstm else ((state,), (state_t,))
    assert_close(out, out_t, dtype, scale=scale, err_msg="output")
    for a, b in zip(states, states_t):
        assert_close(a, b, dtype, scale=scale, err_msg="final state")
    g_out, g_states = grads
    pairs = [(out_t, g_out)] + [(b, g) for b, g in zip(states_t, g_states)]
    tensors = [(b, torch.from_numpy(g)) for b, g in pairs if g is not None]
    torch.autograd.backward([b for b, _ in tensors], [g for _, g in tensors])
    d_input, d_hx = s.backward((g_out, tuple(g_states) if lstm else g_states[0]))
    assert_close(d_input, xt.grad, dtype, scale=scale, err_msg="input gradient")
    if hx is None:
        assert d_hx is None
    else:
        for a, b in zip(d_hx if lstm else (d_hx,), hxt if lstm else (hxt,)):
            assert_close(
                a,
                b.grad if b.grad is not None else torch.zeros_like(b),
                dtype,
                scale=scale,
                err_msg="hx gradient",
            )
    t_params = dict(t.named_parameters())
    for n, p in s.named_parameters():
        assert_close(p.grad, t_params[n].grad, dtype, scale=scale, err_msg=n)


# float32, with its reason: a gradient through time is a sum over L steps of products through up to
# L Jacobians; the twins round each step differently, and the differences add up along the sequence
# and the layers: atol scaled by the number of steps times layers (at most 8 here).
def float32_scale(dtype, length, options):
    return float(length * options["num_layers"]) if dtype == np.float32 else 1.0


@DTYPES
@given(case=rnn_case(), data=st.data())
def test_recurrent_layers_match_torch_for_every_option(dtype, case, data):
    name, input_size, hidden, options, length, batch, with_hx = case
    s, t = rnn_twins(name, input_size, hidden, options, dtype)
    x_shape, h_shape, c_shape = rnn_shapes(name, input_size, hidden, options, length, batch)
    x = data.draw(hnp.arrays(dtype, x_shape, elements=values(dtype)), label="x")
    hx = None
    if with_hx:
        h0 = data.draw(hnp.arrays(dtype, h_shape, elements=values(dtype)), label="h0")
        hx = (
            (h0, data.draw(hnp.arrays(dtype, c_shape, elements=values(dtype)), label="c0"))
            if name == "LSTM"
            else h0
        )
    out, state = s(x, hx)
    states = state if name == "LSTM" else (state,)
    # gradients through the output alone, through the final states alone, or both
    through = data.draw(st.sampled_from(["output", "states", "both"]), label="gradient through")
    g_out = (
        None
        if through == "states"
        else data.draw(hnp.arrays(dtype, out.shape, elements=values(dtype)), label="g_out")
    )
    g_states = [
        None
        if through == "output"
        else data.draw(hnp.arrays(dtype, a.shape, elements=values(dtype)))
        for a in states
    ]
    s.zero_grad()
    run_both(s, t, x, hx, (g_out, g_states), dtype, float32_scale(dtype, length, options))


@DTYPES
@given(
    data=st.data(),
    name=st.sampled_from(["RNNCell", "LSTMCell", "GRUCell"]),
    bias=st.booleans(),
    batch=st.sampled_from([None, 1, 3]),
    with_hx=st.booleans(),
    relu=st.booleans(),
)
def test_cells_match_torch(dtype, data, name, bias, batch, with_hx, relu):
    kw = dict(
        bias=bias, **({"nonlinearity": "relu" if relu else "tanh"} if name == "RNNCell" else {})
    )
    s = getattr(snn, name)(3, 4, **kw, dtype=dtype, generator=np.random.default_rng(0))
    t = copy_weights(s, getattr(torch.nn, name)(3, 4, **kw, dtype=TORCH_DTYPE[np.dtype(dtype)]))
    lead = () if batch is None else (batch,)
    x = data.draw(hnp.arrays(dtype, lead + (3,), elements=values(dtype)))
    states = [
        data.draw(hnp.arrays(dtype, lead + (4,), elements=values(dtype)))
        for _ in range(2 if name == "LSTMCell" else 1)
    ]
    hx = (tuple(states) if name == "LSTMCell" else states[0]) if with_hx else None
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    hxt = [torch.from_numpy(a.copy()).requires_grad_(True) for a in states]
    out = s(x, hx)
    out_t = t(xt, (tuple(hxt) if name == "LSTMCell" else hxt[0]) if with_hx else None)
    outs, outs_t = (out, out_t) if name == "LSTMCell" else ((out,), (out_t,))
    grads = [data.draw(hnp.arrays(dtype, a.shape, elements=values(dtype))) for a in outs]
    for a, b in zip(outs, outs_t):
        assert_close(a, b, dtype)
    torch.autograd.backward(list(outs_t), [torch.from_numpy(g) for g in grads])
    d_input, d_hx = s.backward(tuple(grads) if name == "LSTMCell" else grads[0])
    assert_close(d_input, xt.grad, dtype)
    if with_hx:
        for a, b in zip(d_hx if name == "LSTMCell" else (d_hx,), hxt):
            assert_close(a, b.grad, dtype)
    else:
        assert d_hx is None
    for n, p in t.named_parameters():
        assert_close(dict(s.named_parameters())[n].grad, p.grad, dtype, err_msg=n)


@given(case=rnn_case(), data=st.data())
# each example runs ~100 forwards per gradient
@settings(max_examples=max(10, settings.default.max_examples // 2))
def test_backprop_through_time_matches_finite_differences(case, data):
    name, input_size, hidden, options, length, batch, with_hx = case
    # relu's kink: a difference across it measures neither side
    options = {**options, "nonlinearity": "tanh"} if name == "RNN" else options
    s = getattr(snn, name)(
        input_size, hidden, **options, dtype=np.float64, generator=np.random.default_rng(2)
    )
    x_shape, h_shape, c_shape = rnn_shapes(name, input_size, hidden, options, length, batch)
    x = data.draw(hnp.arrays(np.float64, x_shape, elements=values(np.float64)))
    h0 = data.draw(hnp.arrays(np.float64, h_shape, elements=values(np.float64)))
    c0 = data.draw(hnp.arrays(np.float64, c_shape, elements=values(np.float64)))
    out, state = s(x, (h0, c0) if name == "LSTM" else h0)
    states = state if name == "LSTM" else (state,)
    g_out = data.draw(hnp.arrays(np.float64, out.shape, elements=values(np.float64)))
    g_states = [
        data.draw(hnp.arrays(np.float64, a.shape, elements=values(np.float64))) for a in states
    ]

    def loss(x, h0, c0):
        out, state = s(x, (h0, c0) if name == "LSTM" else h0)
        return np.sum(g_out * out) + sum(
            np.sum(g * a) for g, a in zip(g_states, state if name == "LSTM" else (state,))
        )

    s.zero_grad()
    s(x, (h0, c0) if name == "LSTM" else h0)
    d_x, d_hx = s.backward((g_out, tuple(g_states) if name == "LSTM" else g_states[0]))
    f = loss(x, h0, c0)
    assert_matches_finite_differences(
        d_x, numerical_gradient(lambda v: loss(v, h0, c0), x), f, "input"
    )
    d_h0 = d_hx[0] if name == "LSTM" else d_hx
    assert_matches_finite_differences(
        d_h0, numerical_gradient(lambda v: loss(x, v, c0), h0), f, "h0"
    )
    if name == "LSTM":
        assert_matches_finite_differences(
            d_hx[1], numerical_gradient(lambda v: loss(x, h0, v), c0), f, "c0"
        )
    for n, p in s.named_parameters():

        def loss_of_param(v, p=p):
            saved = p.data.copy()
            p.data[...] = v
            try:
                return loss(x, h0, c0)
            finally:
                p.data[...] = saved

        assert_matches_finite_differences(p.grad, numerical_gradient(loss_of_param, p.data), f, n)


def test_a_one_step_rnn_is_its_closed_form():
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) for one step, written out."""
    s = snn.RNN(2, 3, dtype=np.float64, generator=np.random.default_rng(0))
    x, h = np.array([[[0.5, -1.0]]]), np.array([[[0.1, 0.2, -0.3]]])
    out, h_n = s(x, h)
    expected = np.tanh(
        x[0, 0] @ s.weight_ih_l0.data.T
        + s.bias_ih_l0.data
        + h[0, 0] @ s.weight_hh_l0.data.T
        + s.bias_hh_l0.data
    )
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-14)
    np.testing.assert_array_equal(h_n[0], out[-1])


def test_parameter_names_shapes_and_order_are_torchs():
    kw = dict(num_layers=2, bidirectional=True, proj_size=2)
    s, t = snn.LSTM(3, 5, **kw), torch.nn.LSTM(3, 5, **kw)
    assert [(k, v.shape) for k, v in s.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    assert "weight_hr_l1_reverse" in s.state_dict()


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_init_is_torchs_uniform_over_one_over_sqrt_hidden(name):
    kw = dict(num_layers=2) if "Cell" not in name else {}
    s = getattr(snn, name)(7, 16, **kw, dtype=np.float64, generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.data.ravel() for p in s.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    # centred: the mean of n draws from U(-b, b) has standard deviation b / sqrt(3 n); 4 of them, a
    # false alarm once in 16,000 (and, with the generator fixed, the same outcome every run)
    assert abs(values.mean()) < 4 * bound / math.sqrt(3 * values.size)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_a_fixed_generator_gives_the_same_weights(name):
    a, b = (getattr(snn, name)(3, 4, generator=np.random.default_rng(5)) for _ in range(2))
    c = getattr(snn, name)(3, 4, generator=np.random.default_rng(6))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert any(not np.array_equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("argument", ["input_size", "hidden_size"])
def test_sizes_must_be_positive_integers_and_the_error_names_them(name, argument):
    kw = {**dict(input_size=3, hidden_size=4), argument: 0}
    with pytest.raises(ValueError, match=f"{argument} must be >= 1, got 0"):
        getattr(snn, name)(**kw)


# --- dropout between layers


def test_dropout_zero_and_eval_mode_are_exact():
    s, t = rnn_twins("GRU", 3, 4, dict(num_layers=3, dropout=0.5), np.float64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    s.eval(), t.eval()
    assert_close(s(x)[0], t(torch.from_numpy(x))[0])


def test_dropout_in_training_keeps_the_rate_and_scales_the_kept():
    """The masks scratch draws (torch's generator cannot be matched): zeros at the rate p, the rest
    1 / (1 - p)."""
    s = snn.LSTM(
        4, 50, num_layers=2, dropout=0.3, dtype=np.float64, generator=np.random.default_rng(0)
    )
    s(np.random.default_rng(1).standard_normal((20, 30, 4)))
    mask = s.saved_tensors[1][1]  # the mask on the second layer's input
    assert set(np.unique(mask).round(12)) == {0.0, round(1 / 0.7, 12)}
    # 30,000 draws: the rate within 4 standard deviations
    assert abs((mask == 0).mean() - 0.3) < 0.01


def test_dropout_keeps_a_float32_layers_gradients_float32():
    s = snn.GRU(3, 4, num_layers=2, dropout=0.5, generator=np.random.default_rng(0))
    out, _ = s(np.ones((5, 2, 3), np.float32))
    d_input, _ = s.backward((np.ones(out.shape, np.float32), None))
    assert d_input.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in s.parameters())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_backprop_through_dropout_matches_finite_differences_with_the_same_masks(name):
    """The backward goes through the masks the forward drew: with the generator reset before every
    forward, each one draws the same masks, and central differences see the same function."""
    s = getattr(snn, name)(
        3, 4, num_layers=3, dropout=0.4, dtype=np.float64, generator=np.random.default_rng(0)
    )
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    g = np.random.default_rng(2).standard_normal((5, 2, 4))

    def loss(v):
        s.generator = np.random.default_rng(7)  # the same masks every time
        return np.sum(g * s(v)[0])

    f = loss(x)
    d_x, _ = s.backward((g, None), retain_graph=True)  # retained: the masks are read below
    assert np.any(s.saved_tensors[1][1] == 0)  # some inputs of the second layer were dropped
    assert_matches_finite_differences(d_x, numerical_gradient(loss, x), f, "input")


def test_dropout_with_one_layer_warns_as_torch_does():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        torch.nn.GRU(2, 3, dropout=0.5)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        snn.GRU(2, 3, dropout=0.5)


# --- a sequence classifier, trained in both twins


class Classifier(snn.Module):
    """An LSTM or GRU, then a Linear on its last state (scratch); the torch twin below mirrors
    it."""

    def __init__(self, cell, dtype):
        super().__init__()
        self.rnn = getattr(snn, cell)(
            3, 6, batch_first=True, dtype=dtype, generator=np.random.default_rng(0)
        )
        self.fc = snn.Linear(6, 2, dtype=dtype, generator=np.random.default_rng(1))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])

    def backward(self, grad_output, *, input_grad=True):
        out_shape = self.rnn.saved_tensors[4]  # (L, N, in): the layer's input, internally
        g_last = self.fc.backward(grad_output)
        g_out = np.zeros((out_shape[1], out_shape[0], 6), dtype=g_last.dtype)
        g_out[:, -1] = g_last  # only the last step's output reached the loss
        return self.rnn.backward((g_out, None), input_grad=input_grad)[0]


class TorchClassifier(torch.nn.Module):
    def __init__(self, cell, dtype):
        super().__init__()
        self.rnn = getattr(torch.nn, cell)(3, 6, batch_first=True, dtype=dtype)
        self.fc = torch.nn.Linear(6, 2, dtype=dtype)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_a_sequence_classifier_trains_identically_for_120_steps(cell, optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 5, 3))
    Y = (X[:, :, 0].sum(axis=1) > X[:, -1, 1]).astype(np.int64)  # depends on the whole sequence
    s = Classifier(cell, np.float64)
    t = copy_weights(s, TorchClassifier(cell, torch.float64))
    s_losses, t_losses = train_twins(s, t, X, Y, optimizer)
    assert len(s_losses) == 120
    assert_close(s_losses, t_losses)
    assert np.mean(s_losses[-12:]) < np.mean(s_losses[:12])


# --- bad input


@pytest.mark.parametrize(
    "build, call, error, match",
    [
        (
            lambda: snn.GRU(3, 4),
            lambda m: m(np.ones((5, 2, 2), np.float32)),
            ValueError,
            r"input.size\(-1\) must be equal to input_size. Expected 3, got 2",
        ),
        (
            lambda: snn.GRU(3, 4),
            lambda m: m(np.ones((5, 2, 3), np.float32), np.zeros((1, 3, 4), np.float32)),
            ValueError,
            r"Expected hidden size \(1, 2, 4\) for hx, got \(1, 3, 4\)",
        ),
        (
            lambda: snn.LSTM(3, 4, num_layers=2),
            lambda m: m(
                np.ones((5, 2, 3), np.float32),
                (np.zeros((2, 2, 4), np.float32), np.zeros((1, 2, 4), np.float32)),
            ),
            ValueError,
            r"Expected hidden size \(2, 2, 4\) for c0, got \(1, 2, 4\)",
        ),
        (
            lambda: snn.LSTM(3, 4),
            lambda m: m(np.ones((5, 2, 3), np.float32), np.zeros((1, 2, 4), np.float32)),
            TypeError,
            r"LSTM expects hx as a tuple \(h0, c0\)",
        ),
        (
            lambda: snn.RNN(3, 4),
            lambda m: m(np.ones((2, 5, 2, 3), np.float32)),
            ValueError,
            "Expected input to be 2D",
        ),
        (
            lambda: snn.RNN(3, 4),
            lambda m: m(np.ones((5, 3))),
            TypeError,
            r"pass input\.astype\(np\.float32\)",
        ),
        (
            lambda: snn.RNN(3, 4),
            lambda m: m(torch.ones(5, 3)),
            TypeError,
            r"got a torch\.Tensor for input",
        ),
        (
            lambda: snn.GRUCell(3, 4),
            lambda m: m(np.ones((2, 3), np.float32), np.zeros((3, 4), np.float32)),
            ValueError,
            r"Expected hidden size \(2, 4\) for hx, got \(3, 4\)",
        ),
        # the cells share the layers' state checker: a float64 state into a float32 cell is refused
        (
            lambda: snn.GRUCell(3, 4),
            lambda m: m(np.ones((2, 3), np.float32), np.zeros((2, 4))),
            TypeError,
            r"GRUCell expected hx of dtype float32 \(its weights'\), got float64",
        ),
        (
            lambda: snn.LSTMCell(3, 4),
            lambda m: m(np.ones(3, np.float32), (np.zeros(4, np.float32), np.zeros(4))),
            TypeError,
            r"LSTMCell expected cx of dtype float32",
        ),
    ],
)
def test_bad_input_is_refused_in_words_and_changes_nothing(build, call, error, match):
    m = build()
    before = m.state_dict()
    with pytest.raises(error, match=match):
        call(m)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda nn: nn.RNN(3, 4, nonlinearity="sigmoid"), "Unknown nonlinearity"),
        (lambda nn: nn.LSTM(3, 4, proj_size=4), "proj_size has to be smaller than hidden_size"),
        (lambda nn: nn.GRU(3, 4, dropout=1.5), "dropout should be a number in range"),
    ],
)
def test_bad_arguments_are_refused_as_torch_refuses_them(call, match):
    for nn in (torch.nn, snn):
        with pytest.raises(ValueError, match=match):
            call(nn)


def test_cell_gradients_keep_the_cells_dtype_and_an_lstm_cell_wants_both_gradients():
    cell = snn.LSTMCell(3, 4)
    cell(np.ones((2, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"LSTMCell.backward takes \(grad_h, grad_c\), either None"
    ):
        cell.backward(np.ones((2, 4), np.float32))
    d_input, _ = cell.backward((np.ones((2, 4), np.float32), None))
    assert d_input.dtype == np.float32
    gru = snn.GRUCell(3, 4)
    gru(np.ones(3, np.float32))
    assert gru.backward(np.ones(4, np.float32))[0].dtype == np.float32


def test_a_packed_sequence_says_what_to_do_instead():
    packed = torch.nn.utils.rnn.pack_sequence([torch.ones(3, 2), torch.ones(2, 2)])
    with pytest.raises(
        NotImplementedError, match="pad the sequences to one length and mask the loss"
    ):
        snn.GRU(2, 3)(packed)
