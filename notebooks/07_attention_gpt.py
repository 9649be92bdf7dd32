# %% [markdown]
# # Chapter 7 — Attention, and a GPT that learns Python's manual
#
# Beyond the notes. Scaled dot-product attention lets every position read from every other:
# each query $q_i$ scores every key $k_j$, a softmax turns the scores into weights, and the
# output is the weighted mean of the values,
#
# $$Z = \frac{Q K^\top}{\sqrt{D}} + B, \qquad P = \mathrm{softmax}_{\text{rows}}(Z), \qquad
# O = P V,$$
#
# with $L$ queries, $S$ keys and $D$ the head size; the mask $B$ is $-\infty$ where a query may
# not look (in a GPT: at any later position, the *causal* mask) and 0 elsewhere. The backward,
# line under line: $dV = P^\top dO$, $dP = dO\, V^\top$,
# $dZ = P \odot (dP - \mathrm{rowsum}(dP \odot P))$ (the softmax's Jacobian
# $\partial P_i / \partial Z_j = P_i(\delta_{ij} - P_j)$, row by row),
# $dQ = dZ\, K/\sqrt{D}$, $dK = dZ^\top Q/\sqrt{D}$.
#
# A GPT stacks blocks of (layer norm, multi-head causal self-attention, layer norm, a GELU MLP),
# each with a residual connection, over token plus position embeddings, and reads the next
# character's logits off the last layer through the token embedding's own matrix (weight tying).
#
# Files: [`scratch/nn/attention.py`](../scratch/nn/attention.py),
# [`scratch/nn/transformer.py`](../scratch/nn/transformer.py), the GPT in
# [`scratch/models.py`](../scratch/models.py) and
# [`torch_impl/models.py`](../torch_impl/models.py), the text in
# [`benchmarks/text.py`](../benchmarks/text.py).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.models
import torch_impl.models
from benchmarks import text
from notebooks import agree, pin_threads
from scratch.nn.attention import sdpa_backward, sdpa_forward
from torch_impl import copy_weights

pin_threads(2)  # the chapter trains a GPT: on a busy machine, more threads only wait
rng = np.random.default_rng(0)

# %% [markdown]
# ## Attention by hand, against torch
#
# Two heads, six positions, causal. `sdpa_forward` returns, beside the output, what the backward
# reads (an `SDPASaved`), among it the weights $P$ it used; each row
# sums to 1 over the keys it may see, and the upper triangle is exactly 0.

# %%
q, k, v = (rng.standard_normal((2, 6, 4)) for _ in range(3))
out, saved = sdpa_forward(q, k, v, is_causal=True)
P = saved.P
tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
t_out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
agree("O = softmax(QK^T/sqrt(D) + causal) V", out, t_out)
print("head 0's weights P (row i: query i's weights over keys 0..5):\n", P[0].round(2))
assert np.allclose(P.sum(-1), 1) and not np.triu(P[0], 1).any()
dO = rng.standard_normal(out.shape)
dq, dk, dv = sdpa_backward(dO, saved)
t_out.backward(torch.tensor(dO))
agree("dQ = dZ K / sqrt(D)", dq, tq.grad)
agree("dK = dZ^T Q / sqrt(D)", dk, tk.grad)
agree("dV = P^T dO", dv, tv.grad)

# %% [markdown]
# ## The text, and a GPT in each twin
#
# CPython's reference manual, as every Python installation ships it (`pydoc_data.topics`):
# characters are the tokens, the first 90% trains, the last 10% validates. The model is the one
# `make bench` trains: 2 blocks, 4 heads, 64 dimensions, contexts of 64 characters.
#
# First the twins: the same GPT from the same weights, ten AdamW steps on the same batches, in
# float64: the losses agree step by step.

# %%
data = text.load()
train_ids, val_ids, vocab, info = data
print(info)
print(
    f"a character model that ignores context reaches {text.unigram_bits(train_ids, len(vocab)):.2f}"
    " bits per character at best"
)
s_run = text.train("scratch-numpy", data, steps=10, batch_size=4, dtype=np.float64, eval_every=5)
t_run = text.train("torch-cpu", data, steps=10, batch_size=4, dtype=np.float64, eval_every=5)
agree("10 AdamW steps: losses", np.array(s_run["losses"]), np.array(t_run["losses"]))
agree(
    "10 AdamW steps: the tied embedding",
    s_run["model"].tok_emb.weight.data,
    t_run["model"].tok_emb.weight,
)

# %% [markdown]
# ## Training
#
# Then torch trains the float32 model for 600 steps (a few seconds; `make bench` trains both
# twins for longer and times them), and the scratch twin takes its weights: the same
# `state_dict` keys, so every picture below is computed by the scratch code and checked against
# torch's.

# %%
steps = 600
run = text.train("torch-cpu", data, steps=steps, batch_size=16, eval_every=50)
trained = run["model"]
model = scratch.models.GPT(len(vocab), **text.CONFIG)
model.load_state_dict({k: v.numpy() for k, v in trained.state_dict().items()})
val_steps, val_bits = zip(*run["val"])
print(
    f"validation: {val_bits[0]:.2f} bits per character after {val_steps[0]} steps, "
    f"{val_bits[-1]:.2f} after {steps}"
)
assert val_bits[-1] < 3.2

fig, ax = plt.subplots(figsize=(8, 3.6))
ax.plot(
    np.arange(1, steps + 1),
    np.array(run["losses"]) / text.LN2,
    lw=0.6,
    alpha=0.5,
    label="training batch",
)
ax.plot(val_steps, val_bits, "o-", label="validation")
ax.axhline(
    text.unigram_bits(train_ids, len(vocab)),
    color="k",
    ls=":",
    label="characters' frequencies alone",
)
ax.set_xlabel("step")
ax.set_ylabel("bits per character")
ax.set_title("the GPT learning the manual (torch, float32, batch 16 x 64 characters)", fontsize=10)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Where each head looks
#
# A sentence from the validation text (the model never trained on it). For each block, the
# attention weights of its four heads: row $i$ is the character at position $i$ reading the
# characters before it. In block 0 most heads read the character itself or the one or two
# before it; in block 1 some heads read back to the space that began the current word (the
# vertical stripes): what a character model needs to know which word it is spelling.

# %%
sentence = "Return a shallow copy of the dictionary."
assert sentence in text.decode(val_ids, vocab)
idx = text.encode(sentence, vocab)[None]
T = idx.shape[1]
causal = np.triu(np.ones((T, T), dtype=bool), 1)  # True masks out, as MultiheadAttention reads it
t_causal = torch.from_numpy(causal)

maps, t_maps = [], []
x = model.tok_emb(idx) + model.pos_emb(np.arange(T))  # the GPT's forward, block by block
with torch.no_grad():
    tx = trained.tok_emb(torch.from_numpy(idx)) + trained.pos_emb(torch.arange(T))
    for block, t_block in zip(model.blocks, trained.blocks):
        h = block.norm1(x)
        maps.append(
            block.self_attn(
                h, h, h, attn_mask=causal, need_weights=True, average_attn_weights=False
            )[1][0]
        )
        th = t_block.norm1(tx)
        t_maps.append(
            t_block.self_attn(
                th, th, th, attn_mask=t_causal, need_weights=True, average_attn_weights=False
            )[1][0]
        )
        x = block(x, src_mask=causal, is_causal=True)
        tx = t_block(tx, src_mask=t_causal, is_causal=True)
for layer, (m, tm) in enumerate(zip(maps, t_maps)):
    agree(f"block {layer}: attention weights, 4 heads", m, tm)
agree("logits after the last block", model.head(model.ln_f(x)), trained.head(trained.ln_f(tx)))

labels = list(sentence.replace(" ", "␣"))
fig, axes = plt.subplots(2, 4, figsize=(17, 9.4))
for layer in range(2):
    for head in range(4):
        ax = axes[layer, head]
        ax.imshow(maps[layer][head], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(T), labels, fontsize=7, family="monospace")
        ax.set_yticks(range(T), labels, fontsize=7, family="monospace")
        ax.set_title(f"block {layer}, head {head}", fontsize=11)
    axes[layer, 0].set_ylabel("query: the character reading", fontsize=10)
for ax in axes[1]:
    ax.set_xlabel("key: the character read", fontsize=10)
fig.suptitle(
    f"attention weights on “{sentence}” (scratch's, equal to torch's); dark = weight near 1"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Text it writes
#
# 300 characters after a prompt, sampled from the top 10 characters at each step, the same
# random numbers for both twins. In float64 (both twins' copies of the trained weights) their
# probabilities agree to ~1e-15, so they pick the same characters: the two texts are equal. After
# 600 steps it has the manual's vocabulary and layout more than its sense; `make bench-full`
# trains longer.

# %%
s64 = scratch.models.GPT(len(vocab), **text.CONFIG, dtype=np.float64)
s64.load_state_dict({k: v.astype(np.float64) for k, v in model.state_dict().items()})
t64 = copy_weights(s64, torch_impl.models.GPT(len(vocab), **text.CONFIG, dtype=torch.float64))
s_text = text.sample("scratch-numpy", s64, vocab, prompt="The ", n=300, seed=1)
t_text = text.sample("torch-cpu", t64, vocab, prompt="The ", n=300, seed=1)
print(s_text)
assert s_text == t_text, "the twins sampled different text"
print("\n(the torch twin wrote the same 300 characters)")
