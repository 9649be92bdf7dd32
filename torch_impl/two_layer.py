"""The two-layer network with torch (notes §3). Twin: `scratch/two_layer.py`.

    x (N, in) --fc1--> a (N, hidden) --ReLU--> h (N, hidden) --fc2--> out (N, out)

The notes' model, unchanged but for its docstring (the output is (batch_size, output_dim), not
input_dim). There is no backward method: autograd derives the one the scratch twin writes out.
"""
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scratch import _validate


class SimpleNN(nn.Module):
    """input (N, input_dim) or (input_dim,) -> (N, output_dim) or (output_dim,)

    fc1: weight (hidden_dim, input_dim) · bias (hidden_dim,);  fc2: weight (output_dim, hidden_dim) · bias (output_dim,)
    """

    def __init__(self, input_dim, hidden_dim, output_dim, *, dtype=None, device=None):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=dtype, device=device)  # input -> hidden
        self.fc2 = nn.Linear(hidden_dim, output_dim, dtype=dtype, device=device)  # hidden -> output

    def forward(self, x):
        a = self.fc1(x)  # a = x W1^T + b1
        h = F.relu(a)  # h = max(a, 0)
        return self.fc2(h)  # out = h W2^T + b2


def train(model, inputs, targets, criterion, optimizer, epochs=1, batch_size=32, seed=0):
    """Mini-batch training; returns the loss of every step, in order, as a list of floats.

    inputs (n, input_dim) · targets: what `criterion` takes for n samples. Each epoch visits the
    samples in the order np.random.default_rng(seed) permutes them — the scratch twin draws the
    same order — in batches of batch_size (the last may be smaller).
    """
    epochs = _validate.integer("epochs", epochs, low=1)
    batch_size = _validate.integer("batch_size", batch_size, low=1)
    n = _validate.sample_count(inputs, targets)
    order = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        permutation = torch.from_numpy(order.permutation(n)).to(inputs.device)
        for start in range(0, n, batch_size):
            batch = permutation[start:start + batch_size]
            optimizer.zero_grad()
            loss = criterion(model(inputs[batch]), targets[batch])
            loss.backward()  # autograd: dL/d every parameter
            optimizer.step()
            losses.append(loss.item())
    return losses


def save_weights(model, path):
    """Write model.state_dict() to an .npz file, the format both twins read (no pickle)."""
    np.savez(_validate.npz_path(path), **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})


def load_weights(model, path):
    """Load weights written by either twin: an .npz (allow_pickle=False) or a torch file
    (torch.load(weights_only=True): tensors only, no arbitrary code)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            state = {k: torch.from_numpy(archive[k]) for k in archive.files}
    else:
        state = torch.load(path, weights_only=True, map_location="cpu")
    # torch's load_state_dict copies the tensors that fit before it reports those that do not;
    # check everything first so that a bad file changes nothing, as the scratch twin promises.
    current = model.state_dict()
    if set(state) != set(current):
        raise KeyError(f"missing keys {sorted(set(current) - set(state))}, unexpected keys {sorted(set(state) - set(current))}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(current[key].shape):
            raise ValueError(f"size mismatch for {key}: {tuple(value.shape)} in the file, {tuple(current[key].shape)} in the model")
    model.load_state_dict(state)
