# %% [markdown]
# # Chapter 5 — Recurrent layers: one LSTM step, backprop through time, vanishing gradients
#
# A recurrent layer applies the same cell at every step of a sequence, carrying a state. The LSTM
# cell (torch's gate order i, f, g, o), for input $x_t$ and state $(h, c)$:
#
# $$[i, f, g, o] = [\sigma, \sigma, \tanh, \sigma]\big(x_t W_{ih}^\top + b_{ih} + h W_{hh}^\top
# + b_{hh}\big), \qquad c' = f \odot c + i \odot g, \qquad h' = o \odot \tanh(c').$$
#
# The forget gate $f$ decides how much of the old cell state survives, the input gate $i$ how
# much of the candidate $g$ is written, the output gate $o$ how much is shown. Backpropagation
# through time runs the cell's backward from the last step to the first, adding each step's
# weight gradients; the scratch twin writes it out (`lstm_cell_backward`, beside `lstm_cell`).
#
# Files: [`scratch/nn/rnn.py`](../scratch/nn/rnn.py) (twin: `torch.nn.RNN`, `LSTM`, `GRU`,
# `LSTMCell`).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.nn as snn
from notebooks import agree
from scratch.nn.rnn import lstm_cell
from torch_impl import copy_weights

rng = np.random.default_rng(0)

# %% [markdown]
# ## One step, gate by gate
#
# An `LSTMCell` with 12 units; one input, a state carried in. `lstm_cell` is the step function
# the scratch layers and cells share; its saved values are the gates.

# %%
H = 12
cell = snn.LSTMCell(3, H, dtype=np.float64, generator=rng)
t_cell = copy_weights(cell, torch.nn.LSTMCell(3, H, dtype=torch.float64))
x = rng.standard_normal((1, 3))
h, c = rng.standard_normal((1, H)) * 0.5, rng.standard_normal((1, H))

gi = x @ cell.weight_ih.data.T + cell.bias_ih.data
h_next, c_next, saved = lstm_cell(gi, h, c, cell.weight_hh.data, cell.bias_hh.data)
i, f, g, o = saved[1:5]  # the gates, as lstm_cell keeps them for its backward
t_h, t_c = t_cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
agree("h': lstm_cell vs torch.nn.LSTMCell", h_next, t_h)
agree("c': lstm_cell vs torch.nn.LSTMCell", c_next, t_c)
agree("c' = f c + i g", c_next, f * c + i * g)

# %%
rows = [
    ("c (carried in)", c),
    ("f  forget", f),
    ("i  input", i),
    ("g  candidate", g),
    ("c' = f c + i g", c_next),
    ("o  output", o),
    ("h' = o tanh(c')", h_next),
]
fig, ax = plt.subplots(figsize=(11, 4.2))
table = np.concatenate([r[1] for r in rows])
image = ax.imshow(table, cmap="coolwarm", vmin=-np.abs(table).max(), vmax=np.abs(table).max())
for (r, k), v in np.ndenumerate(table):
    ax.text(k, r, f"{v:.2f}", ha="center", va="center", fontsize=7)
ax.set_yticks(range(len(rows)), [r[0] for r in rows])
ax.set_xticks(range(H), [f"unit {k}" for k in range(H)], fontsize=7)
fig.colorbar(image, ax=ax, shrink=0.8)
ax.set_title(
    "one LSTM step, 12 units: gates in (0, 1) (σ), candidate and states in (-1, 1) "
    "(tanh); where f ≈ 0 the old c is forgotten",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Backpropagation through time, against autograd
#
# A 2-layer LSTM over 30 steps, batch 4. The loss is $\sum g \odot \text{output}$ for a random
# $g$ (any upstream gradient): every weight's gradient and the input's must match autograd's.

# %%
T, N = 30, 4
lstm = snn.LSTM(5, 16, num_layers=2, dtype=np.float64, generator=rng)
t_lstm = copy_weights(lstm, torch.nn.LSTM(5, 16, num_layers=2, dtype=torch.float64))
x = rng.standard_normal((T, N, 5))
g = rng.standard_normal((T, N, 16))
out, (h_n, c_n) = lstm(x)
dx, _ = lstm.backward((g, None))
x_t = torch.tensor(x, requires_grad=True)
t_out, _ = t_lstm(x_t)
t_out.backward(torch.tensor(g))
agree("output (30 steps, 2 layers)", out, t_out)
agree("dL/dx, every step", dx, x_t.grad)
for name, p in lstm.named_parameters():
    agree(f"dL/d{name}", p.grad, dict(t_lstm.named_parameters())[name].grad)

# %% [markdown]
# ## How far back does a gradient reach?
#
# Let the loss see only the last output: $L = g \cdot \text{output}_{T}$. Then
# $\partial L/\partial x_t$ is what step $t$ contributes to it, and backprop through time
# multiplies one Jacobian per step on the way back. For a tanh RNN each factor is
# $\mathrm{diag}(1 - h^2) W_{hh}$, usually shrinking: the gradient vanishes exponentially. The
# LSTM's cell state passes back through $f$ alone, so where $f$ is near 1 the gradient
# survives: torch's default biases start $f$ near 0.5, and a common trick sets the forget
# gate's bias to +3 ($f \approx 0.95$).

# %%
T = 60
x = rng.standard_normal((T, 1, 8))
g_last = np.zeros((T, 1, 32))
g_last[-1] = rng.standard_normal((1, 32))


def reach(name, scratch_layer, torch_layer):
    """|dL/dx_t| for t = 0..T-1, from each twin."""
    scratch_layer(x)
    dx, _ = scratch_layer.backward((g_last, None))
    x_t = torch.tensor(x, requires_grad=True)
    torch_layer(x_t)[0].backward(torch.tensor(g_last))
    agree(f"{name}: dL/dx over {T} steps", dx, x_t.grad)
    return np.linalg.norm(dx[:, 0], axis=1), np.linalg.norm(x_t.grad[:, 0].numpy(), axis=1)


layers = {}
for name, cls in (("RNN (tanh)", "RNN"), ("GRU", "GRU"), ("LSTM", "LSTM")):
    s_layer = getattr(snn, cls)(8, 32, dtype=np.float64, generator=np.random.default_rng(1))
    layers[name] = (
        s_layer,
        copy_weights(s_layer, getattr(torch.nn, cls)(8, 32, dtype=torch.float64)),
    )
s_layer = snn.LSTM(8, 32, dtype=np.float64, generator=np.random.default_rng(1))
s_layer.bias_hh_l0.data[32:64] += 3.0  # the forget gate's slice: i, f, g, o
layers["LSTM, forget bias +3"] = (
    s_layer,
    copy_weights(s_layer, torch.nn.LSTM(8, 32, dtype=torch.float64)),
)

fig, ax = plt.subplots(figsize=(9, 4.5))
for (name, (s_layer, t_layer)), color in zip(layers.items(), ("C3", "C2", "C0", "C1")):
    s_norm, t_norm = reach(name, s_layer, t_layer)
    ax.semilogy(s_norm, color=color, lw=2, label=name)
    ax.semilogy(t_norm, "x", color=color, ms=4)
ax.set_xlabel("step t (the loss reads only step 59)")
ax.set_ylabel("|dL/dx_t|  (lines: scratch; crosses: torch)")
ax.set_title(
    "how much each step's input matters to the last output: backprop through time", fontsize=10
)
ax.legend()
fig.tight_layout()
plt.show()
