# %% [markdown]
# # Chapter 1 — Gradient descent on the bowl
#
# The notes begin with the simplest thing that learns: walk downhill on
#
# $$f(x, y) = (x - 2)^2 + (y + 3)^2,$$
#
# a bowl whose **minimum** (the notes say "maximum": a slip) is $c = (2, -3)$. Its gradient is
# $\nabla f = (2(x - 2),\ 2(y + 3))$ — the notes wrote `2(y+2)`, a typo, and `2(x-2)`, which
# Python reads as calling the integer 2. One step of size $\eta$ is
# $\theta \leftarrow \theta - \eta \nabla f(\theta) = \theta - 2\eta(\theta - c)$, so after
# $k$ steps
#
# $$\theta_k = c + (1 - 2\eta)^k (\theta_0 - c).$$
#
# That closed form is the third oracle beside the two twins: it says the walk converges exactly
# when $|1 - 2\eta| < 1$, that is $0 < \eta < 1$; that it overshoots and zig-zags for
# $\eta > 1/2$; that it bounces for ever at $\eta = 1$ and diverges beyond.
#
# Files: [`scratch/gradient_descent.py`](../scratch/gradient_descent.py) (the gradient by hand)
# and [`torch_impl/gradient_descent.py`](../torch_impl/gradient_descent.py) (autograd and
# `torch.optim.SGD`).

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.gradient_descent as sgd
import torch_impl.gradient_descent as tgd
from notebooks import agree
from scratch.gradcheck import numerical_gradient

c = np.array(sgd.MINIMUM)
start = np.array([-2.0, 1.0])

# %% [markdown]
# ## The gradient, three ways
#
# By hand (scratch), by autograd (torch), and by central finite differences, which need neither.

# %%
by_hand = sgd.gradient(start)
p = torch.tensor(start, requires_grad=True)
tgd.loss_function(p).backward()
by_differences = numerical_gradient(sgd.loss_function, start)
print(
    f"at {start}:  by hand {by_hand},  autograd {p.grad.numpy()},  finite differences "
    f"{by_differences.round(8)}"
)
agree("gradient: by hand vs autograd", by_hand, p.grad)
# central differences are exact for a quadratic up to rounding: eps * |f| / h ~ 1e-9
agree("gradient: by hand vs finite differences", by_hand, by_differences, rtol=1e-8, atol=1e-8)

# %% [markdown]
# ## Four learning rates on the contours, the closed form drawn over them
#
# Each dot is a step of the scratch twin; each cross is the torch twin's step; each open circle
# is the closed form $c + (1 - 2\eta)^k(\theta_0 - c)$. They coincide. The bowl is round, so
# every path runs straight at the minimum: a small step creeps, $\eta > 1/2$ overshoots to the
# other side and back, and $\eta = 1$ jumps between the start and its mirror image for ever.

# %%
steps = 20
k = np.arange(steps + 1)[:, None]
xs, ys = np.meshgrid(np.linspace(-3, 7, 200), np.linspace(-8, 2, 200))
fig, axes = plt.subplots(1, 4, figsize=(17, 4.6))
for ax, lr in zip(axes, (0.1, 0.4, 0.85, 1.0)):
    with warnings.catch_warnings():  # lr 1 cannot converge: the twins warn, shown below
        warnings.simplefilter("ignore", sgd.DivergenceWarning)
        s_path, s_loss = sgd.gradient_descent(start, lr, steps)
        t_path, t_loss = tgd.gradient_descent(torch.tensor(start), lr, steps)
    closed = c + (1 - 2 * lr) ** k * (start - c)
    agree(f"lr {lr}: path, scratch vs torch", s_path, t_path)
    agree(f"lr {lr}: path, scratch vs closed form", s_path, closed)
    # the bowl on a grid (loss_function takes one point)
    ax.contour(xs, ys, (xs - 2) ** 2 + (ys + 3) ** 2, levels=15, cmap="Greys", linewidths=0.6)
    ax.plot(*closed.T, "o", mfc="none", color="k", ms=11, label="closed form")
    ax.plot(*s_path.T, "-o", color="C0", ms=4, label="scratch (gradient by hand)")
    ax.plot(*t_path.numpy().T, "x", color="C3", ms=7, label="torch (autograd + SGD)")
    ax.plot(*c, "*", color="k", ms=14)
    ax.set_title(f"lr = {lr}: each step multiplies θ - c by {1 - 2 * lr:+.2f}", fontsize=10)
    ax.set_aspect("equal")
axes[0].legend(fontsize=8, loc="upper right")
fig.suptitle("Gradient descent on (x-2)² + (y+3)², from (-2, 1); the star is the minimum (2, -3)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How fast: the distance to the minimum, step by step
#
# Every step multiplies $\theta - c$ by $1 - 2\eta$, so the walk stays on the line through $c$
# and $\theta_0$: its signed position along that line, $(\theta_k - c)\cdot u$ with $u$ the unit
# vector from $c$ to $\theta_0$, is $(1 - 2\eta)^k |\theta_0 - c|$. On a log scale its size is a
# straight line of slope $\log_{10}|1 - 2\eta|$, the same for $\eta$ and $1 - \eta$; its sign
# tells them apart: below $\eta = 1/2$ the walk undershoots and stays on $\theta_0$'s side,
# above it overshoots and changes side every step (the plot's symmetric log scale shows the
# sign). The best learning rate here is $\eta = 1/2$, which lands on $c$ in one step. At
# $\eta = 1$ the factor is $-1$: the walk jumps between $\theta_0$ and its mirror image
# $2c - \theta_0$ for ever. Above 1 it diverges. Both twins warn (`DivergenceWarning`) when a
# learning rate cannot converge on the bowl; the warning is shown below the figure.

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
caught = []
rates = (0.05, 0.25, 0.45, 0.75, 0.95, 1.0, 1.05)
for lr, color in zip(rates, ("C0", "C1", "C2", "C1", "C0", "C3", "C4")):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s_path, _ = sgd.gradient_descent(start, lr, 40)
        t_path, _ = tgd.gradient_descent(torch.tensor(start), lr, 40)
    caught += [str(x.message) for x in w if issubclass(x.category, sgd.DivergenceWarning)]
    # 40 steps at a factor up to 1.1: the rounding of each step grows with the factor too
    agree(f"lr {lr}: path, scratch vs torch", s_path, t_path)
    u = (start - c) / np.linalg.norm(start - c)  # from c towards the start
    signed = (s_path - c) @ u
    agree(f"lr {lr}: the walk stays on the line through c", s_path - c, np.outer(signed, u))
    style = ":" if lr > 0.5 else "-"  # overshooting: dotted, beside the undershooting twin rate
    label = f"lr {lr}: 1 - 2 lr = {1 - 2 * lr:+.2f}"
    ax.plot(signed, style, color=color, lw=2.5 if lr <= 0.5 else 1.5, label=label)
    ax.plot((t_path.numpy() - c) @ u, "x", color=color, ms=4)
ax.set_yscale("symlog", linthresh=1e-6)  # log in size, both signs: 0 is crossed linearly
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("step k")
ax.set_ylabel("(θ_k - c) · u, signed  (lines: scratch; crosses: torch)")
ax.set_title(
    "converging (|1 - 2 lr| < 1), bouncing (lr = 1), diverging (lr > 1); lr and 1 - lr shrink\n"
    "alike, but one stays on the start's side (solid), the other changes side each step (dotted)",
    fontsize=10,
)
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
fig.tight_layout()
plt.show()
print(
    f"{len(caught)} warnings, one from each twin for lr 1.0 and for lr 1.05; the first says:\n ",
    caught[0],
)
assert len(caught) == 4, caught

# %% [markdown]
# ## When the loss overflows
#
# A learning rate far too large sends the loss to infinity within a few dozen steps. Both twins
# stop there and raise `DivergenceError`, which carries the history up to that point, so nothing
# computed is lost.

# %%
for twin, x0 in ((sgd, start), (tgd, torch.tensor(start))):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sgd.DivergenceWarning)
            twin.gradient_descent(x0, 1e6, 100)
    except twin.DivergenceError as error:
        print(
            f"{twin.__name__}: {error}\n  history kept: {len(error.loss_history)} losses, the "
            f"last finite one {float(error.loss_history[-2]):.3g}"
        )
    else:
        raise AssertionError("a learning rate of 1e6 should diverge")
