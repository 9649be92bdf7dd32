"""A refused or repeated call loses nothing (scratch/nn/_atomic.py, README "The contract").

- a forward refused anywhere inside a model leaves what the previous forward saved, the running
  statistics and the dropout generators as they were: the next backward is the previous
  forward's, bit for bit;
- a backward refused for its grad_output, or failing half-way, adds nothing to any .grad and
  leaves the graph for a good backward;
- a second backward without a new forward is refused in torch's words (unless the first kept the
  graph with retain_graph=True, when the gradients add up as torch's do);
- changing an input or an output in place between forward and backward changes no gradient.
"""

import numpy as np
import pytest
import torch

import scratch.models as smodels
import scratch.nn as snn
import torch_impl.models as tmodels
from tests.helpers import assert_close, copy_weights
from tests.test_contract import IDS, MODULES

SECOND_TIME = "Trying to backward through the graph a second time"


def rng(seed=0):
    return np.random.default_rng(seed)


def grads(m):
    return {n: None if p.grad is None else p.grad.copy() for n, p in m.named_parameters()}


def assert_same_grads(a, b):
    assert a.keys() == b.keys()
    for n in a:
        if a[n] is None or b[n] is None:
            assert a[n] is None and b[n] is None, n
        else:
            np.testing.assert_array_equal(a[n], b[n], err_msg=n)


# --- a refused forward


def deep_refusals():
    """(name, build, good input, a call refused deep inside the model, after layers that saved)."""
    x = rng(1).standard_normal((3, 2, 4)).astype(np.float32)

    def bad_mask(m):
        m(x * 2, src_key_padding_mask=np.zeros((5, 5), bool))

    yield (
        "encoder layer, a bad key padding mask",
        lambda: snn.TransformerEncoderLayer(4, 2, 8, dropout=0.2, norm_first=True, generator=rng()),
        x,
        bad_mask,
    )
    seq = rng(2).standard_normal((6, 5)).astype(np.float32)

    def last_layer_refuses(m):
        with refusing(m[3], "in_features", 3):
            m(seq * 3)

    yield (
        "Sequential with batch norm and dropout, the last layer refusing",
        lambda: snn.Sequential(
            snn.Linear(5, 4, generator=rng()),
            snn.BatchNorm1d(4),
            snn.Dropout(0.3, generator=rng(3)),
            snn.Linear(4, 2, generator=rng(4)),
        ),
        seq,
        last_layer_refuses,
    )
    ids = rng(5).integers(0, 11, (2, 6))

    def second_block_refuses(m):
        with refusing(m.blocks[1].norm1, "normalized_shape", (7,)):
            m(ids[:, ::-1].copy())

    yield (
        "GPT with dropout, its second block refusing",
        lambda: smodels.GPT(11, 8, 2, 2, 8, dropout=0.1, generator=rng()),
        ids,
        second_block_refuses,
    )


class refusing:
    """A layer made to refuse any input for the length of a with block (an attribute its check
    reads, changed and put back)."""

    def __init__(self, module, name, value):
        self.module, self.name, self.value = module, name, value

    def __enter__(self):
        self.old = getattr(self.module, self.name)
        setattr(self.module, self.name, self.value)

    def __exit__(self, *exc):
        setattr(self.module, self.name, self.old)


def generator_states(m):
    return [
        mod.generator.bit_generator.state
        for _, mod in m.named_modules()
        if hasattr(mod, "generator")
    ]


CASES = list(deep_refusals())


@pytest.mark.parametrize("name, build, x, refused", CASES, ids=[c[0] for c in CASES])
def test_a_forward_refused_deep_inside_leaves_the_previous_forward_intact(name, build, x, refused):
    m, ref = build(), build()
    out = m(x)
    np.testing.assert_array_equal(out, ref(x))
    buffers = {n: b.copy() for n, b in m.named_buffers()}
    generators = generator_states(m)
    with pytest.raises((ValueError, TypeError)):
        refused(m)
    for n, b in m.named_buffers():
        np.testing.assert_array_equal(b, buffers[n], err_msg=n)
    assert generator_states(m) == generators
    g = rng(9).standard_normal(out.shape).astype(np.float32)
    d, d_ref = m.backward(g), ref.backward(g)
    assert (d is None and d_ref is None) or np.array_equal(d, d_ref)
    assert_same_grads(grads(m), grads(ref))
    np.testing.assert_array_equal(m(x), ref(x))  # and the next forward draws what ref's draws


def test_the_encoder_layers_refused_forward_no_longer_changes_its_gradient():
    """The bug the issue measured (off by 0.4): LayerNorm kept the refused call's input."""
    m = snn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, norm_first=True, generator=rng())
    x = rng(1).standard_normal((3, 2, 4)).astype(np.float32)
    g = rng(2).standard_normal((3, 2, 4)).astype(np.float32)
    m(x)
    expected = m.backward(g, retain_graph=True)
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(x * 5, src_key_padding_mask=np.zeros((5, 5), bool))
    np.testing.assert_array_equal(m.backward(g), expected)


# --- a refused or failing backward


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_a_refused_backward_adds_nothing_and_keeps_the_graph(name, build, shape):
    m = build()
    x = rng(1).standard_normal(shape).astype(np.float32)
    out = m(x)
    g = rng(2).standard_normal(out.shape).astype(np.float32)
    m.backward(g, retain_graph=True)
    before = grads(m)
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        m.backward(np.ones(out.shape + (2,), np.float32))
    assert_same_grads(grads(m), before)
    m.backward(g)  # the graph is still there; the gradients now count twice
    for n, p in m.named_parameters():
        assert_close(p.grad, 2 * before[n], err_msg=n)


class HalfBackward(snn.Module):
    """A user's module whose backward fails after its first layer has added its gradients."""

    def __init__(self):
        super().__init__()
        self.fc = snn.Linear(3, 2, generator=rng())

    def forward(self, x):
        return self.fc(x)

    def backward(self, grad_output, *, input_grad=True):
        self.fc.backward(grad_output)
        raise ArithmeticError("failed after the first layer's gradients")


def test_a_backward_that_fails_half_way_adds_nothing_and_frees_nothing():
    m = HalfBackward()
    x = np.ones((4, 3), np.float32)
    m(x)
    with pytest.raises(ArithmeticError):
        m.backward(np.ones((4, 2), np.float32))
    assert m.fc.weight.grad is None and m.fc.bias.grad is None
    m.fc.backward(np.ones((4, 2), np.float32))  # the layer's graph was not freed
    assert m.fc.weight.grad is not None


# --- one backward per forward, as torch


@pytest.mark.parametrize("name, build, shape", MODULES, ids=IDS)
def test_a_second_backward_is_refused_in_torchs_words(name, build, shape):
    m = build()
    out = m(np.ones(shape, np.float32))
    g = np.ones(out.shape, np.float32)
    m.backward(g)
    before = grads(m)
    with pytest.raises(RuntimeError, match=f"^{name.split()[0]}.backward: {SECOND_TIME}"):
        m.backward(g)
    assert_same_grads(grads(m), before)
    m(np.ones(shape, np.float32))  # a new forward: a new graph
    m.backward(g)


def test_torch_refuses_a_second_backward_in_those_words():
    x = torch.ones(3, requires_grad=True)
    y = torch.sigmoid(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        y.backward()


def test_retain_graph_lets_gradients_add_as_torchs_do():
    """MultiheadAttention's weight gradient doubled silently before; now only when asked, and then
    exactly as torch's does with retain_graph=True."""
    s = snn.MultiheadAttention(4, 2, dtype=np.float64, generator=rng())
    t = copy_weights(s, torch.nn.MultiheadAttention(4, 2, dtype=torch.float64))
    x = rng(1).standard_normal((3, 2, 4))
    g = rng(2).standard_normal((3, 2, 4))
    s(x, x, x, need_weights=False)
    s.backward((g, None), retain_graph=True)
    s.backward((g, None))
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        s.backward((g, None))
    xt = torch.from_numpy(x)
    out = t(xt, xt, xt, need_weights=False)[0]
    out.backward(torch.from_numpy(g), retain_graph=True)
    out.backward(torch.from_numpy(g))
    for (n, p), q in zip(s.named_parameters(), t.parameters()):
        assert_close(p.grad, q.grad, err_msg=n)


def test_a_loss_backward_is_consumed_too():
    crit = snn.MSELoss()
    crit(np.ones(3), np.zeros(3))
    crit.backward()
    with pytest.raises(RuntimeError, match=f"MSELoss.backward: {SECOND_TIME}"):
        crit.backward()


def test_gpt_backward_before_forward_names_the_gpt():
    with pytest.raises(RuntimeError, match="^GPT.backward called before forward"):
        smodels.GPT(5, 4, 1, 1, 4).backward(np.ones((1, 4, 5), np.float32))


# --- inputs and outputs changed in place after forward


def test_ids_zeroed_after_forward_still_get_their_own_gradients():
    """torch raises ("modified by an inplace operation"); scratch saved a copy, so the gradient is
    that of the ids the forward saw, as torch's is when nothing is changed."""
    s = snn.Embedding(6, 3, generator=rng())
    t = copy_weights(s, torch.nn.Embedding(6, 3))
    ids = np.array([[1, 2, 2], [5, 0, 1]])
    g = rng(1).standard_normal((2, 3, 3)).astype(np.float32)
    t(torch.from_numpy(ids)).backward(torch.from_numpy(g))
    s(ids)
    ids[...] = 0
    s.backward(g)
    assert_close(s.weight.grad, t.weight.grad)


@pytest.mark.parametrize(
    "build, torch_build",
    [
        (lambda: snn.Linear(3, 2, generator=rng()), lambda: torch.nn.Linear(3, 2)),
        (snn.Sigmoid, torch.nn.Sigmoid),  # saves its output
        (snn.Tanh, torch.nn.Tanh),
        (lambda: snn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
        (
            lambda: snn.Sequential(snn.Linear(3, 3, generator=rng()), snn.Tanh()),
            lambda: torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()),
        ),
        (lambda: snn.LayerNorm(3), lambda: torch.nn.LayerNorm(3)),
    ],
)
def test_an_input_or_output_changed_in_place_changes_no_gradient(build, torch_build):
    s = build()
    t = copy_weights(s, torch_build())
    x = rng(1).standard_normal((4, 3)).astype(np.float32)
    g = rng(2).standard_normal((4, t(torch.from_numpy(x)).shape[-1])).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    t(xt).backward(torch.from_numpy(g))
    out = s(x)
    x *= 100
    out *= -3
    assert_close(s.backward(g), xt.grad)
    for (n, p), q in zip(s.named_parameters(), t.parameters()):
        assert_close(p.grad, q.grad, err_msg=n)


def test_gpt_twins_still_train_alike_after_the_contract():
    """The contract's machinery changes no number: ten AdamW steps of the float64 GPT twins."""
    s = smodels.GPT(7, 6, 2, 2, 8, dtype=np.float64, generator=rng())
    t = copy_weights(s, tmodels.GPT(7, 6, 2, 2, 8).double())
    import scratch.optim

    s_opt = scratch.optim.AdamW(s.parameters(), lr=0.01)
    t_opt = torch.optim.AdamW(t.parameters(), lr=0.01)
    for k in range(10):
        ids = rng(k).integers(0, 7, (3, 6))
        y = rng(k + 50).integers(0, 7, (3, 6))
        crit = snn.CrossEntropyLoss()
        s_opt.zero_grad()
        loss = crit(s(ids).reshape(-1, 7), y.reshape(-1))
        s.backward(crit.backward().reshape(3, 6, 7))
        s_opt.step()
        t_opt.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(
            t(torch.from_numpy(ids)).reshape(-1, 7), torch.from_numpy(y).reshape(-1)
        )
        t_loss.backward()
        t_opt.step()
        assert_close(loss, t_loss)


def test_attentions_inputs_changed_in_place_change_no_gradient():
    """MultiheadAttention saves its inputs inside a NamedTuple: they are copied too."""
    s = snn.MultiheadAttention(4, 2, dtype=np.float64, generator=rng())
    t = copy_weights(s, torch.nn.MultiheadAttention(4, 2, dtype=torch.float64))
    x = rng(1).standard_normal((3, 2, 4))
    g = rng(2).standard_normal((3, 2, 4))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    t(xt, xt, xt, need_weights=False)[0].backward(torch.from_numpy(g))
    s(x, x, x, need_weights=False)
    x[...] = 0
    assert_close(sum(s.backward((g, None))), xt.grad)
    for (n, p), q in zip(s.named_parameters(), t.parameters()):
        assert_close(p.grad, q.grad, err_msg=n)
