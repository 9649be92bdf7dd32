"""The two-layer network with manual backprop (docs/notes.md §3). Twin: `torch_impl/two_layer.py`.

    x (N, in) --fc1--> a (N, hidden) --ReLU--> h (N, hidden) --fc2--> out (N, out)

The forward pass is the notes' `fc2(relu(fc1(x)))`. The backward pass is what autograd does for
the torch twin, written out: the chain rule applied from the output back, each gradient next to
the derivative it comes from. Where this departs from the notes: their docstring says the output
is (batch_size, input_dim); it is (batch_size, output_dim).
"""
import numpy as np

from scratch import _validate
from scratch._backend import array_module
from scratch.nn import Linear, Module
from scratch.nn.parameter import accumulate_grad
from scratch.nn.activation import relu


class SimpleNN(Module):
    """input (N, input_dim) or (input_dim,) -> (N, output_dim) or (output_dim,)

    fc1: weight (hidden_dim, input_dim) · bias (hidden_dim,);  fc2: weight (output_dim, hidden_dim) · bias (output_dim,)
    """

    def __init__(self, input_dim, hidden_dim, output_dim, *, dtype=np.float32, generator=None):
        super().__init__()
        generator = np.random.default_rng() if generator is None else generator
        self.fc1 = Linear(input_dim, hidden_dim, dtype=dtype, generator=generator)  # input -> hidden
        self.fc2 = Linear(hidden_dim, output_dim, dtype=dtype, generator=generator)  # hidden -> output

    def forward(self, x):
        a = self.fc1(x)  # a = x W1^T + b1
        h = relu(a)  # h = max(a, 0)
        return self.fc2(h)  # out = h W2^T + b2   (fc1 keeps x, fc2 keeps h: all backward needs)

    def backward(self, grad_output, *, input_grad=True):
        """grad_output = dL/d out (the output's shape) -> dL/dx; adds dL/dW1, dL/db1, dL/dW2, dL/db2 into .grad

        input_grad=False skips dL/dx (and returns None): training needs no gradient for the data,
        and autograd skips it too, since the data does not require grad. It saves one matrix product.
        """
        (x,), (h,) = self.fc1.saved_tensors, self.fc2.saved_tensors
        grad_output = self.grad_like(grad_output, h.shape[:-1] + (self.fc2.out_features,), h.dtype)
        # fold a missing batch dimension in: every line below is written for (N, .) matrices
        x2, h2 = x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1])
        g = grad_output.reshape(-1, grad_output.shape[-1])  # dL/d out   (N, out)

        # out = h W2^T + b2
        accumulate_grad(self.fc2.weight, g.T @ h2)  # dL/dW2 = g^T h        (out, N) @ (N, hidden) -> (out, hidden)
        accumulate_grad(self.fc2.bias, g.sum(axis=0))  # dL/db2 = sum_n g   -> (out,)
        grad_h = g @ self.fc2.weight.data  # dL/dh = g W2            (N, out) @ (out, hidden) -> (N, hidden)

        # h = max(a, 0)
        grad_a = grad_h * (h2 > 0)  # dh/da = 1 where a > 0 (exactly where h > 0), else 0 (0 at a == 0, as torch)

        # a = x W1^T + b1
        accumulate_grad(self.fc1.weight, grad_a.T @ x2)  # dL/dW1 = grad_a^T x   (hidden, N) @ (N, in) -> (hidden, in)
        accumulate_grad(self.fc1.bias, grad_a.sum(axis=0))  # dL/db1 = sum_n grad_a   -> (hidden,)
        if not input_grad:
            return None
        grad_x = grad_a @ self.fc1.weight.data  # dL/dx = grad_a W1     (N, hidden) @ (hidden, in) -> (N, in)
        return grad_x.reshape(x.shape)


def train(model, inputs, targets, criterion, optimizer, epochs=1, batch_size=32, seed=0):
    """Mini-batch training; returns the loss of every step, in order, as a list of floats.

    model: a SimpleNN, or any scratch module with a backward (Sequential, Linear, ...).
    inputs (n, input_dim) · targets: what `criterion` takes for n samples. Each epoch visits the
    samples in the order np.random.default_rng(seed) permutes them — the torch twin draws the
    same order — in batches of batch_size (the last may be smaller).
    """
    epochs = _validate.integer("epochs", epochs, low=1)
    batch_size = _validate.integer("batch_size", batch_size, low=1)
    _validate.array("train", "inputs", inputs)
    _validate.array("train", "targets", targets)
    n = _validate.sample_count(inputs, targets)
    order = np.random.default_rng(seed)
    xp = array_module(inputs)
    losses = []
    for _ in range(epochs):
        permutation = xp.asarray(order.permutation(n))  # drawn on the host, then to the data's device
        for start in range(0, n, batch_size):
            batch = permutation[start:start + batch_size]
            optimizer.zero_grad()
            loss = criterion(model(inputs[batch]), targets[batch])
            model.backward(criterion.backward(), input_grad=False)  # dL/d out, back through the network; the data needs no dL/dx
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
