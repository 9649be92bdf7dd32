"""The perceptron and its learning rule, by hand (docs/notes.md §2). Twin: `torch_impl/perceptron.py`.

A perceptron computes z = x . w + b and outputs 1 if z >= threshold, else 0 (the notes'
"1 if z >= n"). It learns online, one sample at a time, in the order given:
    y_hat = step(x . w + b);   w <- w + lr * (y - y_hat) * x;   b <- b + lr * (y - y_hat)
so it changes nothing when it is right, and moves the boundary towards a misclassified point.
On data separable with margin gamma within radius R (bias folded into x), it makes at most
(R / gamma)^2 mistakes from zero weights (Novikoff, 1962), whatever the learning rate.

Where this departs from the notes, and why:
  - The notes' torch snippet `torch.heaviside(z, torch.tensor([0.0]))` outputs 0 at exactly
    z == 0, against the notes' own rule (1 if z >= n), and cannot take a threshold; here the
    output is `z >= threshold`, which is 1 at the tie, in both twins.
  - The notes' train_perceptron stops after its first line; here it is the whole rule, returns
    the number of epochs it ran (the last being the first without a mistake) or None, and can
    record the mistakes made in each epoch.
"""
import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn import Linear, Module


class Perceptron(Module):
    """input (batch, input_dim) -> (batch, 1) of 0/1.   linear: weight (1, input_dim) · bias (1,)"""

    def __init__(self, input_dim, threshold=0.0, *, dtype=np.float32, generator=None):
        super().__init__()
        _validate.integer("input_dim", input_dim, low=1)
        self.threshold = _validate.real_number("threshold", threshold)
        self.linear = Linear(input_dim, 1, dtype=dtype, generator=generator)  # z = x w^T + b

    def forward(self, x):
        z = self.linear(x)
        return (z >= self.threshold).astype(z.dtype)  # 1 at z == threshold too, as the notes define it

    def backward(self, grad_output, *, input_grad=True):
        raise NotImplementedError(
            "the step function's derivative is 0 wherever it exists, so a perceptron does not learn by "
            "backpropagation: use train_perceptron, the perceptron learning rule"
        )


def train_perceptron(model, inputs, targets, learning_rate=0.01, epochs=10, *, mistakes_per_epoch=None):
    """Apply the perceptron learning rule online, sample by sample, for up to `epochs` epochs.

    inputs (n, input_dim) · targets (n,) or (n, 1) of 0/1, NumPy or CuPy arrays or array-likes;
    they are moved to the model's dtype and device (a model moved with .to('cuda') trains on CuPy,
    one sample at a time: a GPU gains nothing on this loop, and the benchmarks show what it costs).
    mistakes_per_epoch: pass a list to have it filled with the number of mistakes in each epoch.
    Returns the number of epochs run, the last being the first without a mistake; None if every
    one of the `epochs` epochs made a mistake. Bad input raises before anything changes.
    """
    if not isinstance(model, Perceptron):
        raise TypeError(f"model must be a scratch Perceptron, got {type(model).__name__}")
    w, b = model.linear.weight.data, model.linear.bias.data  # (1, d), (1,): updated in place
    X, Y = _validate.binary_classification_data(_host(inputs), _host(targets), model.linear.in_features)
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    epochs = _validate.integer("epochs", epochs, low=1)
    if mistakes_per_epoch is not None and not isinstance(mistakes_per_epoch, list):
        raise TypeError(f"mistakes_per_epoch must be a list or None, got {type(mistakes_per_epoch).__name__}")
    with np.errstate(over="ignore"):  # an overflowing cast is reported just below, in words
        X, Y = X.astype(w.dtype), Y.astype(w.dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"inputs overflow the model's dtype {w.dtype}: scale them down")
    xp = array_module(w)
    X, Y = xp.asarray(X), xp.asarray(Y)  # to the model's device
    saved = w.copy(), b.copy()

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked after each epoch, in words
        for epoch in range(1, epochs + 1):
            mistakes = 0
            for x, y in zip(X, Y):  # online: one sample at a time, in order
                z = w[0] @ x + b[0]
                y_hat = 1 if z >= model.threshold else 0
                if y != y_hat:  # the rule changes nothing when the prediction is right
                    w[0] += learning_rate * (y - y_hat) * x
                    b[0] += learning_rate * (y - y_hat)
                    mistakes += 1
            if not (xp.isfinite(w).all() and xp.isfinite(b).all()):  # once inf or nan, it stays so
                w[...], b[...] = saved
                raise FloatingPointError(
                    f"the weights overflowed {w.dtype} during training (learning_rate={learning_rate}); "
                    "they were restored. Scale the inputs or lower the learning rate"
                )
            if mistakes_per_epoch is not None:
                mistakes_per_epoch.append(mistakes)
            if mistakes == 0:
                return epoch
    return None


def _host(x):
    """A CuPy array as a NumPy array for checking; anything else as it came."""
    return x.get() if array_module(x) is not np else x
