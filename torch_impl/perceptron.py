"""The perceptron and its learning rule with torch (docs/notes.md §2). Twin: `scratch/perceptron.py`.

The same model and rule; what changes is that the weights live in an nn.Linear and may live on a
GPU. The learning rule is not gradient descent, so training runs under torch.no_grad().

Where this departs from the notes' torch code, and why: the notes' forward returns
`torch.heaviside(z, torch.tensor([0.0]))`. That is 0 at exactly z == 0, against the notes' own
rule (1 if z >= n), it has no place for a threshold, and its `values` tensor lives on the CPU,
so a CUDA input fails. Here forward returns `(z >= threshold)`, 1 at the tie, on z's device.
"""
import torch
from torch import nn

from scratch import _validate


class Perceptron(nn.Module):
    """input (batch, input_dim) -> (batch, 1) of 0/1.   linear: weight (1, input_dim) · bias (1,)"""

    def __init__(self, input_dim, threshold=0.0, *, dtype=None, device=None):
        super().__init__()
        _validate.integer("input_dim", input_dim, low=1)
        self.threshold = _validate.real_number("threshold", threshold)
        self.linear = nn.Linear(input_dim, 1, dtype=dtype, device=device)  # z = x w^T + b

    def forward(self, x):
        z = self.linear(x)
        return (z >= self.threshold).to(z.dtype)  # 1 at z == threshold too, as the notes define it


def train_perceptron(model, inputs, targets, learning_rate=0.01, epochs=10, *, mistakes_per_epoch=None):
    """Apply the perceptron learning rule online, sample by sample, for up to `epochs` epochs.

    inputs (n, input_dim) · targets (n,) or (n, 1) of 0/1, tensors (any device) or array-likes;
    they are moved to the model's dtype and device.
    mistakes_per_epoch: pass a list to have it filled with the number of mistakes in each epoch.
    Returns the number of epochs run, the last being the first without a mistake; None if every
    one of the `epochs` epochs made a mistake. Bad input raises before anything changes.
    """
    if not isinstance(model, Perceptron):
        raise TypeError(f"model must be a torch_impl Perceptron, got {type(model).__name__}")
    w, b = model.linear.weight, model.linear.bias  # (1, d), (1,): updated in place
    X, Y = _validate.binary_classification_data(_host(inputs), _host(targets), model.linear.in_features)
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    epochs = _validate.integer("epochs", epochs, low=1)
    if mistakes_per_epoch is not None and not isinstance(mistakes_per_epoch, list):
        raise TypeError(f"mistakes_per_epoch must be a list or None, got {type(mistakes_per_epoch).__name__}")
    X = torch.from_numpy(X).to(dtype=w.dtype, device=w.device)
    Y = torch.from_numpy(Y).to(dtype=w.dtype, device=w.device)
    if not torch.isfinite(X).all():
        raise ValueError(f"inputs overflow the model's dtype {w.dtype}: scale them down")
    saved = w.detach().clone(), b.detach().clone()

    with torch.no_grad():
        for epoch in range(1, epochs + 1):
            mistakes = 0
            for x, y in zip(X, Y):  # online: one sample at a time, in order
                z = w[0] @ x + b[0]
                y_hat = 1 if z >= model.threshold else 0
                if y != y_hat:  # the rule changes nothing when the prediction is right
                    w[0] += learning_rate * (y - y_hat) * x
                    b[0] += learning_rate * (y - y_hat)
                    mistakes += 1
            if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
                w.copy_(saved[0])
                b.copy_(saved[1])
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
    """A tensor (any device) as a NumPy array for checking; anything else as it came."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
