"""The two-layer network with manual backprop (docs/notes.md §3), by hand.
Twin: torch_impl/two_layer.py, where autograd derives the backward; here it is written out.

    x (N, in) --fc1--> a (N, hidden) --ReLU--> h (N, hidden) --fc2--> out (N, out)

The forward pass is the notes' `fc2(relu(fc1(x)))`. The backward pass is what autograd derives
for the torch twin and what the scratch twin writes out: the chain rule applied from the output
back, each gradient next to the derivative it comes from. Where this departs from the notes:
their docstring says the output is (batch_size, input_dim); it is (batch_size, output_dim).
"""

import numpy as np

from scratch import _validate, nn
from scratch._backend import array_module, sum_rows
from scratch._twins import training_settings
from scratch.nn import functional as F
from scratch.nn.parameter import accumulate_grad


class SimpleNN(nn.Module):
    """input (N, input_dim) or (input_dim,) -> (N, output_dim) or (output_dim,)

    fc1: weight (hidden_dim, input_dim), bias (hidden_dim,)
    fc2: weight (output_dim, hidden_dim), bias (output_dim,)
    """

    def __init__(self, input_dim, hidden_dim, output_dim, *, dtype=np.float32, generator=None):
        super().__init__()
        # input -> hidden
        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=dtype, generator=generator)
        # hidden -> output
        self.fc2 = nn.Linear(hidden_dim, output_dim, dtype=dtype, generator=generator)

    def forward(self, x):
        a = self.fc1(x)  # a = x W1^T + b1
        h = F.relu(a)  # h = max(a, 0)
        return self.fc2(h)  # out = h W2^T + b2

    def backward(self, grad_output, *, input_grad=True):
        """dL/d out (the output's shape) -> dL/dx; adds dL/dW1, dL/db1, dL/dW2, dL/db2 into .grad.

        input_grad=False skips dL/dx and returns None: the data needs no gradient (autograd skips
        it too), and it saves one matrix product.
        """
        # fc1 kept x, fc2 kept h: all the backward needs
        x, h, g = self._as_matrices(grad_output)  # (N, in), (N, hidden), g = dL/d out (N, out)
        W1, W2 = self.fc1.weight.data, self.fc2.weight.data

        # out = h W2^T + b2
        accumulate_grad(self.fc2.weight, g.T @ h)  # dL/dW2 = g^T h          (out, hidden)
        accumulate_grad(self.fc2.bias, sum_rows(g))  # dL/db2 = sum_n g        (out,)
        grad_h = g @ W2  # dL/dh = g W2                                         (N, hidden)

        # h = max(a, 0): dh/da = 1 where a > 0, exactly where h > 0 (0 at a == 0, as torch)
        grad_a = grad_h * (h > 0)

        # a = x W1^T + b1
        accumulate_grad(self.fc1.weight, grad_a.T @ x)  # dL/dW1 = grad_a^T x   (hidden, in)
        accumulate_grad(self.fc1.bias, sum_rows(grad_a))  # dL/db1 = sum_n grad_a  (hidden,)
        if not input_grad:
            return None
        grad_x = grad_a @ W1  # dL/dx = grad_a W1                               (N, in)
        return grad_x.reshape(self.fc1.saved_tensors[0].shape)

    def _as_matrices(self, grad_output):
        """What fc1 and fc2 kept (x and h) and grad_output, checked, with a missing batch
        dimension folded in: the chain rule above is written for (N, .) matrices."""
        (x,), (h,) = self.fc1.saved_tensors, self.fc2.saved_tensors
        g = self.grad_like(grad_output, h.shape[:-1] + (self.fc2.out_features,), h.dtype)
        return x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1]), g.reshape(-1, g.shape[-1])


def train(model, inputs, targets, criterion, optimizer, epochs=1, batch_size=32, seed=0):
    """Mini-batch training; returns the loss of every step, in order, as a list of floats.

    inputs (n, input_dim) · targets: what `criterion` takes for n samples. Each epoch visits the
    samples in the order np.random.default_rng(seed) permutes them (the other twin draws the
    same order), in batches of batch_size (the last may be smaller).
    """
    _check_data(inputs, targets)
    epochs, batch_size, n = training_settings(epochs, batch_size, inputs, targets)
    order = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        permutation = _on_device(order.permutation(n), inputs)
        for start in range(0, n, batch_size):
            batch = permutation[start : start + batch_size]
            optimizer.zero_grad()
            loss = criterion(model(inputs[batch]), targets[batch])
            model.backward(criterion.backward(), input_grad=False)  # dL/d out, back through the net
            optimizer.step()
            losses.append(float(loss))
    return losses


def save_weights(model, path):
    """Write model.state_dict() to an .npz file (plain arrays: loads with allow_pickle=False)."""
    np.savez(_validate.weights_path(path), **model.state_dict())


def load_weights(model, path):
    """Load an .npz written by either twin into `model` (checked: nothing changes on a mismatch)."""
    with np.load(_validate.weights_path(path), allow_pickle=False) as archive:
        model.load_state_dict({k: archive[k] for k in archive.files})


def _check_data(inputs, targets):
    _validate.array("train", "inputs", inputs)
    _validate.array("train", "targets", targets)


def _on_device(indices, data):
    """Indices drawn on the host, moved to the data's device."""
    return array_module(data).asarray(indices)
