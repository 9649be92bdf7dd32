"""Attention, the backward by hand: F.scaled_dot_product_attention and MultiheadAttention.
Twins of torch's: the same signatures, masks, parameters, state_dict and init.

Scaled dot-product attention, each backward line under the forward line it inverts. L queries
attend to S keys; D is the head size (the features of a query and a key), Dv a value's; scale =
1 / sqrt(D) unless given:

    Z  = Q K^T * scale + B        (..., L, S)   the scores; B: the mask as a bias (0 kept, -inf not)
    P  = softmax(Z) over the keys (..., L, S)   each query's weights; a fully masked row is 0
    P' = P * M                                   M: the dropout mask (training, dropout_p > 0)
    O  = P' V                     (..., L, Dv)

    dV  = P'^T dO
    dP' = dO V^T,   dP = dP' * M
    dZ  = P * (dP - rowsum(dP * P))     the softmax's Jacobian, dP_i/dZ_j = P_i (delta_ij - P_j)
    dQ  = dZ K * scale
    dK  = dZ^T Q * scale

Masks, as torch reads them. scaled_dot_product_attention: a bool attn_mask *keeps* where True, a
float one is added to the scores; is_causal keeps key j for query i when j <= i. MultiheadAttention
(and so TransformerEncoderLayer and the GPT): a bool attn_mask or key_padding_mask *masks out*
where True, the opposite sense, and _merged_mask turns them into the bias B above. A query that may
attend to no key gets weights 0 and output 0 from scaled_dot_product_attention (torch's kernel does
the same); MultiheadAttention with need_weights=True normalises 0/0 as torch's path does, and
returns NaN there.
"""

import math
from typing import NamedTuple

import numpy as np

from scratch import _validate
from scratch._backend import array_module, sum_rows
from scratch.nn import init
from scratch.nn.dropout import dropout_mask
from scratch.nn.linear import Linear
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    *,
    generator=None,
):
    """softmax(Q K^T * scale + mask) V over any leading dims.
    query (..., Hq, L, D) · key (..., H, S, D) · value (..., H, S, Dv) -> (..., Hq, L, Dv)

    enable_gqa: H may divide Hq; each key/value head then serves Hq / H query heads.
    generator: the NumPy Generator of the dropout mask (scratch's addition).
    """
    out, _ = sdpa_forward(
        query,
        key,
        value,
        attn_mask=attn_mask,
        dropout_p=dropout_p,
        is_causal=is_causal,
        scale=scale,
        enable_gqa=enable_gqa,
        generator=generator,
    )
    return out


class SDPASaved(NamedTuple):
    """What sdpa_backward reads, named (llm.c's activation struct, not a positional tuple)."""

    query: object  # Q (..., L, D), as given
    key: object  # K (..., S, D), its heads repeated n_rep times under enable_gqa
    value: object  # V (..., S, Dv), likewise
    P: object  # the weights softmax(Z) (..., L, S), before dropout
    drop_mask: object  # M, the dropout mask (..., L, S), or None
    scale: float
    n_rep: int  # how many query heads each key/value head serves (1 without gqa)


def sdpa_forward(
    query,
    key,
    value,
    *,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    generator=None,
    safe_softmax=True,
):
    """(O, SDPASaved): scaled_dot_product_attention's output and what sdpa_backward needs.
    safe_softmax=False lets a fully masked row be 0/0 = NaN (MultiheadAttention's need_weights
    path, as torch's)."""
    xp = array_module(query)
    for name, a in (("query", query), ("key", key), ("value", value)):
        _validate.floating("scaled_dot_product_attention", name, a)
    dropout_p, is_causal, scale, enable_gqa = _check_sdpa(
        query, key, value, attn_mask, is_causal, enable_gqa, dropout_p, scale
    )
    L, S, D = query.shape[-2], key.shape[-2], query.shape[-1]
    # (a head size of 0: every product is empty, and any scale gives torch's empty result)
    scale = (1 / math.sqrt(D) if D else 1.0) if scale is None else scale
    n_rep = query.shape[-3] // key.shape[-3] if enable_gqa else 1
    if n_rep > 1:  # each key/value head serves n_rep query heads (torch's repeat_interleave)
        key, value = xp.repeat(key, n_rep, axis=-3), xp.repeat(value, n_rep, axis=-3)
    bias = attention_bias(attn_mask, is_causal, L, S, query.dtype, xp)

    # Z = Q K^T * scale + B, the scale applied to Q (L x D values, not L x S), B added in place
    scores = (query * scale) @ key.swapaxes(-1, -2)
    if bias is not None:
        scores += bias
    P = _softmax_rows(scores, xp, safe_softmax)
    drop_mask = None
    if dropout_p > 0:
        generator = _validate.generator(generator)
        drop_mask = dropout_mask(P.shape, dropout_p, P.dtype, generator, xp)
    P_dropped = P if drop_mask is None else P * drop_mask
    out = P_dropped @ value
    return out, SDPASaved(query, key, value, P, drop_mask, scale, n_rep)


def sdpa_backward(grad_out, saved):
    """dL/dO -> (dQ, dK, dV), each line under the forward line it inverts (module docstring)."""
    query, key, value, P, drop_mask, scale, n_rep = saved
    P_dropped = P if drop_mask is None else P * drop_mask
    # (batch dims broadcast in the forward: each gradient is summed back to its input's shape)
    # O = P' V
    d_value = P_dropped.swapaxes(-1, -2) @ grad_out
    d_P_dropped = grad_out @ value.swapaxes(-1, -2)
    # P' = P * M
    d_P = d_P_dropped if drop_mask is None else d_P_dropped * drop_mask
    # P = softmax(Z), whose Jacobian is dP_i/dZ_j = P_i (delta_ij - P_j): for each query's row,
    # dZ_j = sum_i dP_i P_i (delta_ij - P_j) = P_j (dP_j - sum_i dP_i P_i)
    d_scores = P * (d_P - (d_P * P).sum(axis=-1, keepdims=True))
    # Z = Q K^T * scale + B
    d_query = _sum_to(d_scores @ key * scale, query.shape)
    d_key = _sum_to(d_scores.swapaxes(-1, -2) @ query * scale, key.shape)
    d_value = _sum_to(d_value, value.shape)
    if n_rep > 1:  # a repeated head's gradient: the sum over the query heads it served
        shape = key.shape[:-3] + (key.shape[-3] // n_rep, n_rep) + key.shape[-2:]
        d_key = d_key.reshape(shape).sum(axis=-3)
        shape = value.shape[:-3] + (value.shape[-3] // n_rep, n_rep) + value.shape[-2:]
        d_value = d_value.reshape(shape).sum(axis=-3)
    return d_query, d_key, d_value


def _sum_to(grad, shape):
    """grad summed over the dims that broadcasting added or stretched, back to `shape` (a
    broadcast input's gradient is the sum over every place it was used)."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead))) if lead else grad
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def attention_bias(attn_mask, is_causal, L, S, dtype, xp=np):
    """The mask as an additive bias (0 where kept, -inf where masked), or None for no mask.
    A bool mask keeps where True (scaled_dot_product_attention's sense); a float one is the bias."""
    bias = None
    if is_causal:  # query i sees keys 0..i
        keep = xp.tril(xp.ones((L, S), dtype=bool))
        bias = xp.where(keep, 0.0, -np.inf).astype(dtype)
    if attn_mask is not None:
        _check_mask_dtype("scaled_dot_product_attention", "attn_mask", attn_mask)
        if attn_mask.dtype == bool:
            mask_bias = xp.where(attn_mask, 0.0, -np.inf).astype(dtype)
        else:
            mask_bias = attn_mask.astype(dtype, copy=False)
        bias = mask_bias if bias is None else bias + mask_bias
    return bias


def _softmax_rows(scores, xp, safe):
    """softmax over the last axis. safe: a row of -inf (a query that may attend to nothing) gives
    0s instead of NaN (torch's SDPA kernel does so)."""
    if scores.shape[-1] == 0:  # no keys: nothing to weigh, and the output is 0 (torch's)
        return scores.copy()
    top = scores.max(axis=-1, keepdims=True)
    if safe:
        top = xp.where(xp.isfinite(top), top, 0)
    with np.errstate(invalid="ignore"):  # -inf - -inf: the unsafe path's NaN, as torch's
        e = xp.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    if safe:
        total = xp.where(total == 0, 1, total)
    with np.errstate(invalid="ignore"):
        return e / total


def _check_sdpa(query, key, value, attn_mask, is_causal, enable_gqa, dropout_p, scale):
    """Every argument checked in words; returns (dropout_p, is_causal, scale, enable_gqa)."""
    owner = "scaled_dot_product_attention"
    dropout_p = _validate.real_number("dropout_p", dropout_p, low=0.0, high=1.0)
    is_causal = _validate.flag("is_causal", is_causal, owner)
    enable_gqa = _validate.flag("enable_gqa", enable_gqa, owner)
    if scale is not None:
        scale = _validate.real_number("scale", scale)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(
            f"{owner}: query, key and value must have at least 2 dims (..., length, features), "
            f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"{owner}: query and key must have the same embedding size (last dim), "
            f"got {query.shape[-1]} and {key.shape[-1]}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{owner}: key and value must have the same sequence length, got "
            f"{key.shape[-2]} and {value.shape[-2]}"
        )
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise TypeError(
            f"{owner}: query, key and value must have one dtype, got {query.dtype}, "
            f"{key.dtype}, {value.dtype}"
        )
    if enable_gqa:
        _check_gqa(owner, query, key, value)
    else:  # the batch dims broadcast, as torch's (a (4, 3, 8) query with (4, 4, 6, 8) keys)
        try:
            np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
        except ValueError:
            raise ValueError(
                f"{owner}: the batch dims of query, key and value must broadcast, got "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            ) from None
    if is_causal and attn_mask is not None:
        raise ValueError(f"{owner}: pass attn_mask or is_causal=True, not both (torch refuses too)")
    if attn_mask is not None:
        _check_mask_dtype(owner, "attn_mask", _validate.array(owner, "attn_mask", attn_mask))
        if attn_mask.dtype != bool and attn_mask.dtype != query.dtype:
            raise TypeError(  # torch's words; a cast would hide a float64 bias on float32 scores
                f"{owner}: Expected attn_mask dtype to be bool or float or to match query dtype, "
                f"but got attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype} "
                f"instead: pass attn_mask.astype(np.{query.dtype})"
            )
        # the scores' batch dims: the query's under gqa (the keys' heads repeat), else broadcast
        batch = (
            query.shape[:-2]
            if enable_gqa
            else np.broadcast_shapes(query.shape[:-2], key.shape[:-2])
        )
        shape = batch + (query.shape[-2], key.shape[-2])
        if not _validate.broadcasts_to(attn_mask.shape, shape):
            raise ValueError(
                f"{owner}: attn_mask of shape {tuple(attn_mask.shape)} must broadcast "
                f"to the scores' shape {tuple(shape)} (..., L, S)"
            )
    return dropout_p, is_causal, scale, enable_gqa


def _check_gqa(owner, query, key, value):
    """enable_gqa: the key/value heads (dim -3) divide the query heads; the other dims equal."""
    heads_q = query.shape[-3] if query.ndim >= 3 else 1
    heads_k = key.shape[-3] if key.ndim >= 3 else 1
    if heads_k == 0 or heads_q % heads_k or key.shape[:-2] != value.shape[:-2]:
        raise ValueError(
            f"{owner}: with enable_gqa the key/value heads ({heads_k}) must divide the "
            f"query heads ({heads_q})"
        )
    if query.ndim < 3 or key.ndim != query.ndim or query.shape[:-3] != key.shape[:-3]:
        raise ValueError(
            f"{owner}: with enable_gqa, query, key and value must have the same batch dims "
            f"before the heads, got {tuple(query.shape)}, {tuple(key.shape)}, "
            f"{tuple(value.shape)} (scratch does not broadcast them)"
        )


# --- MultiheadAttention


class MHASaved(NamedTuple):
    """What MultiheadAttention.backward reads."""

    query: object  # the inputs, (L, N, E), (S, N, kdim), (S, N, vdim) (batch second)
    key: object
    value: object
    sdpa: SDPASaved  # the heads' attention, (N, H, L, D) each
    batched: bool
    need_weights: bool
    average_attn_weights: bool
    n_keys: int  # S, and one more with add_bias_kv


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention's output projection (a plain Linear; the name is
    kept so that reprs match)."""


class MultiheadAttention(Module):
    """Attention over num_heads heads of embed_dim / num_heads each, with its projections:

        q = query W_q^T + b_q,  k = key W_k^T + b_k,  v = value W_v^T + b_v    (in_proj)
        head_h = SDPA(q_h, k_h, v_h) per head h;  out = concat(heads) W_o^T + b_o (out_proj)

    query (L, N, E) (batch_first: (N, L, E); unbatched: (L, E)) · key (S, N, kdim) ·
    value (S, N, vdim) -> (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, or
    (N, num_heads, L, S), or None with need_weights=False).
    Parameters as torch's: in_proj_weight (3E, E) when kdim == vdim == E, else q_proj_weight
    (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim); in_proj_bias (3E,); bias_k,
    bias_v (1, 1, E) with add_bias_kv; out_proj (E -> E).
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__()
        self.embed_dim = _validate.integer("embed_dim", embed_dim, low=1)
        self.num_heads = _validate.integer("num_heads", num_heads, low=1)
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads: {embed_dim} is not a "
                f"multiple of {num_heads}"
            )
        self.kdim = embed_dim if kdim is None else _validate.integer("kdim", kdim, low=1)
        self.vdim = embed_dim if vdim is None else _validate.integer("vdim", vdim, low=1)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = _validate.real_number("dropout", dropout, low=0.0, high=1.0)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = bool(add_zero_attn)
        dtype = _validate.float_dtype(dtype)
        self.generator = _validate.generator(generator)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dtype))
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=dtype)) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(
            E, E, bias=bias, dtype=dtype, generator=self.generator
        )
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype=dtype))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k and bias_v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w.data, generator=self.generator)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data[...] = 0
            self.out_proj.bias.data[...] = 0
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b.data, generator=self.generator)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        _validate.flag("need_weights", need_weights, "MultiheadAttention")
        _validate.flag("average_attn_weights", average_attn_weights, "MultiheadAttention")
        _validate.flag("is_causal", is_causal, "MultiheadAttention")
        q_in, k_in, v_in, batched = self._check_inputs(query, key, value)
        L, N, E = q_in.shape
        S = k_in.shape[0]
        xp = array_module(q_in)
        H, D = self.num_heads, self.head_dim
        bias = self._merged_mask(attn_mask, key_padding_mask, is_causal, L, S, N, batched, xp)
        # in_proj: one product per input
        W_q, W_k, W_v = self._projection_weights()
        b_q, b_k, b_v = self._projection_biases()
        q = _affine(q_in, W_q, b_q)  # (L, N, E)
        k = _affine(k_in, W_k, b_k)  # (S, N, E)
        v = _affine(v_in, W_v, b_v)
        if self.bias_k is not None:  # one more key and value, learned: (S + 1, N, E)
            k = xp.concatenate([k, xp.broadcast_to(self.bias_k.data, (1, N, E))], axis=0)
            v = xp.concatenate([v, xp.broadcast_to(self.bias_v.data, (1, N, E))], axis=0)
            bias = None if bias is None else _pad_keys(bias, xp)
        # split the heads: (L, N, E) -> (N, H, L, D)
        q_h, k_h, v_h = (a.reshape(a.shape[0], N, H, D).transpose(1, 2, 0, 3) for a in (q, k, v))
        if self.add_zero_attn:  # one more key and value, all zeros
            zeros = xp.zeros((N, H, 1, D), dtype=q_h.dtype)
            k_h, v_h = xp.concatenate([k_h, zeros], axis=2), xp.concatenate([v_h, zeros], axis=2)
            bias = None if bias is None else _pad_keys(bias, xp)
        if is_causal and key_padding_mask is None and not need_weights:
            # torch's hint: attn_mask then stands for the causal mask, which is built over every
            # key, the added ones (bias_kv, zero attention) included, as its kernel does
            bias = attention_bias(None, True, L, k_h.shape[2], q_h.dtype, xp)
        p = self.dropout if self.training else 0.0
        heads, sdpa = sdpa_forward(
            q_h,
            k_h,
            v_h,
            attn_mask=bias,
            dropout_p=p,
            generator=self.generator,
            safe_softmax=not need_weights,
        )
        # merge the heads: (N, H, L, D) -> (L, N, E), then out_proj
        merged = heads.transpose(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(merged)
        self.save_for_backward(
            MHASaved(
                q_in, k_in, v_in, sdpa, batched, need_weights, average_attn_weights, k.shape[0]
            )
        )
        weights = None
        if need_weights:  # (N, H, L, S'): torch returns them dropped
            weights = sdpa.P if sdpa.drop_mask is None else sdpa.P * sdpa.drop_mask
            weights = weights.mean(axis=1) if average_attn_weights else weights
            weights = weights if batched else weights[0]
        out = out if batched else out[:, 0]
        return (out.swapaxes(0, 1) if self.batch_first and batched else out), weights

    def backward(self, grad_output, *, input_grad=True):
        """(dL/dattn_output, dL/dattn_weights), either None -> (dL/dquery, dL/dkey, dL/dvalue).

        Self-attention passes one x as query, key and value: its gradient is the sum of the
        three (autograd adds them where the graph fans out), e.g. sum(model.backward(g)).
        """
        ((q_in, k_in, v_in, sdpa, batched, need_weights, average, S_kv),) = self.saved_tensors
        xp = array_module(q_in)
        L, N, E = q_in.shape
        H, D = self.num_heads, self.head_dim
        g_out, g_weights = self._check_grads(
            grad_output,
            (L, N, E),
            batched,
            need_weights,
            average,
            S_kv + self.add_zero_attn,
            q_in.dtype,
            xp,
        )
        # out = merged W_o^T + b_o
        d_merged = self.out_proj.backward(g_out)
        d_heads = d_merged.reshape(L, N, H, D).transpose(1, 2, 0, 3)  # (N, H, L, D)
        query_h, key_h, P, drop_mask, scale = (
            sdpa.query,
            sdpa.key,
            sdpa.P,
            sdpa.drop_mask,
            sdpa.scale,
        )
        if g_weights is not None:  # the weights returned were P' = P * M (averaged over heads)
            g_P = g_weights[:, None] / H if average else g_weights
            g_P = xp.broadcast_to(g_P, P.shape)
            g_P = g_P * drop_mask if drop_mask is not None else g_P
            # through the softmax, whose Jacobian is dP_i/dZ_j = P_i (delta_ij - P_j)
            extra = P * (g_P - (g_P * P).sum(axis=-1, keepdims=True))
        d_q, d_k, d_v = sdpa_backward(d_heads, sdpa)
        if g_weights is not None:
            # Z = Q K^T * scale  =>  dQ += dZ K * scale,  dK += dZ^T Q * scale
            d_q = d_q + extra @ key_h * scale
            d_k = d_k + extra.swapaxes(-1, -2) @ query_h * scale
        if self.add_zero_attn:  # the zero key and value: constants
            d_k, d_v = d_k[:, :, :-1], d_v[:, :, :-1]
        # merge the heads back: (N, H, S', D) -> (S', N, E)
        d_q, d_k, d_v = (a.transpose(2, 0, 1, 3).reshape(a.shape[2], N, E) for a in (d_q, d_k, d_v))
        if self.bias_k is not None:  # the learned extra key and value
            # k = [k; bias_k for every sample]  =>  dL/dbias_k = sum over the batch of dk[-1]
            accumulate_grad(self.bias_k, sum_rows(d_k[-1]).reshape(1, 1, E))
            accumulate_grad(self.bias_v, sum_rows(d_v[-1]).reshape(1, 1, E))
            d_k, d_v = d_k[:-1], d_v[:-1]
        # q = q_in W_q^T + b_q (and k, v): the projections' gradients
        W_q, W_k, W_v = self._projection_weights()
        grads_w = [_weight_grad(d, x) for d, x in ((d_q, q_in), (d_k, k_in), (d_v, v_in))]
        if self.in_proj_weight is not None:
            accumulate_grad(self.in_proj_weight, xp.concatenate(grads_w, axis=0))
        else:
            for p, gw in zip((self.q_proj_weight, self.k_proj_weight, self.v_proj_weight), grads_w):
                accumulate_grad(p, gw)
        if self.in_proj_bias is not None:
            # dL/db_q = sum over every position of dq (and k, v)
            grads_b = [sum_rows(d.reshape(-1, E)) for d in (d_q, d_k, d_v)]
            accumulate_grad(self.in_proj_bias, xp.concatenate(grads_b))
        if not input_grad:
            return None
        # q = q_in W_q^T + b_q  =>  dL/dq_in = dq W_q (and k, v)
        grads_in = [d @ W for d, W in ((d_q, W_q), (d_k, W_k), (d_v, W_v))]
        if not batched:
            grads_in = [g[:, 0] for g in grads_in]
        elif self.batch_first:
            grads_in = [g.swapaxes(0, 1) for g in grads_in]
        return tuple(grads_in)

    def _projection_weights(self):
        if self.in_proj_weight is not None:
            W = self.in_proj_weight.data
            E = self.embed_dim
            return W[:E], W[E : 2 * E], W[2 * E :]
        return self.q_proj_weight.data, self.k_proj_weight.data, self.v_proj_weight.data

    def _projection_biases(self):
        if self.in_proj_bias is None:
            return None, None, None
        b, E = self.in_proj_bias.data, self.embed_dim
        return b[:E], b[E : 2 * E], b[2 * E :]

    def _check_inputs(self, query, key, value):
        """(query (L, N, E), key (S, N, kdim), value (S, N, vdim), batched), every shape checked."""
        name = "MultiheadAttention"
        for what, a in (("query", query), ("key", key), ("value", value)):
            _validate.array(name, what, a)
            if a.dtype != self.out_proj.weight.dtype:
                raise TypeError(
                    f"{name} expected {what} of dtype {self.out_proj.weight.dtype} "
                    f"(its weights'), got {a.dtype}: pass "
                    f"{what}.astype(np.{self.out_proj.weight.dtype})"
                )
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{name}: query, key and value must all be 3-D (batched) or 2-D "
                f"(unbatched), got {query.ndim}-D, {key.ndim}-D, {value.ndim}-D"
            )
        batched = query.ndim == 3
        if not batched:
            query, key, value = query[:, None], key[:, None], value[:, None]
        elif self.batch_first:
            query, key, value = (a.swapaxes(0, 1) for a in (query, key, value))
        for what, a, size in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if a.shape[-1] != size:
                raise ValueError(
                    f"{name}: {what} must have {size} features at its last dim, "
                    f"got shape {tuple(a.shape)}"
                )
        if key.shape[:2] != value.shape[:2] or key.shape[1] != query.shape[1]:
            raise ValueError(
                f"{name}: key and value must have the same length and batch as each "
                f"other and the query, got query {tuple(query.shape)}, key "
                f"{tuple(key.shape)}, value {tuple(value.shape)}"
            )
        return query, key, value, batched

    def _merged_mask(self, attn_mask, key_padding_mask, is_causal, L, S, N, batched, xp):
        """attn_mask and key_padding_mask as one additive bias (N, H, L, S), or None. torch's sense:
        a bool True masks out."""
        name = "MultiheadAttention"
        H, dtype = self.num_heads, self.out_proj.weight.dtype
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the "
                "Transformer module method `generate_square_subsequent_mask` to "
                "create this mask."
            )
        bias = None
        if attn_mask is not None:
            _validate.array(name, "attn_mask", attn_mask)
            if attn_mask.shape not in ((L, S), (N * H, L, S)):
                raise ValueError(
                    f"{name}: attn_mask must have shape ({L}, {S}) or "
                    f"({N * H}, {L}, {S}) (batch * num_heads, L, S), got "
                    f"{tuple(attn_mask.shape)}"
                )
            bias = _as_bias(attn_mask, dtype, xp)
            bias = bias.reshape(N, H, L, S) if bias.ndim == 3 else bias
        if key_padding_mask is not None:
            _validate.array(name, "key_padding_mask", key_padding_mask)
            batched_shape = (N, S) if batched else (S,)
            if tuple(key_padding_mask.shape) != batched_shape:
                raise ValueError(
                    f"{name}: key_padding_mask must have shape {batched_shape} "
                    f"(batch, S), got {tuple(key_padding_mask.shape)}"
                )
            padding = _as_bias(key_padding_mask.reshape(N, 1, 1, S), dtype, xp, "key_padding_mask")
            bias = padding if bias is None else bias + padding
        if bias is not None:
            bias = xp.broadcast_to(bias, (N, H, L, S))
        return bias

    def _check_grads(self, grad_output, out_shape, batched, need_weights, average, S, dtype, xp):
        """(dL/dout (L, N, E), dL/dweights (N, L, S) or (N, H, L, S) or None), in the internal
        layout, each checked against what forward returned."""
        if not (isinstance(grad_output, tuple) and len(grad_output) == 2):
            raise ValueError(
                "MultiheadAttention.backward takes (grad_attn_output, "
                "grad_attn_weights), either None, as forward returned two values"
            )
        g_out, g_weights = grad_output
        L, N, E = out_shape
        if g_out is None:
            g_out = xp.zeros(out_shape, dtype=dtype)
        else:
            shown = (N, L, E) if self.batch_first and batched else (L, N, E)
            shown = shown if batched else (L, E)
            g_out = self.grad_like(g_out, shown, dtype)
            g_out = g_out[:, None] if not batched else g_out
            g_out = g_out.swapaxes(0, 1) if self.batch_first and batched else g_out
        if g_weights is not None:
            if not need_weights:
                raise ValueError(
                    "MultiheadAttention.backward: forward returned no weights "
                    "(need_weights=False), so grad_attn_weights must be None"
                )
            shape = (N, L, S) if average else (N, self.num_heads, L, S)
            g_weights = self.grad_like(g_weights, shape if batched else shape[1:], dtype)
            g_weights = g_weights if batched else g_weights[None]
        return g_out, g_weights


def _affine(x, W, b):
    """x W^T + b over the last dim."""
    return x @ W.T + b if b is not None else x @ W.T


def _weight_grad(d, x):
    """sum over positions of d^T x: d (S, N, out), x (S, N, in) -> (out, in)."""
    return d.reshape(-1, d.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _check_mask_dtype(owner, name, mask):
    """A mask is bool (which positions) or floating point (a bias); an integer one is refused, as
    torch refuses it: added as a bias, its 0s and 1s would mask nothing."""
    if mask.dtype != bool and mask.dtype.kind != "f":
        raise TypeError(
            f"{owner}: {name} must be bool or floating point, got {mask.dtype}: pass "
            f"{name}.astype(bool) to mark positions"
        )


def _as_bias(mask, dtype, xp, name="attn_mask"):
    """MultiheadAttention's masks as a bias: bool True -> -inf (masked out), floats added."""
    _check_mask_dtype("MultiheadAttention", name, mask)
    if mask.dtype == bool:
        return xp.where(mask, -np.inf, 0.0).astype(dtype)
    return mask.astype(dtype, copy=False)


def _pad_keys(bias, xp):
    """One more key position, never masked: a 0 column."""
    pad = xp.zeros(bias.shape[:-1] + (1,), dtype=bias.dtype)
    return xp.concatenate([bias, pad], axis=-1)
