# %% [markdown]
# # Chapter 6 — Normalisation: batch norm and layer norm
#
# Both normalise to zero mean and unit variance, then scale and shift with learned $\gamma,
# \beta$:
#
# $$\hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta .$$
#
# **Batch norm** takes $\mu, \sigma^2$ per channel, over the batch (and every spatial
# position), and keeps running averages of them for evaluation,
# $r \leftarrow (1 - m)\, r + m\, \text{batch}$ with momentum $m = 0.1$ (the running variance
# uses the unbiased batch variance, as torch does). **Layer norm** takes them over each sample's
# features, so it needs no batch and behaves the same in training and evaluation.
#
# Files: [`scratch/nn/normalization.py`](../scratch/nn/normalization.py) (twin:
# `torch.nn.BatchNorm1d/2d/3d`, `LayerNorm`).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.nn as snn
from notebooks import agree
from torch_impl import copy_weights

rng = np.random.default_rng(0)

# %% [markdown]
# ## Statistics per channel
#
# A batch of 16 images with 4 channels, each channel with its own mean and spread. After
# `BatchNorm2d` (training mode, $\gamma = 1, \beta = 0$ at the start) every channel has mean 0
# and standard deviation 1 over the batch and the pixels; `LayerNorm` over (C, H, W) instead
# normalises each *image*.

# %%
means, stds = np.array([-3.0, 0.0, 2.0, 10.0]), np.array([0.5, 1.0, 3.0, 0.1])
x = rng.standard_normal((16, 4, 6, 6)) * stds[:, None, None] + means[:, None, None]
bn = snn.BatchNorm2d(4, dtype=np.float64)
t_bn = copy_weights(bn, torch.nn.BatchNorm2d(4, dtype=torch.float64))
y = bn(x)
agree("BatchNorm2d forward", y, t_bn(torch.tensor(x)))
ln = snn.LayerNorm((4, 6, 6), dtype=np.float64)
t_ln = copy_weights(ln, torch.nn.LayerNorm((4, 6, 6), dtype=torch.float64))
z = ln(x)
agree("LayerNorm forward", z, t_ln(torch.tensor(x)))
g = rng.standard_normal(y.shape)
x_t = torch.tensor(x, requires_grad=True)
t_bn.train()
t_bn(x_t).backward(torch.tensor(g))
agree("BatchNorm2d dL/dx", bn.backward(g), x_t.grad)

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
for ax, (data, title) in zip(
    axes,
    (
        (x, "input"),
        (y, "after BatchNorm2d"),
        (z, "after LayerNorm((C, H, W)): each image normalised,\nits channels keep their order"),
    ),
):
    for k in range(4):
        ax.hist(
            data[:, k].ravel(),
            bins=60,
            histtype="step",
            lw=1.5,
            label=f"channel {k}: mean {data[:, k].mean():+.2f}, std {data[:, k].std():.2f}",
        )
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
axes[0].set_ylabel("values (16 images x 36 pixels)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Running averages converging
#
# Feed batches from one fixed distribution, channel $k$ with mean $\mu_k$ and variance
# $\sigma_k^2$. The running mean starts at 0 and closes the gap by a factor $(1 - m)$ a batch:
# after $k$ batches it is $\mu\,(1 - (1 - m)^k)$ plus the batches' noise, drawn dashed below.
# With `momentum=None` torch keeps the plain cumulative average instead.

# %%
steps = 60
runs = {}
for momentum in (0.1, None):
    s_bn = snn.BatchNorm1d(4, momentum=momentum, dtype=np.float64)
    t_bn = copy_weights(s_bn, torch.nn.BatchNorm1d(4, momentum=momentum, dtype=torch.float64))
    history = []
    for _ in range(steps):
        batch = rng.standard_normal((32, 4)) * stds + means
        s_bn(batch)
        t_bn(torch.tensor(batch))
        history.append(s_bn.running_mean.copy())
    agree(
        f"running_mean after {steps} batches, momentum {momentum}",
        s_bn.running_mean,
        t_bn.running_mean,
    )
    agree(
        f"running_var after {steps} batches, momentum {momentum}",
        s_bn.running_var,
        t_bn.running_var,
    )
    runs[momentum] = np.array(history)

fig, ax = plt.subplots(figsize=(9, 4.5))
k = np.arange(1, steps + 1)
for ch in range(4):
    ax.plot(k, runs[0.1][:, ch], color=f"C{ch}", lw=2, label=f"channel {ch}: μ = {means[ch]:g}")
    ax.plot(k, runs[None][:, ch], ":", color=f"C{ch}", lw=1.5)
    ax.plot(k, means[ch] * (1 - 0.9**k), "--", color="k", lw=0.7)
ax.set_xlabel("batches seen")
ax.set_ylabel("running_mean")
ax.set_title(
    "running means: momentum 0.1 (solid), the closed form μ(1 - 0.9^k) (dashed),\n"
    "momentum None, the cumulative average (dotted)",
    fontsize=10,
)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What batch norm does inside a deep network
#
# Twenty `Linear(64, 64)` + `Tanh` layers with torch's default init: each layer's weights scale
# a unit-variance input down by about $\sqrt 3$ (they are uniform in
# $\pm 1/\sqrt{\text{fan\_in}}$), so how much the activations *differ between samples*
# shrinks layer by layer, until every input gives nearly the same output (the biases' constant)
# and the gradients that would tell the samples apart shrink with it. The same network with
# `BatchNorm1d` before every `Tanh` re-spreads each unit over the batch at every layer. Both are
# built in the scratch twin, and the torch twin runs the same weights.

# %%
depth, width = 20, 64


def deep(norm):
    """The scratch network and its torch twin, with the same weights (Sequential's keys match)."""
    s_layers, t_layers = [], []
    for _ in range(depth):
        s_layers.append(snn.Linear(width, width, dtype=np.float64, generator=rng))
        t_layers.append(torch.nn.Linear(width, width, dtype=torch.float64))
        if norm:
            s_layers.append(snn.BatchNorm1d(width, dtype=np.float64))
            t_layers.append(torch.nn.BatchNorm1d(width, dtype=torch.float64))
        s_layers.append(snn.Tanh())
        t_layers.append(torch.nn.Tanh())
    model = snn.Sequential(*s_layers)
    return model, copy_weights(model, torch.nn.Sequential(*t_layers))


x = rng.standard_normal((256, width))
spread = {}
for norm in (False, True):
    model, twin = deep(norm)
    a, stds = x, []
    t_a = torch.tensor(x)
    for layer, t_layer in zip(model, twin):
        a, t_a = layer(a), t_layer(t_a)
        if isinstance(layer, snn.Tanh):
            stds.append(a.std(axis=0).mean())  # each unit's spread over the batch, averaged
    agree(f"20-layer MLP, {'with' if norm else 'without'} BatchNorm: output", a, t_a)
    spread[norm] = np.array(stds)
    print(
        f"{'with' if norm else 'without'} batch norm: spread over the batch, "
        f"layer 1 {stds[0]:.3f}, layer 10 {stds[9]:.2e}, layer 20 {stds[-1]:.2e}"
    )
assert spread[False][-1] < 1e-3 < 0.5 < spread[True].min()

fig, ax = plt.subplots(figsize=(8, 4))
ax.semilogy(np.arange(1, depth + 1), spread[False], "o-", label="Linear + Tanh")
ax.semilogy(np.arange(1, depth + 1), spread[True], "o-", label="Linear + BatchNorm1d + Tanh")
ax.set_xlabel("layer")
ax.set_ylabel("a unit's std over the batch (mean)")
ax.set_xticks(range(1, depth + 1, 2))
ax.set_title(
    "how much a deep tanh network's activations differ between samples\n"
    "(torch's default init, a batch of 256)",
    fontsize=10,
)
ax.legend()
fig.tight_layout()
plt.show()
