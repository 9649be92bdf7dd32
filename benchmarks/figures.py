"""Study figures: the twins drawn on top of each other, so a reader sees they agree.

study_gradient_descent.png  both twins' paths on the bowl's contours, three learning rates
study_perceptron.png        the boundary each twin learns on separable data, and mistakes per epoch
study_two_layer.png         both twins' loss curves (SGD with momentum, Adam) and their largest gap
"""

import numpy as np
import torch

import scratch.gradient_descent as sgd
import scratch.nn as snn
import scratch.optim
import scratch.perceptron as sp
import scratch.two_layer as s2
import torch_impl.gradient_descent as tgd
import torch_impl.perceptron as tp
import torch_impl.two_layer as t2
from torch_impl import copy_weights


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def gradient_descent_figure(out):
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    xs, ys = np.meshgrid(np.linspace(-3, 7, 200), np.linspace(-8, 2, 200))
    for ax, lr in zip(axes, (0.1, 0.45, 0.9)):
        ax.contour(xs, ys, (xs - 2) ** 2 + (ys + 3) ** 2, levels=15, cmap="Greys", linewidths=0.7)
        s_path, _ = sgd.gradient_descent(np.array([-2.0, 1.0]), lr, 25)
        t_path, _ = tgd.gradient_descent(torch.tensor([-2.0, 1.0], dtype=torch.float64), lr, 25)
        t_path = t_path.numpy()
        ax.plot(s_path[:, 0], s_path[:, 1], "-o", color="C0", ms=5, label="scratch (NumPy)")
        ax.plot(t_path[:, 0], t_path[:, 1], "x", color="C3", ms=7, label="torch (autograd + SGD)")
        ax.plot(*sgd.MINIMUM, "*", color="k", ms=12)
        ax.set_title(
            f"lr = {lr}: factor 1 - 2 lr = {1 - 2 * lr:+.1f} a step\nmax |scratch - torch| = "
            f"{np.abs(s_path - t_path).max():.1e}",
            fontsize=10,
        )
        ax.set_aspect("equal")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Gradient descent on (x-2)² + (y+3)²: the minimum is (2, -3)")
    return _save(fig, out / "study_gradient_descent.png")


def perceptron_figure(out):
    plt = _plt()
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (300, 2))
    y = (X @ np.array([1.0, -2.0]) + 0.3 > 0).astype(np.int64)
    margin = np.abs(X @ np.array([1.0, -2.0]) + 0.3) / np.sqrt(5)
    # a thin but positive margin: Novikoff promises convergence
    X, y = X[margin > 0.01], y[margin > 0.01]
    s = sp.Perceptron(2, dtype=np.float64, generator=np.random.default_rng(0))
    t = tp.Perceptron(2, dtype=torch.float64)
    copy_weights(s, t)
    s_mistakes, t_mistakes = [], []
    s_epochs = sp.train_perceptron(s, X, y, 0.1, 100, mistakes_per_epoch=s_mistakes)
    t_epochs = tp.train_perceptron(t, X, y, 0.1, 100, mistakes_per_epoch=t_mistakes)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6))
    ax.scatter(*X[y == 1].T, marker="+", color="C2", s=20, label="y = 1")
    ax.scatter(*X[y == 0].T, marker="_", color="C1", s=20, label="y = 0")
    grid = np.linspace(-1, 1, 2)
    for (w, b), style, name in (
        ((s.linear.weight.data[0], s.linear.bias.data[0]), "-", "scratch"),
        ((t.linear.weight.detach().numpy()[0], t.linear.bias.item()), "--", "torch"),
    ):
        ax.plot(
            grid,
            -(w[0] * grid + b) / w[1],
            style,
            color="k" if name == "scratch" else "C3",
            lw=2 if name == "scratch" else 1.5,
            label=f"{name}'s boundary  w.x + b = 0",
        )
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    # below: the points fill the square
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    ax.set_title(
        f"the boundary learned: converged after {s_epochs} (scratch) and {t_epochs} (torch) epochs",
        fontsize=10,
    )
    epochs = np.arange(1, len(s_mistakes) + 1)
    from matplotlib.ticker import MaxNLocator

    bx.bar(epochs - 0.2, s_mistakes, width=0.4, label="scratch")
    bx.bar(epochs + 0.2, t_mistakes, width=0.4, label="torch", color="C3")
    bx.set_xlabel("epoch")
    bx.set_xticks(epochs)
    bx.set_ylabel("mistakes (updates) in the epoch")
    bx.yaxis.set_major_locator(MaxNLocator(integer=True))  # mistakes are counted in whole numbers
    bx.set_title("mistakes per epoch: the last epoch is the first with none", fontsize=10)
    bx.legend(fontsize=8)
    return _save(fig, out / "study_perceptron.png")


def two_layer_figure(out):
    plt = _plt()
    rng = np.random.default_rng(2)
    X = rng.standard_normal((256, 2))
    Y = (np.sign(X[:, 0] * X[:, 1]) > 0).astype(np.int64)  # an XOR-like pattern: quadrants
    fig, axes = plt.subplots(
        2, 2, figsize=(12, 7), sharex="col", gridspec_kw={"height_ratios": [3, 1.3]}
    )
    for col, name in enumerate(("SGD (momentum 0.9)", "Adam")):
        s = s2.SimpleNN(2, 32, 2, dtype=np.float64, generator=np.random.default_rng(0))
        t = t2.SimpleNN(2, 32, 2, dtype=torch.float64)
        copy_weights(s, t)
        if col == 0:
            s_opt = scratch.optim.SGD(s.parameters(), lr=0.05, momentum=0.9)
            t_opt = torch.optim.SGD(t.parameters(), lr=0.05, momentum=0.9)
        else:
            s_opt, t_opt = (
                scratch.optim.Adam(s.parameters(), lr=0.01),
                torch.optim.Adam(t.parameters(), lr=0.01),
            )
        s_loss = np.array(
            s2.train(s, X, Y, snn.CrossEntropyLoss(), s_opt, epochs=40, batch_size=32, seed=0)
        )
        t_loss = np.array(
            t2.train(
                t,
                torch.from_numpy(X),
                torch.from_numpy(Y),
                torch.nn.CrossEntropyLoss(),
                t_opt,
                epochs=40,
                batch_size=32,
                seed=0,
            )
        )
        gap = np.abs(s_loss - t_loss)
        ax, bx = axes[0, col], axes[1, col]
        ax.plot(s_loss, color="C0", lw=2.5, label="scratch (manual backprop)")
        ax.plot(t_loss, "--", color="C3", lw=1.2, label="torch (autograd)")
        ax.set_title(f"{name}: {len(s_loss)} steps, cross-entropy on the quadrants", fontsize=10)
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        bx.semilogy(np.maximum(gap, 1e-18), color="k", lw=1)
        bx.set_ylabel("|scratch - torch|")
        bx.set_xlabel("step")
        bx.set_title(
            f"largest gap {gap.max():.1e} (float64 rounding; an exact 0 is drawn at 1e-18)",
            fontsize=9,
        )
    return _save(fig, out / "study_two_layer.png")


def write(out):
    return [gradient_descent_figure(out), perceptron_figure(out), two_layer_figure(out)]
