"""The perceptron and its learning rule (docs/notes.md §2), with torch.
Twin: scratch/perceptron.py, where the weights live in a scratch Linear; here in an nn.Linear, on
any device.

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

import torch
from torch import nn

from scratch import _validate
from scratch._twins import perceptron_settings, weights_overflowed


class Perceptron(nn.Module):
    """input (batch, input_dim) -> (batch, 1) of 0/1.   linear: weight (1, input_dim) · bias (1,)"""

    def __init__(self, input_dim, threshold=0.0, *, dtype=None, device=None):
        super().__init__()
        _validate.integer("input_dim", input_dim, low=1)
        self.threshold = _validate.real_number("threshold", threshold)
        self.linear = nn.Linear(input_dim, 1, dtype=dtype, device=device)  # z = x w^T + b

    def forward(self, x):
        z = self.linear(x)
        # 1 at z == threshold too, as the notes define it
        return (z >= self.threshold).to(z.dtype)


@torch.no_grad()  # the rule is not gradient descent: autograd records nothing
def train_perceptron(
    model, inputs, targets, learning_rate=0.01, epochs=10, *, mistakes_per_epoch=None
):
    """Apply the perceptron learning rule online, sample by sample, for up to `epochs` epochs.

    inputs (n, input_dim) · targets (n,) or (n, 1) of 0/1, tensors or array-likes; they are moved
    to the model's dtype and device.
    mistakes_per_epoch: pass a list to have it filled with the number of mistakes in each epoch.
    Returns the number of epochs run, the last being the first without a mistake; None if every
    one of the `epochs` epochs made a mistake. Bad input raises before anything changes.
    """
    learning_rate, epochs = perceptron_settings(
        model, Perceptron, learning_rate, epochs, mistakes_per_epoch
    )
    w, b = model.linear.weight, model.linear.bias  # (1, d), (1,): updated in place
    X, Y = _on_model(model, inputs, targets)
    saved = w.detach().clone(), b.detach().clone()

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
            w.copy_(saved[0]), b.copy_(saved[1])
            raise weights_overflowed(w.dtype, learning_rate)
        if mistakes_per_epoch is not None:
            mistakes_per_epoch.append(mistakes)
        if mistakes == 0:
            return epoch
    return None


def _on_model(model, inputs, targets):
    """inputs and targets checked on the host, then in the model's dtype and on its device."""
    w = model.linear.weight
    X, Y = _validate.binary_classification_data(
        _host(inputs), _host(targets), model.linear.in_features
    )
    X = torch.from_numpy(X).to(dtype=w.dtype, device=w.device)
    if not torch.isfinite(X).all():
        raise ValueError(f"inputs overflow the model's dtype {w.dtype}: scale them down")
    return X, torch.from_numpy(Y).to(dtype=w.dtype, device=w.device)


def _finite(a):
    return bool(torch.isfinite(a).all())


def _host(x):
    """A tensor (any device) as a NumPy array for checking; anything else as it came."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
