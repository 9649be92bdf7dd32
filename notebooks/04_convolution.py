# %% [markdown]
# # Chapter 4 — Convolution: windows, im2col, and filters learned on digits
#
# A 2-d convolution slides a $k \times k$ filter over the image; at each position it takes the
# dot product of the filter with the window under it (torch's "convolution" is, strictly, a
# cross-correlation: the filter is not flipped):
#
# $$y[n, o, i, j] = b_o + \sum_{c}\sum_{p,q} W[o, c, p, q]\; x[n, c,\ i s + p d,\ j s + q d].$$
#
# The scratch twin computes it in two moves. First a *view* of every window, made by giving the
# array new strides (no copy: `scratch/nn/_sliding.py`). Then **im2col**: each window is copied
# into one row of a matrix, so the whole convolution is one matrix product with the filters laid
# out as columns. The backward pass is two more products and the view's adjoint, which adds each
# window's gradient back where it was read.
#
# Files: [`scratch/nn/conv.py`](../scratch/nn/conv.py),
# [`scratch/nn/_sliding.py`](../scratch/nn/_sliding.py),
# [`scratch/nn/pooling.py`](../scratch/nn/pooling.py), the digits model in
# [`scratch/models.py`](../scratch/models.py) (twin: `torch.nn`,
# [`torch_impl/models.py`](../torch_impl/models.py)).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import scratch.nn as snn
import scratch.optim
import scratch.two_layer as s2
import torch_impl.two_layer as t2
from benchmarks import digits
from notebooks import agree
from scratch.nn import _sliding
from scratch.nn import functional as F
from scratch.nn.conv import conv
from torch_impl import copy_weights

# %% [markdown]
# ## The windows, drawn small
#
# A 5x5 image holding the numbers 0..24 (so every value names its pixel) and a 3x3 filter. The
# window view has shape (3, 3, 3, 3): 3x3 positions, each a 3x3 window, and it shares the
# image's memory.

# %%
image = np.arange(25.0).reshape(5, 5)
win = _sliding.windows(image, (3, 3), (1, 1), (1, 1))
print(
    f"windows: shape {win.shape}, strides {win.strides} (bytes), a view of the image: "
    f"{np.shares_memory(win, image)}"
)
print("the window at output position (1, 2):\n", win[1, 2])

weight = np.full((1, 1, 3, 3), 1 / 9)  # the mean of each window: y[1, 2] = 13
y, (columns,) = conv(image[None, None], weight, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
print(
    f"im2col: {columns.shape[0]} windows as rows of {columns.shape[1]} values; "
    f"y = columns @ w gives {y.shape}"
)
agree("im2col @ filter vs the conv", (columns @ weight.reshape(-1)).reshape(3, 3), y[0, 0])
agree(
    "F.conv2d: scratch vs torch",
    F.conv2d(image[None, None], weight),
    torch.nn.functional.conv2d(torch.tensor(image[None, None]), torch.tensor(weight)),
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), gridspec_kw={"width_ratios": [1, 1.6, 0.9]})
ax, bx, cx = axes
ax.imshow(image, cmap="Greys", vmin=-10, vmax=40)
for (i, j), v in np.ndenumerate(image):
    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=11)
ax.add_patch(plt.Rectangle((1.5, 0.5), 3, 3, fill=False, ec="C3", lw=3))
ax.set_title("the image; the window of output (1, 2)", fontsize=10)
bx.imshow(columns, cmap="Greys", vmin=-10, vmax=40, aspect="auto")
for (r, k), v in np.ndenumerate(columns):
    bx.text(
        k,
        r,
        f"{v:.0f}",
        ha="center",
        va="center",
        fontsize=9,
        color="C3" if r == 1 * 3 + 2 else "k",
    )
bx.set_yticks(range(9), [f"({r // 3},{r % 3})" for r in range(9)])
bx.set_xticks(range(9), [f"({k // 3},{k % 3})" for k in range(9)], fontsize=8)
bx.set_ylabel("output position")
bx.set_xlabel("offset in the window")
bx.set_title("im2col: one window a row (row (1,2) in red)", fontsize=10)
cx.imshow(y[0, 0], cmap="Greys", vmin=-10, vmax=40)
for (i, j), v in np.ndenumerate(y[0, 0]):
    cx.text(
        j,
        i,
        f"{v:.0f}",
        ha="center",
        va="center",
        fontsize=11,
        color="C3" if (i, j) == (1, 2) else "k",
    )
cx.set_title("y = columns @ w, w = 1/9 each:\nevery output the mean of its window", fontsize=10)
for a in (ax, cx):
    a.set_xticks([])
    a.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Backward: the adjoint of the window view
#
# Overlapping windows read some pixels several times, so the input's gradient adds up every
# window's share: with an upstream gradient of ones and a filter of ones, each pixel's gradient
# counts the windows that read it (the corners 1, the centre 9).

# %%
x = torch.tensor(image[None, None], requires_grad=True)
ones = np.ones((1, 1, 3, 3))
torch.nn.functional.conv2d(x, torch.tensor(ones)).backward(torch.ones(1, 1, 3, 3))
layer = snn.Conv2d(1, 1, 3, bias=False, dtype=np.float64)
layer.weight.data[...] = 1.0
layer(image[None, None])
counts = layer.backward(np.ones((1, 1, 3, 3)))
print(counts[0, 0])
agree("dL/dx: scratch vs torch", counts, x.grad)

# %% [markdown]
# ## Filters learned on the digits
#
# scikit-learn ships 1,797 8x8 handwritten digits. The project's small ConvNet (conv 3x3 with 8
# filters, batch norm, ReLU, max-pool, conv 3x3 with 16, a linear layer) trains in both twins
# from the same weights, on the same batches, in float64: the losses agree step by step, and so
# do the eight 3x3 filters it learns.

# %%
X_train, y_train, X_test, y_test = digits.load(dtype=np.float64)
s = digits.build("ConvNet", "scratch", np.float64)
t = copy_weights(s, digits.build("ConvNet", "torch", np.float64))
start_filters = s.conv1.weight.data.copy()
images, test_images = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
s_losses = s2.train(
    s,
    images,
    y_train,
    snn.CrossEntropyLoss(),
    scratch.optim.Adam(s.parameters(), lr=1e-2),
    epochs=4,
    batch_size=32,
)
t_losses = t2.train(
    t,
    torch.tensor(images),
    torch.tensor(y_train),
    torch.nn.CrossEntropyLoss(),
    torch.optim.Adam(t.parameters(), lr=1e-2),
    epochs=4,
    batch_size=32,
)
# 172 Adam steps in float64: the twins' rounding differs by ulps a step, Adam's division by
# sqrt(v) can grow it, and it stays far below the 1e-10 default; a wrong term is off by 1e-3+
agree(f"{len(s_losses)} steps of losses", np.array(s_losses), np.array(t_losses))
agree("the learned conv1 filters", s.conv1.weight.data, t.conv1.weight)

# %% [markdown]
# The ConvNet's conv1 has no bias, and why is worth seeing. A bias before batch norm is wasted:
# batch norm subtracts each channel's batch mean, so a constant added to a channel changes nothing
# downstream, and the bias's gradient is exactly zero. What each twin computes for it is rounding
# noise (~1e-17). Adam divides the gradient's running mean by $\sqrt{v} + \epsilon$ with
# $\epsilon = 10^{-8}$, so it turns that noise into steps of about
# $\eta \cdot 10^{-17} / 10^{-8} \approx 10^{-11}$, a different random walk in each twin, which
# the running mean carries into eval mode (with the bias, one float32 test prediction of 450
# differed between the twins). ResNet passes `bias=False` there; so does this model. Here is the
# noise, on a convolution that keeps its bias:

# %%
conv_s = snn.Conv2d(1, 8, 3, padding=1, dtype=np.float64, generator=np.random.default_rng(0))
bn_s = snn.BatchNorm2d(8, dtype=np.float64)
conv_t = copy_weights(conv_s, torch.nn.Conv2d(1, 8, 3, padding=1, dtype=torch.float64))
bn_t = torch.nn.BatchNorm2d(8, dtype=torch.float64)
g_out = np.random.default_rng(0).standard_normal((32, 8, 8, 8))
bn_s(conv_s(images[:32]))
conv_s.backward(bn_s.backward(g_out))
bn_t(conv_t(torch.tensor(images[:32]))).backward(torch.tensor(g_out))
noise = [np.abs(conv_s.bias.grad).max(), conv_t.bias.grad.abs().max().item()]
scale = np.abs(conv_s.weight.grad).max()
print(
    f"a bias before batch norm: its gradient is scratch {noise[0]:.1e}, torch {noise[1]:.1e}; "
    f"the weight's is ~{scale:.0e}"
)
assert max(noise) < 1e-12 * scale  # zero, to rounding

# %%
s.eval()
t.eval()
accuracy = digits.accuracy(s(test_images), y_test)
agree("test logits (eval mode)", s(test_images), t(torch.tensor(test_images)))
print(f"test accuracy after 4 epochs: {accuracy:.3f} (both twins)")
assert accuracy > 0.9

# %%
fig, axes = plt.subplots(4, 9, figsize=(13, 6.4))
for a in axes.ravel():
    a.set_xticks([])
    a.set_yticks([])
rows = (
    (start_filters, "start"),
    (s.conv1.weight.data, "scratch"),
    (t.conv1.weight.detach().numpy(), "torch"),
)
for row, (filters, name) in enumerate(rows):
    for k in range(8):
        f = filters[k, 0]
        axes[row, k].imshow(f, cmap="coolwarm", vmin=-np.abs(f).max(), vmax=np.abs(f).max())
    axes[row, 0].set_ylabel(name)
    axes[row, 8].axis("off")
# what the trained network's first layer sees in a test digit: relu(bn1(conv1(x))), eval mode
maps = s.relu1(s.bn1(s.conv1(test_images[:1])))[0]
for k in range(8):
    axes[3, k].imshow(maps[k], cmap="Greys")
axes[3, 0].set_ylabel("its map")
axes[3, 8].imshow(test_images[0, 0], cmap="Greys")
axes[3, 8].set_title(f"a test {y_test[0]}", fontsize=9)
fig.suptitle(
    "conv1's eight 3x3 filters (red +, blue -): at the start (torch's default init), "
    "after 4 epochs in each twin,\nand each trained filter's map of a test digit "
    "(after batch norm and ReLU)"
)
fig.tight_layout()
plt.show()
