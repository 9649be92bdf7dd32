"""TransformerEncoderLayer: self-attention and a feed-forward block, each inside a residual
connection with a LayerNorm. The twin of torch.nn.TransformerEncoderLayer, with torch's submodule
names (self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2), so state dicts
copy across.

    sa(x) = dropout1(self_attn(x, x, x))       ff(x) = dropout2(linear2(dropout(act(linear1(x)))))

    norm_first=False (post-norm, the 2017 paper's):  x1 = norm1(x + sa(x));   y = norm2(x1 + ff(x1))
    norm_first=True  (pre-norm, GPT-2's):            x1 = x + sa(norm1(x));   y = x1 + ff(norm2(x1))

The backward runs the same lines in reverse; at each residual the gradient takes both paths and
adds (d(x + f(x))/dx = 1 + f'(x)), and self-attention's three inputs are one x, so its three
gradients add too.
"""

import numpy as np

from scratch import _validate
from scratch.nn.activation import GELU, ReLU, gelu, relu
from scratch.nn.attention import MultiheadAttention
from scratch.nn.dropout import Dropout
from scratch.nn.linear import Linear
from scratch.nn.module import Module
from scratch.nn.normalization import LayerNorm


class TransformerEncoderLayer(Module):
    """src (S, N, d_model) (batch_first: (N, S, d_model); unbatched (S, d_model)) -> the same.

    activation: "relu" or "gelu" (or scratch's F.relu / F.gelu, torch's default being F.relu), or a
    scratch Module with a backward (then registered as the submodule `activation`, as torch does).
    """

    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation=relu,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__()
        generator = _validate.generator(generator)
        kw = dict(dtype=dtype, generator=generator)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator=generator)
        self.dropout2 = Dropout(dropout, generator=generator)
        self.batch_first = bool(batch_first)
        # the activation's module, kept out of the registry (torch's activation is a function,
        # with no state_dict entry or repr line) unless the caller passed a module
        if activation in ("relu", relu):
            act = ReLU()
        elif activation in ("gelu", gelu):
            act = GELU()
        elif isinstance(activation, Module):
            act = self.activation = activation
        else:
            raise ValueError(
                f"activation should be relu/gelu, not {activation!r} (or a scratch Module with a "
                "backward)"
            )
        object.__setattr__(self, "_act", act)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _validate.array("TransformerEncoderLayer", "src", src)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        self.save_for_backward(x.shape, x.dtype)
        return x

    def backward(self, grad_output, *, input_grad=True):
        """dL/dy -> dL/dsrc; adds every parameter's gradient. The lines of forward, reversed."""
        shape, dtype = self.saved_tensors
        g = self.grad_like(grad_output, shape, dtype)
        if self.norm_first:
            # y = x1 + ff(norm2(x1))
            d_x1 = g + self.norm2.backward(self._ff_block_backward(g))
            # x1 = x + sa(norm1(x))
            d_x = d_x1 + self.norm1.backward(self._sa_block_backward(d_x1))
        else:
            # y = norm2(a), a = x1 + ff(x1)
            d_a = self.norm2.backward(g)
            d_x1 = d_a + self._ff_block_backward(d_a)
            # x1 = norm1(b), b = x + sa(x)
            d_b = self.norm1.backward(d_x1)
            d_x = d_b + self._sa_block_backward(d_b)
        return d_x if input_grad else None

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )
        return self.dropout1(out)

    def _sa_block_backward(self, g):
        d_query, d_key, d_value = self.self_attn.backward((self.dropout1.backward(g), None))
        return d_query + d_key + d_value  # one x was the query, the key and the value

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self._act(self.linear1(x)))))

    def _ff_block_backward(self, g):
        g = self.linear2.backward(self.dropout2.backward(g))
        return self.linear1.backward(self._act.backward(self.dropout.backward(g)))
