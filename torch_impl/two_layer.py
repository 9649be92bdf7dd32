"""The two-layer network with manual backprop (docs/notes.md §3), with torch.
Twin: scratch/two_layer.py, where the backward is written out; here autograd derives it.

    x (N, in) --fc1--> a (N, hidden) --ReLU--> h (N, hidden) --fc2--> out (N, out)

The forward pass is the notes' `fc2(relu(fc1(x)))`. The backward pass is what autograd derives
for the torch twin and what the scratch twin writes out: the chain rule applied from the output
back, each gradient next to the derivative it comes from. Where this departs from the notes:
their docstring says the output is (batch_size, input_dim); it is (batch_size, output_dim).
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scratch import _validate
from scratch._twins import training_settings


class SimpleNN(nn.Module):
    """input (N, input_dim) or (input_dim,) -> (N, output_dim) or (output_dim,)

    fc1: weight (hidden_dim, input_dim), bias (hidden_dim,)
    fc2: weight (output_dim, hidden_dim), bias (output_dim,)
    """

    def __init__(self, input_dim, hidden_dim, output_dim, *, dtype=None, device=None):
        super().__init__()
        # input -> hidden
        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=dtype, device=device)
        # hidden -> output
        self.fc2 = nn.Linear(hidden_dim, output_dim, dtype=dtype, device=device)

    def forward(self, x):
        a = self.fc1(x)  # a = x W1^T + b1
        h = F.relu(a)  # h = max(a, 0)
        return self.fc2(h)  # out = h W2^T + b2


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
            loss.backward()  # autograd: dL/d every parameter
            optimizer.step()
            losses.append(loss.item())
    return losses


def save_weights(model, path):
    """Write model.state_dict() to an .npz file, the format both twins read (no pickle), or to a
    torch file (.pt, .pth: torch.save of the tensors, which this twin reads back; the scratch twin
    cannot, since it never imports torch)."""
    path = _validate.weights_path(path, torch_formats=True)
    if path.suffix == ".npz":
        np.savez(path, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    else:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)


def load_weights(model, path):
    """Load weights written by either twin: an .npz (allow_pickle=False) or a torch file
    (torch.load(weights_only=True): tensors only, no arbitrary code)."""
    path = _validate.weights_path(path, torch_formats=True)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            state = {k: torch.from_numpy(archive[k]) for k in archive.files}
    else:
        state = torch.load(path, weights_only=True, map_location="cpu")
    # torch's load_state_dict copies the tensors that fit before it reports those that do not;
    # check everything first (with the scratch twin's checker and words) so that a bad file changes
    # nothing.
    _validate.state_dict_fits(
        type(model).__name__,
        {k: tuple(v.shape) for k, v in model.state_dict().items()},
        {k: tuple(v.shape) for k, v in state.items()},
    )
    model.load_state_dict(state)


def _check_data(inputs, targets):
    _validate.tensor("train", "inputs", inputs)
    _validate.tensor("train", "targets", targets)


def _on_device(indices, data):
    """Indices drawn on the host, moved to the data's device."""
    return torch.from_numpy(indices).to(data.device)
