"""The perceptron and its learning rule (docs/notes.md §2), by hand.
Twin: torch_impl/perceptron.py, where the weights live in an nn.Linear; here in a scratch Linear,
on NumPy or CuPy.

A perceptron computes z = x . w + b and outputs 1 if z >= threshold, else 0 (the notes'
"1 if z >= n"). It learns online, one sample at a time, in the order given:
    y_hat = step(x . w + b);   w <- w + lr * (y - y_hat) * x;   b <- b + lr * (y - y_hat)
so it changes nothing when it is right, and moves the boundary towards a misclassified point.
On data separable with margin gamma within radius R (bias folded into x), it makes at most
(R / gamma)^2 mistakes from zero weights (Novikoff, 1962), whatever the learning rate.

Where this departs from the notes, and why:
  - The notes' torch forward `torch.heaviside(z, torch.tensor([0.0]))` outputs 0 at exactly
    z == 0, against the notes' own rule (1 if z >= n), cannot take a threshold, and its `values`
    tensor lives on the CPU (a CUDA input fails); here the output is `z >= threshold`, 1 at the
    tie, in both twins.
  - The notes' train_perceptron stops after its first line; here it is the whole rule, returns
    the number of epochs it ran (the last being the first without a mistake) or None, and can
    record the mistakes made in each epoch.
"""

import numpy as np

from scratch import _validate
from scratch._backend import array_module, to_host
from scratch._twins import perceptron_settings, weights_overflowed
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
        # 1 at z == threshold too, as the notes define it
        return (z >= self.threshold).astype(z.dtype)

    @Module.no_backward  # it says why at once, before or after a forward
    def backward(self, grad_output, *, input_grad=True):
        raise NotImplementedError(
            "the step function's derivative is 0 wherever it exists, so a perceptron does not "
            "learn by "
            "backpropagation: use train_perceptron, the perceptron learning rule"
        )


@np.errstate(over="ignore", invalid="ignore")  # an overflow is reported after the epoch, in words
def train_perceptron(
    model, inputs, targets, learning_rate=0.01, epochs=10, *, mistakes_per_epoch=None
):
    """Apply the perceptron learning rule online, sample by sample, for up to `epochs` epochs.

    inputs (n, input_dim) · targets (n,) or (n, 1) of 0/1, arrays or array-likes; they are moved
    to the model's dtype and device.
    mistakes_per_epoch: pass a list to have it filled with the number of mistakes in each epoch.
    Returns the number of epochs run, the last being the first without a mistake; None if every
    one of the `epochs` epochs made a mistake. Bad input raises before anything changes.
    """
    learning_rate, epochs = perceptron_settings(
        model, Perceptron, learning_rate, epochs, mistakes_per_epoch
    )
    w, b = model.linear.weight.data, model.linear.bias.data  # (1, d), (1,): updated in place
    X, Y = _on_model(model, inputs, targets)
    saved = w.copy(), b.copy()

    for epoch in range(1, epochs + 1):
        mistakes = 0
        for x, y in zip(X, Y, strict=True):  # online: one sample at a time, in order
            z = w[0] @ x + b[0]
            y_hat = 1 if z >= model.threshold else 0
            if y != y_hat:  # the rule changes nothing when the prediction is right
                w[0] += learning_rate * (y - y_hat) * x
                b[0] += learning_rate * (y - y_hat)
                mistakes += 1
        if not (_finite(w) and _finite(b)):  # once inf or nan, it stays so
            w[...], b[...] = saved
            raise weights_overflowed(w.dtype, learning_rate)
        if mistakes_per_epoch is not None:
            mistakes_per_epoch.append(mistakes)
        if mistakes == 0:
            return epoch
    return None


def _on_model(model, inputs, targets):
    """inputs and targets checked on the host, then in the model's dtype and on its device."""
    w = model.linear.weight.data
    X, Y = _validate.binary_classification_data(
        to_host(inputs), to_host(targets), model.linear.in_features
    )
    with np.errstate(over="ignore"):  # an overflowing cast is reported just below, in words
        X, Y = X.astype(w.dtype), Y.astype(w.dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"inputs overflow the model's dtype {w.dtype}: scale them down")
    xp = array_module(w)
    return xp.asarray(X), xp.asarray(Y)


def _finite(a):
    return bool(array_module(a).isfinite(a).all())
