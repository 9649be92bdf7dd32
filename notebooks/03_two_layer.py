# %% [markdown]
# # Chapter 3 — The two-layer network and backpropagation by hand
#
# The notes' network: `fc2(relu(fc1(x)))`. For a batch $x$ of $N$ rows,
#
# $$a = x W_1^\top + b_1, \qquad h = \max(a, 0), \qquad \text{out} = h W_2^\top + b_2 .$$
#
# torch derives the backward pass by autograd; the scratch twin writes it out, from the output
# back, each gradient under the line it inverts. Given $g = \partial L / \partial\,\text{out}$:
#
# $$\frac{\partial L}{\partial W_2} = g^\top h,\quad \frac{\partial L}{\partial b_2} = \sum_n g,
# \quad \frac{\partial L}{\partial h} = g W_2,\quad \frac{\partial L}{\partial a} =
# \frac{\partial L}{\partial h} \odot [a > 0],\quad \frac{\partial L}{\partial W_1} =
# \Big(\frac{\partial L}{\partial a}\Big)^{\!\top} x,\quad \frac{\partial L}{\partial x} =
# \frac{\partial L}{\partial a} W_1 .$$
#
# (The notes' docstring says the output is (batch, input_dim); it is (batch, output_dim).)
#
# Files: [`scratch/two_layer.py`](../scratch/two_layer.py),
# [`torch_impl/two_layer.py`](../torch_impl/two_layer.py); the layers in
# [`scratch/nn/linear.py`](../scratch/nn/linear.py) and the loss in
# [`scratch/nn/loss.py`](../scratch/nn/loss.py).

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.nn as snn
import scratch.optim
import scratch.two_layer as s2
import torch_impl.two_layer as t2
from notebooks import agree
from scratch.gradcheck import module_gradients
from torch_impl import copy_weights

# %% [markdown]
# ## The backward pass as the scratch twin writes it

# %%
print(inspect.getsource(s2.SimpleNN.backward))

# %% [markdown]
# ## Line by line, beside autograd
#
# The same weights in both twins (their `state_dict` keys are the same). torch keeps the
# gradient of every intermediate we ask for (`retain_grad`), so each line above can be checked
# on its own: $g$, then $\partial L/\partial W_2$, $\partial L/\partial h$,
# $\partial L/\partial a$, $\partial L/\partial W_1$, $\partial L/\partial x$.

# %%
rng = np.random.default_rng(0)
s = s2.SimpleNN(3, 5, 2, dtype=np.float64, generator=rng)
t = copy_weights(s, t2.SimpleNN(3, 5, 2, dtype=torch.float64))
x = rng.standard_normal((4, 3))
target = np.array([0, 1, 1, 0])

# torch: autograd, keeping the intermediates' gradients
x_t = torch.tensor(x, requires_grad=True)
a_t = t.fc1(x_t)
h_t = torch.relu(a_t)
out_t = t.fc2(h_t)
for v in (a_t, h_t, out_t):
    v.retain_grad()
torch.nn.functional.cross_entropy(out_t, torch.from_numpy(target)).backward()

# scratch: the forward, then each line of the backward written out with the saved tensors
criterion = snn.CrossEntropyLoss()
out = s(x)
loss = criterion(out, target)
g = criterion.backward()  # dL/d out = (softmax(out) - onehot(target)) / N
(x_saved,), (h,) = s.fc1.saved_tensors, s.fc2.saved_tensors
W1, W2 = s.fc1.weight.data, s.fc2.weight.data
grad_W2 = g.T @ h
grad_h = g @ W2
grad_a = grad_h * (h > 0)
grad_W1 = grad_a.T @ x_saved
grad_x = grad_a @ W1

agree("g = dL/d out", g, out_t.grad)
agree("dL/dW2 = g^T h", grad_W2, t.fc2.weight.grad)
agree("dL/db2 = sum_n g", g.sum(0), t.fc2.bias.grad)
agree("dL/dh = g W2", grad_h, h_t.grad)
agree("dL/da = dL/dh * [a > 0]", grad_a, a_t.grad)
agree("dL/dW1 = (dL/da)^T x", grad_W1, t.fc1.weight.grad)
agree("dL/dx = (dL/da) W1", grad_x, x_t.grad)

# and the model's own backward gives the same
model_grad_x = s.backward(g)
agree("SimpleNN.backward: dL/dx", model_grad_x, x_t.grad)
for name, p in s.named_parameters():
    agree(f"SimpleNN.backward: dL/d{name}", p.grad, dict(t.named_parameters())[name].grad)

# %% [markdown]
# ## A third oracle: finite differences
#
# Neither twin is trusted here: perturb every input and weight by $\pm h$ and difference the
# loss $L = \sum g \odot \text{out}$, whose gradient is exactly what `backward(g)` returns.

# %%
s.zero_grad()
s(x)
by_hand = {"input": s.backward(g)} | {n: p.grad for n, p in s.named_parameters()}
numeric = module_gradients(s, x, g)
for name in by_hand:
    # central differences in float64 with h = 1e-6: truncation ~h^2, rounding ~1e-16/h
    agree(
        f"{name}: by hand vs finite differences", by_hand[name], numeric[name], rtol=1e-7, atol=1e-9
    )

# %% [markdown]
# ## XOR, solved
#
# The problem the perceptron could not learn. Eight hidden ReLU units, cross-entropy, Adam,
# both twins from the same weights on the same batches: the losses agree step by step.

# %%
X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y_xor = np.array([0, 1, 1, 0])
s = s2.SimpleNN(2, 8, 2, dtype=np.float64, generator=np.random.default_rng(3))
t = copy_weights(s, t2.SimpleNN(2, 8, 2, dtype=torch.float64))
s_losses = s2.train(
    s,
    X_xor,
    y_xor,
    snn.CrossEntropyLoss(),
    scratch.optim.Adam(s.parameters(), lr=0.05),
    epochs=300,
    batch_size=4,
)
t_losses = t2.train(
    t,
    torch.tensor(X_xor),
    torch.tensor(y_xor),
    torch.nn.CrossEntropyLoss(),
    torch.optim.Adam(t.parameters(), lr=0.05),
    epochs=300,
    batch_size=4,
)
agree("XOR: 300 steps of losses", np.array(s_losses), np.array(t_losses))
agree("XOR: the trained fc1.weight", s.fc1.weight.data, t.fc1.weight)
predicted = s(X_xor).argmax(1)
print(
    f"loss {s_losses[0]:.3f} -> {s_losses[-1]:.5f}; predicts {predicted.tolist()} for "
    f"targets {y_xor.tolist()}"
)
assert predicted.tolist() == y_xor.tolist()

# %% [markdown]
# ## What the hidden units do
#
# Each hidden unit is a ReLU of a line in the input plane: it is zero on one side of
# $w_j \cdot x + b_j = 0$ (drawn) and grows on the other. The output adds them up, and the
# shading is the network's $P(y = 1)$: four corners, two classes, no single line, but a few
# bent planes do it. A unit bends only where its line runs between the points: one zero on all
# four is dead, one positive on all four is a plain linear term there. Here two units bend, and
# they learned *one* line, from its two sides: a ReLU each way, $\mathrm{relu}(z) +
# \mathrm{relu}(-z) = |z|$ with $z$ about $x + y - 1$, which is 0 on the class-1 corners and 1 on
# the others (checked below; the lines that miss the window are the units positive everywhere).

# %%
grid = np.linspace(-0.5, 1.5, 200)
gx, gy = np.meshgrid(grid, grid)
points = np.stack([gx.ravel(), gy.ravel()], 1)
logits = s(points)
p_one = np.exp(logits[:, 1]) / np.exp(logits).sum(1)
t_logits = t(torch.tensor(points))
agree("P(y=1) over the plane: scratch vs torch", logits, t_logits)
fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5))
shade = ax.contourf(gx, gy, p_one.reshape(gx.shape), levels=20, cmap="RdBu_r", vmin=0, vmax=1)
fig.colorbar(shade, ax=ax, label="P(y = 1)")
W1, b1, W2 = s.fc1.weight.data, s.fc1.bias.data, s.fc2.weight.data
drawn = 0
for j, (w, b) in enumerate(zip(W1, b1)):
    alive = (np.maximum(X_xor @ w + b, 0) > 0).any()  # not zero on all four points
    line = -(w[0] * grid + b) / w[1]
    if not ((line > -0.5) & (line < 1.5)).any():
        continue  # this unit's line passes outside the window
    drawn += 1
    ax.plot(
        grid,
        line,
        color=f"C{j}",
        ls="-" if alive else ":",
        lw=2.5 - 0.25 * drawn,
        label=f"unit {j}" + ("" if alive else " (zero on all four)"),
    )
ax.legend(fontsize=8, loc="upper right")
acts = np.maximum(X_xor @ W1.T + b1, 0)  # (4 points, 8 units)
bending = [j for j in range(len(W1)) if (acts[:, j] == 0).any() and (acts[:, j] > 0).any()]
(w_a, b_a), (w_b, b_b) = ((W1[j], b1[j]) for j in bending)
cosine = w_a @ w_b / np.linalg.norm(w_a) / np.linalg.norm(w_b)
offsets = b_a / np.linalg.norm(w_a), b_b / np.linalg.norm(w_b)
print(
    f"units that bend on the four points: {bending}; their directions' cosine {cosine:.3f}, "
    f"offsets {offsets[0]:.3f} and {offsets[1]:.3f} (one line, seen from its two sides)"
)
assert len(bending) == 2 and cosine < -0.99 and abs(offsets[0] + offsets[1]) < 0.05
ax.scatter(*X_xor.T, c=y_xor, cmap="RdBu_r", s=160, edgecolors="k", vmin=0, vmax=1, zorder=3)
ax.set_xlim(-0.5, 1.5)
ax.set_ylim(-0.5, 1.5)
ax.set_aspect("equal")
ax.set_title(
    f"P(y=1), and the {drawn} of {len(W1)} hidden units' lines w·x + b = 0 that cross it\n"
    "(a unit is 0 on one side of its line; later lines thinner, so overlaps show)",
    fontsize=9,
)
bx.semilogy(s_losses, lw=2.5, label="scratch (manual backprop)")
bx.semilogy(t_losses, "--", color="C3", label="torch (autograd)")
bx.set_xlabel("step (one batch of the four points)")
bx.set_ylabel("cross-entropy")
bx.set_title("the same loss, step by step", fontsize=10)
bx.legend()
fig.tight_layout()
plt.show()
