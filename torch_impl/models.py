"""The models this project trains, from torch.nn: four on real handwritten digits (8x8 images, 10
classes), and a GPT on Python's own manual, with `generate` to sample from it.
Twin: scratch/models.py, with the same names, attributes and order, so weights copy across.

    MLP           x (N, 64)       fc1 -> ReLU -> fc2   (the notes' SimpleNN, docs/notes.md §3)
    ConvNet       x (N, 1, 8, 8)  conv1 -> bn1 -> ReLU -> pool -> conv2 -> ReLU -> flatten -> fc
    RowLSTM       x (N, 8, 8)     reads a digit row by row (an LSTM, or a GRU), fc on the last state
    LayerNormMLP  x (N, 64)       fc1 -> norm -> ReLU -> fc2
    GPT           idx (B, T)      token + position embeddings -> causal blocks -> ln_f -> head
    generate      idx (B, T) -> (B, T + max_new_tokens), one sampled token at a time

Each forward is its layers in order. The backward is the same layers in reverse, each turning
dL/d(its output) into dL/d(its input): the chain rule, one line a layer. The scratch twin writes
it; autograd derives it for the torch twin.
"""

import torch
from torch import nn

from scratch._twins import check_token_ids, decay_groups, generation_settings, sample_next

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
    features.

    conv1 has no bias, as a convolution before batch norm has none in ResNet: batch norm subtracts
    each channel's mean, so a bias there changes nothing downstream and its gradient is exactly 0.
    Each twin computes rounding noise for it (~1e-17), and Adam, dividing by sqrt(v) + eps, turns
    the noise into a random walk that differs between the twins (one float32 test prediction of
    450 differed); without the bias the twins' predictions agree."""

    def __init__(self, channels=8, *, dtype=None, device=None):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False, **kw)  # none before BN
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


class GPT(nn.Module):
    """A character-level GPT: idx (B, T) integer token ids, T <= block_size -> logits (B, T, V).

        x = tok_emb(idx) + pos_emb(0..T-1)                       (B, T, C), C = n_embd
        x = block(x) for each of n_layer pre-norm causal blocks   (attention, then a 4C GELU MLP)
        logits = head(ln_f(x)),  head.weight IS tok_emb.weight    (weight tying)

    The blocks are TransformerEncoderLayers (norm_first, causal mask, GELU in its tanh form, as
    GPT-2's; NumPy has no fast erf). Weight tying: the output projection reuses the token
    embedding's (V, C) matrix, saving V x C parameters; one Parameter registered under two names,
    listed once by parameters(), so the optimizer steps it once. Its gradient is the sum of both
    uses: autograd adds the head's and the embedding's into the same .grad.
    The embeddings start at N(0, 0.02^2), as GPT-2's: from torch's default N(0, 1) the tied
    head's first logits would be ~8 wide and the first loss ~40 nats, far above the ln(V) of a
    uniform guess. Each block's two residual projections (attention's out_proj, the MLP's linear2)
    start at N(0, (0.02 / sqrt(2 n_layer))^2), as GPT-2's: the residual stream adds 2 n_layer of
    them, and the scale keeps its variance from growing with depth. `param_groups` gives AdamW its
    groups as nanoGPT does: weight decay on the matrices, none on biases and layer norm gains.
    """

    def __init__(
        self,
        vocab_size,
        block_size,
        n_layer,
        n_head,
        n_embd,
        dropout=0.0,
        *,
        dtype=None,
        device=None,
    ):
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.block_size, self.vocab_size = block_size, vocab_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd, **kw)
        self.pos_emb = nn.Embedding(block_size, n_embd, **kw)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(
            *(
                nn.TransformerEncoderLayer(
                    n_embd,
                    n_head,
                    4 * n_embd,
                    dropout,
                    activation=nn.GELU("tanh"),
                    batch_first=True,
                    norm_first=True,
                    **kw,
                )
                for _ in range(n_layer)
            )
        )
        self.ln_f = nn.LayerNorm(n_embd, **kw)
        self.head = nn.Linear(n_embd, vocab_size, bias=False, **kw)
        self.head.weight = self.tok_emb.weight  # tied: one matrix, two uses
        # GPT-2's init (the docstring says why)
        residual = [m for block in self.blocks for m in (block.self_attn.out_proj, block.linear2)]
        stds = [(self.tok_emb, 0.02), (self.pos_emb, 0.02)]
        stds += [(m, 0.02 * (2 * n_layer) ** -0.5) for m in residual]
        for module, std in stds:
            nn.init.normal_(module.weight, 0.0, std)

    def param_groups(self, weight_decay):
        """AdamW's param groups: weight_decay on every matrix (the embeddings, the projections),
        none on the vectors (biases, layer norm gains and shifts), which decay would only pull to 0.
        """
        return decay_groups(self.parameters(), weight_decay)

    def forward(self, idx):
        check_token_ids(idx.detach().cpu().numpy(), self.vocab_size, self.block_size)
        T = idx.shape[1]
        # MultiheadAttention's sense: True masks a key out (F.scaled_dot_product_attention's bool
        # masks mean the opposite, True = may attend; scratch/nn/attention.py's docstring)
        causal = torch.triu(torch.ones((T, T), dtype=torch.bool, device=idx.device), 1)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device)))
        for block in self.blocks:
            x = block(x, src_mask=causal, is_causal=True)
        return self.head(self.ln_f(x))


@torch.no_grad()
def generate(model, idx, max_new_tokens, *, temperature=1.0, top_k=None, generator=None):
    """idx (B, T) -> (B, T + max_new_tokens): each next token sampled from the model's last
    logits, the context cropped to block_size (scratch._twins.sample_next draws it; temperature
    0 is greedy)."""
    max_new_tokens, temperature, top_k, generator = generation_settings(
        idx.shape, max_new_tokens, temperature, top_k, generator
    )
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.block_size :])[:, -1]
        next_id = sample_next(logits.cpu().numpy(), temperature, top_k, generator)
        idx = torch.cat([idx, torch.from_numpy(next_id).to(idx.device)[:, None]], 1)
    return idx
