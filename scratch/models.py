"""The models this project trains, from scratch.nn: four on real handwritten digits (8x8 images, 10
classes), and a GPT on Python's own manual, with `generate` to sample from it.
Twin: torch_impl/models.py, with the same names, attributes and order, so weights copy across.

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

import numpy as np

from scratch import _validate, nn
from scratch._backend import array_module, sum_rows, to_host
from scratch._twins import check_token_ids, decay_groups, generation_settings, sample_next

PIXELS, ROWS, CLASSES = 64, 8, 10


class MLP(nn.Module):
    """(N, 64) -> (N, 10) logits."""

    def __init__(self, hidden_dim=64, *, dtype=np.float32, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.fc1 = nn.Linear(PIXELS, hidden_dim, **kw)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_dim, CLASSES, **kw)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))

    def backward(self, grad_output, *, input_grad=True):
        g = self.fc2.backward(grad_output)
        g = self.relu.backward(g)
        return self.fc1.backward(g, input_grad=input_grad)


class ConvNet(nn.Module):
    """(N, 1, 8, 8) -> (N, 10) logits: 8x8 -conv1(pad 1)-> 8x8 -pool-> 4x4 -conv2-> 2x2 -> 16 * 4
    features.

    conv1 has no bias, as a convolution before batch norm has none in ResNet: batch norm subtracts
    each channel's mean, so a bias there changes nothing downstream and its gradient is exactly 0.
    Each twin computes rounding noise for it (~1e-17), and Adam, dividing by sqrt(v) + eps, turns
    the noise into a random walk that differs between the twins (one float32 test prediction of
    450 differed); without the bias the twins' predictions agree."""

    def __init__(self, channels=8, *, dtype=np.float32, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False, **kw)  # none before BN
        self.bn1 = nn.BatchNorm2d(channels, dtype=dtype)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, **kw)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2 * channels * 2 * 2, CLASSES, **kw)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(x))))
        return self.fc(self.flatten(self.relu2(self.conv2(x))))

    def backward(self, grad_output, *, input_grad=True):
        g = self.flatten.backward(self.fc.backward(grad_output))
        g = self.conv2.backward(self.relu2.backward(g))
        g = self.bn1.backward(self.relu1.backward(self.pool.backward(g)))
        return self.conv1.backward(g, input_grad=input_grad)


class RowLSTM(nn.Module):
    """(N, 8, 8) -> (N, 10) logits: the 8 rows are a sequence of 8 steps of 8 pixels; cell 'LSTM' or
    'GRU'."""

    def __init__(self, hidden_size=64, cell="LSTM", *, dtype=np.float32, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        if cell not in ("LSTM", "GRU"):
            raise ValueError(f"cell must be 'LSTM' or 'GRU', got {cell!r}")
        self.cell = cell
        self.rnn = (nn.LSTM if cell == "LSTM" else nn.GRU)(
            ROWS, hidden_size, batch_first=True, **kw
        )
        self.fc = nn.Linear(hidden_size, CLASSES, **kw)

    def forward(self, x):
        out, _ = self.rnn(x)  # (N, 8, hidden): the state after each row
        self.save_for_backward(out.shape, out.dtype)
        return self.fc(out[:, -1])  # the state after the last row

    def backward(self, grad_output, *, input_grad=True):
        out_shape, dtype = self.saved_tensors
        grad_out = array_module(grad_output).zeros(out_shape, dtype=dtype)
        # only the last step's output reached the loss
        grad_out[:, -1] = self.fc.backward(grad_output)
        return self.rnn.backward((grad_out, None), input_grad=input_grad)[0]


class LayerNormMLP(nn.Module):
    """(N, 64) -> (N, 10) logits, the hidden layer normalised per sample."""

    def __init__(self, hidden_dim=64, *, dtype=np.float32, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.fc1 = nn.Linear(PIXELS, hidden_dim, **kw)
        self.norm = nn.LayerNorm(hidden_dim, dtype=dtype)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_dim, CLASSES, **kw)

    def forward(self, x):
        return self.fc2(self.relu(self.norm(self.fc1(x))))

    def backward(self, grad_output, *, input_grad=True):
        g = self.relu.backward(self.fc2.backward(grad_output))
        return self.fc1.backward(self.norm.backward(g), input_grad=input_grad)


class GPT(nn.Module):
    """A character-level GPT: idx (B, T) integer token ids, T <= block_size -> logits (B, T, V).

        x = tok_emb(idx) + pos_emb(0..T-1)                       (B, T, C), C = n_embd
        x = block(x) for each of n_layer pre-norm causal blocks   (attention, then a 4C GELU MLP)
        logits = head(ln_f(x)),  head.weight IS tok_emb.weight    (weight tying)

    The blocks are TransformerEncoderLayers (norm_first, causal mask, GELU in its tanh form, as
    GPT-2's; NumPy has no fast erf). Weight tying: the output projection reuses the token
    embedding's (V, C) matrix, saving V x C parameters; one Parameter registered under two names,
    listed once by parameters(), so the optimizer steps it once. Its gradient is the sum of both
    uses: the head's backward and the embedding's both add into the same .grad.
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
        dtype=np.float32,
        generator=None,
    ):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.block_size, self.vocab_size = block_size, vocab_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd, **kw)
        self.pos_emb = nn.Embedding(block_size, n_embd, **kw)
        self.drop = nn.Dropout(dropout, generator=generator)
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
        self.ln_f = nn.LayerNorm(n_embd, dtype=dtype)
        self.head = nn.Linear(n_embd, vocab_size, bias=False, **kw)
        self.head.weight = self.tok_emb.weight  # tied: one matrix, two uses
        # GPT-2's init (the docstring says why)
        residual = [m for block in self.blocks for m in (block.self_attn.out_proj, block.linear2)]
        stds = [(self.tok_emb, 0.02), (self.pos_emb, 0.02)]
        stds += [(m, 0.02 * (2 * n_layer) ** -0.5) for m in residual]
        for module, std in stds:
            nn.init.normal_(module.weight.data, 0.0, std, generator)

    def param_groups(self, weight_decay):
        """AdamW's param groups: weight_decay on every matrix (the embeddings, the projections),
        none on the vectors (biases, layer norm gains and shifts), which decay would only pull to 0.
        """
        return decay_groups(self.parameters(), weight_decay)

    def forward(self, idx):
        check_token_ids(_validate.array("GPT", "idx", idx), self.vocab_size, self.block_size)
        T = idx.shape[1]
        xp = array_module(idx)
        # MultiheadAttention's sense: True masks a key out (F.scaled_dot_product_attention's bool
        # masks mean the opposite, True = may attend; scratch/nn/attention.py's docstring)
        causal = xp.triu(xp.ones((T, T), dtype=bool), 1)  # True masks out: no looking ahead
        x = self.drop(self.tok_emb(idx) + self.pos_emb(xp.arange(T)))
        for block in self.blocks:
            x = block(x, src_mask=causal, is_causal=True)
        return self.head(self.ln_f(x))

    def backward(self, grad_output, *, input_grad=True):
        """dL/dlogits (B, T, V) -> None (token ids have no gradient); adds every parameter's
        gradient, the tied matrix's from both of its uses."""
        # the tied matrix W (V, C) has two uses, logits = h W^T and x = W[idx] + ..., so
        #   dL/dW = g^T h  (the head's, (V, B*T) @ (B*T, C))  +  scatter of dx into W's rows at idx
        # each backward adds its share into the one .grad
        g = self.ln_f.backward(self.head.backward(grad_output))  # head: dW adds into tok_emb's
        for block in reversed(list(self.blocks)):
            g = block.backward(g)
        g = self.drop.backward(g)
        self.tok_emb.backward(g)  # the embedding's use adds to the same .grad
        # every sequence used positions 0..T-1: their gradients summed over the batch
        self.pos_emb.backward(sum_rows(g.reshape(g.shape[0], -1)).reshape(g.shape[1:]))
        return None


def generate(model, idx, max_new_tokens, *, temperature=1.0, top_k=None, generator=None):
    """idx (B, T) -> (B, T + max_new_tokens): each next token sampled from the model's last
    logits, the context cropped to block_size (scratch._twins.sample_next draws it; temperature
    0 is greedy)."""
    max_new_tokens, temperature, top_k, generator = generation_settings(
        idx.shape, max_new_tokens, temperature, top_k, generator
    )
    xp = array_module(idx)
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.block_size :])[:, -1]
        next_id = sample_next(to_host(logits), temperature, top_k, generator)
        idx = xp.concatenate([idx, xp.asarray(next_id)[:, None]], 1)
    return idx
