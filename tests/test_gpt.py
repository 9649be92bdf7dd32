"""The GPT twins: the same steps in float64 and float32, the tied weight's gradient, causality,
the same generated text, learning the manual, bad input, and the text suite end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import scratch.models as sm
import scratch.nn as snn
import scratch.optim
import torch_impl.models as tm
from benchmarks import text
from tests.helpers import assert_close, copy_weights

V, CONFIG = 11, dict(block_size=8, n_layer=2, n_head=2, n_embd=16)


def twins(dtype=np.float64, seed=0):
    s = sm.GPT(V, **CONFIG, dtype=dtype, generator=np.random.default_rng(seed))
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    return s, copy_weights(s, tm.GPT(V, **CONFIG, dtype=torch_dtype))


@pytest.fixture(scope="module")
def data():
    return text.load()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_twins_take_the_same_36_steps(dtype, data):
    """36 AdamW steps on the manual (the suite's model, smaller batches): the same loss at every
    step, the same validation predictions. float32: the twins round differently (their matrix
    products and reductions add in different orders, ~1e-7 relative each), and Adam's division
    by sqrt(v) carries those differences on; 2e-4 relative on a loss of ~4 nats is ~100x the
    single-step rounding and far below any real difference (a wrong gradient moves the loss by
    1e-2 within a few steps)."""
    records = {
        impl: text.train(impl, data, 36, 4, dtype=dtype, eval_every=36)
        for impl in ("scratch-numpy", "torch-cpu")
    }
    s, t = records["scratch-numpy"], records["torch-cpu"]
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=0)
    np.testing.assert_allclose(s["losses"], t["losses"], **tol)
    assert len(s["losses"]) == 36 and s["losses"][-1] < s["losses"][0]
    x, _ = text.batch(data[1], CONFIG["block_size"], 4, np.random.default_rng(9))
    with torch.no_grad():
        predicted_t = t["model"](torch.from_numpy(x)).argmax(-1).numpy()
    np.testing.assert_array_equal(s["model"](x).argmax(-1), predicted_t)


def test_the_tied_weight_gets_the_sum_of_both_uses_gradients():
    s, t = twins()
    idx = np.random.default_rng(1).integers(0, V, (3, 8))
    g = np.random.default_rng(2).standard_normal((3, 8, V))
    s(idx)
    s.backward(g)
    t(torch.from_numpy(idx)).backward(torch.from_numpy(g))
    assert s.head.weight is s.tok_emb.weight and t.head.weight is t.tok_emb.weight
    assert_close(s.tok_emb.weight.grad, t.tok_emb.weight.grad)
    assert len(list(s.parameters())) == len(list(t.parameters()))  # listed once, stepped once
    # untie: the head gets its own copy; the two uses' gradients are then apart, and sum to it
    u, _ = twins()
    u.head.weight = snn.Parameter(u.tok_emb.weight.data.copy())
    u(idx)
    u.backward(g)
    head_use, embedding_use = u.head.weight.grad, u.tok_emb.weight.grad
    assert_close(head_use + embedding_use, s.tok_emb.weight.grad)
    for one_use in (head_use, embedding_use):
        assert not np.allclose(one_use, s.tok_emb.weight.grad)


def test_logits_up_to_t_do_not_see_the_tokens_after_t():
    s, t = twins()
    idx = np.random.default_rng(3).integers(0, V, (2, 8))
    changed = idx.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % V
    for model, wrap in ((s, lambda a: a), (t, torch.from_numpy)):
        before, after = (
            np.asarray(model(wrap(a)).detach() if model is t else model(a)) for a in (idx, changed)
        )
        np.testing.assert_array_equal(before[:, :5], after[:, :5])
        assert not np.allclose(before[:, 5:], after[:, 5:])


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.8, 3), (0.0, None)])
def test_the_same_seed_generates_the_same_tokens_in_both_twins(temperature, top_k):
    s, t = twins()
    prompt = np.array([[1, 2, 3]])
    kw = dict(temperature=temperature, top_k=top_k)
    out_s = sm.generate(s, prompt, 20, generator=np.random.default_rng(4), **kw)
    out_t = tm.generate(t, torch.from_numpy(prompt), 20, generator=np.random.default_rng(4), **kw)
    np.testing.assert_array_equal(out_s, out_t.numpy())
    assert out_s.shape == (1, 23) and (out_s[:, :3] == prompt).all()
    # a different seed draws a different text (with the full distribution: an untrained tied
    # model's top 3 are nearly all on repeating the last token)
    if temperature and top_k is None:
        other = sm.generate(s, prompt, 20, generator=np.random.default_rng(5), **kw)
        assert not np.array_equal(other, out_s)


def test_top_k_1_is_greedy():
    s, _ = twins()
    prompt = np.array([[4, 5]])
    greedy = sm.generate(s, prompt, 10, temperature=0.0)
    np.testing.assert_array_equal(
        sm.generate(s, prompt, 10, top_k=1, generator=np.random.default_rng(0)), greedy
    )


@pytest.mark.slow
def test_the_scratch_gpt_learns_the_manual(data):
    """250 steps: the validation loss falls well below the text's unigram entropy (4.7 bits per
    character), which a model that learned no context could not pass."""
    record = text.train("scratch-numpy", data, 250, 16, eval_every=250)
    unigram = text.unigram_bits(data[0], len(data[2]))
    assert record["val"][-1][1] < unigram - 0.8, (record["val"], unigram)


@pytest.mark.parametrize(
    "idx, error, match",
    [
        (np.zeros((1, 9), np.int64), ValueError, "longer than block_size=8: crop it"),
        (np.array([[0, 11]]), IndexError, r"token id 11 is outside the vocabulary \[0, 11\)"),
        (np.zeros((1, 3)), TypeError, r"integer token ids, got float64: pass idx\.astype"),
        (np.zeros(3, np.int64), ValueError, r"ids of shape \(batch, length\)"),
    ],
)
def test_bad_input_is_refused_in_words_by_both_twins(idx, error, match):
    s, t = twins()
    before = s.state_dict()
    for model, wrap in ((s, lambda a: a), (t, torch.from_numpy)):
        with pytest.raises(error, match=match):
            model(wrap(idx))
    for k, v in s.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_list_of_ids_is_refused_in_words():
    s, _ = twins()
    with pytest.raises(TypeError, match=r"GPT takes NumPy \(or CuPy\) arrays, got list for idx"):
        s([[1, 2]])


def test_the_state_dicts_copy_both_ways():
    s, t = twins()
    assert {k: v.shape for k, v in s.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    s2, _ = twins(seed=1)
    s2.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    idx = np.array([[1, 2, 3]])
    assert_close(s2(idx), t(torch.from_numpy(idx)))
    opt = scratch.optim.AdamW(s2.parameters())
    assert len(opt.param_groups[0]["params"]) == len(list(t.parameters()))


def test_the_text_suite_runs_end_to_end_without_matplotlib(tmp_path):
    script = (
        "import sys\nsys.modules['matplotlib'] = None\nfrom benchmarks.__main__ import main\n"
        "main(['--quick', '--only', 'text', '--device', 'cpu', '--min-run-time', '0.001', "
        f"'--text-steps', '6', '--out', {str(tmp_path)!r}])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    md = (tmp_path / "report.md").read_text()
    assert "## A GPT that learns Python's manual" in md and "| scratch-numpy |" in md
    assert "scratch:" in md and "torch:" in md
    saved = json.loads((tmp_path / "text.json").read_text())
    assert set(saved["impls"]) == {"scratch-numpy", "torch-cpu"}
    assert len(saved["impls"]["scratch-numpy"]["losses"]) == 6
    assert not (tmp_path / "text.png").exists()


@pytest.mark.parametrize("twin", ["scratch", "torch"])
@pytest.mark.parametrize(
    "settings, error, words",
    [
        (dict(max_new_tokens=-1), ValueError, "max_new_tokens must be >= 0, got -1"),
        (dict(max_new_tokens=2.5), TypeError, "max_new_tokens must be an integer"),
        (dict(temperature=float("nan")), ValueError, "temperature must be finite, got nan"),
        (dict(temperature=-0.5), ValueError, "temperature must be >= 0.0, got -0.5"),
        (dict(top_k=0), ValueError, "top_k must be >= 1, got 0"),
    ],
)
def test_generate_refuses_settings_that_would_sample_wrongly_silently(twin, settings, error, words):
    """top_k=0 would keep every token, a NaN temperature would pick token 0 each time, a negative
    count would return the prompt: each is refused in words, by both twins, before any step."""
    s, t = twins(np.float32)
    kw = dict(max_new_tokens=3) | settings
    n = kw.pop("max_new_tokens")
    idx = np.zeros((1, 2), dtype=np.int64)
    with pytest.raises(error, match=words):
        if twin == "scratch":
            sm.generate(s, idx, n, **kw)
        else:
            tm.generate(t, torch.from_numpy(idx), n, **kw)


@pytest.mark.parametrize("twin", ["scratch", "torch"])
def test_the_residual_projections_start_at_gpt2s_scaled_std(twin):
    """N(0, (0.02 / sqrt(2 n_layer))^2) for each block's out_proj and linear2 (4096 values each:
    their sample std within 5% of it, ~4 standard errors), the embeddings at 0.02, the other
    projections at torch's defaults (far wider)."""
    n_layer, width = 4, 64
    if twin == "scratch":
        model = sm.GPT(11, 8, n_layer, 4, width, generator=np.random.default_rng(0))
        weight = lambda m: m.weight.data  # noqa: E731
    else:
        torch.manual_seed(0)
        model = tm.GPT(11, 8, n_layer, 4, width)
        weight = lambda m: m.weight.detach().numpy()  # noqa: E731
    scaled = 0.02 / np.sqrt(2 * n_layer)
    for block in model.blocks:
        for m in (block.self_attn.out_proj, block.linear2):
            assert abs(weight(m).std() / scaled - 1) < 0.05
        assert weight(block.linear1).std() > 5 * scaled  # kaiming_uniform_'s, untouched
    assert abs(weight(model.pos_emb).std() / 0.02 - 1) < 0.1


@pytest.mark.parametrize(
    "twin, lib", [(sm, scratch.optim), (tm, torch.optim)], ids=["scratch", "torch"]
)
def test_adamw_decays_the_matrices_only(twin, lib):
    """One AdamW step with zero gradients: the matrices shrink by 1 - lr * weight_decay, the
    biases and layer norm gains stay (nanoGPT's groups; decay on every parameter pulled the
    layer norms' gains towards 0)."""
    model = twin.GPT(11, 8, 2, 2, 8)
    groups = model.param_groups(0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in groups[0]["params"]}
    kept = {names[id(p)] for p in groups[1]["params"]}
    assert decayed.isdisjoint(kept) and decayed | kept == set(names.values())
    assert "tok_emb.weight" in decayed and "blocks.0.self_attn.in_proj_weight" in decayed
    assert "ln_f.weight" in kept and "blocks.1.linear2.bias" in kept
    before = {
        n: np.array(p.data if twin is sm else p.detach().numpy())
        for n, p in model.named_parameters()
    }
    for p in model.parameters():
        p.grad = np.zeros(p.shape, np.float32) if twin is sm else torch.zeros_like(p)
    lib.AdamW(groups, lr=0.5).step()
    for n, p in model.named_parameters():
        after = p.data if twin is sm else p.detach().numpy()
        factor = 1 - 0.5 * 0.1 if n in decayed else 1.0
        # one float32 product each side (rounded in float32 there, in float64 here): an ulp apart
        np.testing.assert_allclose(after, factor * before[n], rtol=1e-6, err_msg=n)


def test_the_report_counts_the_characters_where_the_samples_part_from_1():
    """The report said "part at character 4" for the first character generated (a 0-based index
    into the sample with its prompt); a reader counts from 1, after the prompt."""
    assert [text._ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]
