# %% [markdown]
# # Chapter 2 — The perceptron and its learning rule
#
# A perceptron computes $z = w \cdot x + b$ and outputs 1 if $z \ge$ threshold, else 0 (the
# notes' "1 if z >= n"; the notes' own torch code, `torch.heaviside(z, 0.)`, gives 0 at exactly
# $z = 0$, against that rule: both twins here give 1). It learns online, one sample at a time:
#
# $$\hat y = \mathrm{step}(w \cdot x + b), \qquad w \leftarrow w + \eta\,(y - \hat y)\,x,
# \qquad b \leftarrow b + \eta\,(y - \hat y).$$
#
# When it is right, nothing changes; when it is wrong, the boundary moves towards the point it
# got wrong. On data separable with margin $\gamma$ inside a ball of radius $R$ (the bias folded
# into $x$ as a constant 1), it makes at most $(R/\gamma)^2$ mistakes starting from zero weights,
# whatever the learning rate (Novikoff, 1962). On data no line separates, such as XOR, it never
# stops making them.
#
# Files: [`scratch/perceptron.py`](../scratch/perceptron.py),
# [`torch_impl/perceptron.py`](../torch_impl/perceptron.py).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.perceptron as sp
import torch_impl.perceptron as tp
from notebooks import agree
from torch_impl import copy_weights

# %% [markdown]
# ## Separable data with a known margin
#
# Points in the square labelled by the line $x_1 - 2x_2 + 0.3 = 0$, keeping only those at least
# 0.05 from it: a margin we know, so Novikoff's bound can be computed.

# %%
rng = np.random.default_rng(1)
X = rng.uniform(-1, 1, (200, 2))
true_w, true_b = np.array([1.0, -2.0]), 0.3
distance = (X @ true_w + true_b) / np.linalg.norm(true_w)
X, y = X[np.abs(distance) > 0.05], (distance[np.abs(distance) > 0.05] > 0).astype(np.int64)
print(f"{len(X)} points, {y.sum()} labelled 1")

# Novikoff's bound from the known separator u = (w, b) / |(w, b)| on points (x, 1)
X1 = np.hstack([X, np.ones((len(X), 1))])
u = np.append(true_w, true_b) / np.linalg.norm(np.append(true_w, true_b))
R = np.linalg.norm(X1, axis=1).max()
gamma = np.abs(X1 @ u).min()
bound = (R / gamma) ** 2
print(f"R = {R:.3f}, margin gamma = {gamma:.4f}: at most (R/gamma)^2 = {bound:.0f} mistakes")

# %% [markdown]
# ## The boundary moving, mistake by mistake
#
# `train_perceptron` applies the rule online to the samples in order. Called on one sample at a
# time, it applies the rule to that sample alone, so the loop below is the same epoch, one step
# at a time, keeping the weights after every mistake. Both twins start from zero weights.


# %%
def zero_start(model):
    model.linear.weight.data[...] = 0
    model.linear.bias.data[...] = 0
    return model


s = zero_start(sp.Perceptron(2, dtype=np.float64))
snapshots, mistakes_by_epoch = [], []
for _epoch in range(100):
    mistakes = 0
    for i in range(len(X)):
        # one sample: returns 1 if it was right (an epoch without a mistake), None if wrong
        if sp.train_perceptron(s, X[i : i + 1], y[i : i + 1], 0.1, epochs=1) is None:
            mistakes += 1
            snapshots.append((s.linear.weight.data[0].copy(), s.linear.bias.data[0].copy()))
    mistakes_by_epoch.append(mistakes)
    if mistakes == 0:
        break
print(
    f"converged in epoch {len(mistakes_by_epoch)}; mistakes per epoch {mistakes_by_epoch}; "
    f"{len(snapshots)} in all, bound {bound:.0f}"
)
assert len(snapshots) <= bound

# The same, in one call of each twin
s_once = zero_start(sp.Perceptron(2, dtype=np.float64))
t_once = zero_start(tp.Perceptron(2, dtype=torch.float64))
s_mistakes, t_mistakes = [], []
s_epochs = sp.train_perceptron(s_once, X, y, 0.1, 100, mistakes_per_epoch=s_mistakes)
t_epochs = tp.train_perceptron(t_once, X, y, 0.1, 100, mistakes_per_epoch=t_mistakes)
print(f"one call: scratch converged after {s_epochs} epochs, torch after {t_epochs}")
assert s_mistakes == t_mistakes == mistakes_by_epoch, (s_mistakes, t_mistakes)
agree("weights: step by step vs one call", s.linear.weight.data, s_once.linear.weight.data)
agree("weights: scratch vs torch", s_once.linear.weight.data, t_once.linear.weight)
agree("bias: scratch vs torch", s_once.linear.bias.data, t_once.linear.bias)

# %%
fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.2, 1]})
ax.scatter(*X[y == 1].T, marker="+", color="C2", s=30, label="y = 1")
ax.scatter(*X[y == 0].T, marker="_", color="C1", s=30, label="y = 0")
grid = np.linspace(-1, 1, 2)
shown = list(range(min(6, len(snapshots)))) + [len(snapshots) - 1]
colors = plt.cm.Blues(np.linspace(0.35, 1, len(shown)))
for color, k in zip(colors, shown):
    w, b = snapshots[k]
    ax.plot(
        grid,
        -(w[0] * grid + b) / w[1],
        color=color,
        lw=1.2 if k < len(snapshots) - 1 else 3,
        label=f"after mistake {k + 1}" + (" (final)" if k == len(snapshots) - 1 else ""),
    )
ax.plot(grid, -(true_w[0] * grid + true_b) / true_w[1], "k:", lw=1, label="the line that labelled")
ax.set_xlim(-1, 1)
ax.set_ylim(-1, 1)
ax.set_aspect("equal")
ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
ax.set_title(
    "the boundary w·x + b = 0 after each of the first mistakes, and at the end", fontsize=10
)
cumulative = np.cumsum(mistakes_by_epoch)
epochs = np.arange(1, len(cumulative) + 1)
bx.step(epochs, cumulative, where="mid", color="C0", lw=2, label="mistakes so far (scratch)")
bx.plot(epochs, np.cumsum(t_mistakes), "x", color="C3", label="torch")
bx.axhline(bound, color="k", ls="--", label=f"Novikoff's bound (R/γ)² = {bound:.0f}")
bx.set_xlabel("epoch")
bx.set_ylabel("mistakes (updates), cumulative")
bx.set_yscale("log")  # the bound is thirty times the count: a log scale shows both
bx.set_ylim(10, bound * 2)
bx.set_xticks(epochs)
bx.legend(fontsize=8, loc="center right")
bx.set_title(f"{cumulative[-1]} mistakes in all, far below the bound", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## XOR: no line separates it, and the rule never settles
#
# $(0,0) \to 0$, $(0,1) \to 1$, $(1,0) \to 1$, $(1,1) \to 0$. Every epoch makes mistakes, and the
# weights cycle: `train_perceptron` returns `None` after its last epoch. This is why the notes
# move on to a hidden layer.

# %%
X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y_xor = np.array([0, 1, 1, 0])
s_xor = zero_start(sp.Perceptron(2, dtype=np.float64))
t_xor = copy_weights(s_xor, tp.Perceptron(2, dtype=torch.float64))
s_m, t_m = [], []
s_result = sp.train_perceptron(s_xor, X_xor, y_xor, 1.0, 12, mistakes_per_epoch=s_m)
t_result = tp.train_perceptron(t_xor, X_xor, y_xor, 1.0, 12, mistakes_per_epoch=t_m)
print(f"scratch returned {s_result}, torch returned {t_result}")
print(f"mistakes per epoch, scratch: {s_m}\n                   torch:   {t_m}")
assert s_result is None and t_result is None and s_m == t_m and min(s_m) > 0
predictions = s_xor(X_xor)[:, 0].astype(int)
print(f"after 12 epochs it predicts {predictions.tolist()} for targets {y_xor.tolist()}")
