"""The models trained on real handwritten digits (8x8 images, 10 classes), from torch.nn.
Twin: scratch/models.py, with the same names, attributes and order, so weights copy across.

    MLP           x (N, 64)       fc1 -> ReLU -> fc2   (the notes' SimpleNN, docs/notes.md §3)
    ConvNet       x (N, 1, 8, 8)  conv1 -> bn1 -> ReLU -> pool -> conv2 -> ReLU -> flatten -> fc
    RowLSTM       x (N, 8, 8)     reads a digit row by row (an LSTM, or a GRU), fc on the last state
    LayerNormMLP  x (N, 64)       fc1 -> norm -> ReLU -> fc2

Each forward is its layers in order. The backward is the same layers in reverse, each turning
dL/d(its output) into dL/d(its input): the chain rule, one line a layer. The scratch twin writes
it; autograd derives it for the torch twin.
"""

from torch import nn

PIXELS, ROWS, CLASSES = 64, 8, 10


class MLP(nn.Module):
    """(N, 64) -> (N, 10) logits."""

    def __init__(self, hidden_dim=64, *, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.fc1 = nn.Linear(PIXELS, hidden_dim, **kw)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_dim, CLASSES, **kw)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class ConvNet(nn.Module):
    """(N, 1, 8, 8) -> (N, 10) logits: 8x8 -conv1(pad 1)-> 8x8 -pool-> 4x4 -conv2-> 2x2 -> 16 * 4
    features."""

    def __init__(self, channels=8, *, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, **kw)
        self.bn1 = nn.BatchNorm2d(channels, **kw)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, **kw)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2 * channels * 2 * 2, CLASSES, **kw)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(x))))
        return self.fc(self.flatten(self.relu2(self.conv2(x))))


class RowLSTM(nn.Module):
    """(N, 8, 8) -> (N, 10) logits: the 8 rows are a sequence of 8 steps of 8 pixels; cell 'LSTM' or
    'GRU'."""

    def __init__(self, hidden_size=64, cell="LSTM", *, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        if cell not in ("LSTM", "GRU"):
            raise ValueError(f"cell must be 'LSTM' or 'GRU', got {cell!r}")
        self.cell = cell
        self.rnn = (nn.LSTM if cell == "LSTM" else nn.GRU)(
            ROWS, hidden_size, batch_first=True, **kw
        )
        self.fc = nn.Linear(hidden_size, CLASSES, **kw)

    def forward(self, x):
        out, _ = self.rnn(x)  # (N, 8, hidden): the state after each row
        return self.fc(out[:, -1])  # the state after the last row


class LayerNormMLP(nn.Module):
    """(N, 64) -> (N, 10) logits, the hidden layer normalised per sample."""

    def __init__(self, hidden_dim=64, *, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.fc1 = nn.Linear(PIXELS, hidden_dim, **kw)
        self.norm = nn.LayerNorm(hidden_dim, **kw)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_dim, CLASSES, **kw)

    def forward(self, x):
        return self.fc2(self.relu(self.norm(self.fc1(x))))
