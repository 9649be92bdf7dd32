"""Embedding: a lookup table of learnable rows. The twin of torch.nn.Embedding and F.embedding.

    forward:   out[..., :] = weight[ids[...], :]                    ids (*) -> out (*, D)
    backward:  dL/dweight[v] = sum of dL/dout over the positions where ids == v

The backward is a scatter-add: an id that appears twice gets both positions' gradients summed.
Written as `weight.grad[ids] += g`, NumPy would write each repeated id once, keeping one of its
gradients (the classic embedding bug); scratch._backend.scatter_add sums them. The ids themselves
get no gradient (they are integers).
"""

import math
import numbers

import numpy as np

from scratch import _validate
from scratch._backend import array_module, scatter_add
from scratch.nn import _atomic, init
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter, accumulate_grad


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """weight[input]: the rows of `weight` the ids pick.   input (*) integer · weight (V, D)
    -> (*, D). max_norm renormalises the picked rows of `weight` in place, as torch does."""
    if sparse:
        raise NotImplementedError("embedding: sparse=True (sparse gradients) is not supported")
    if _validate.array("embedding", "weight", weight).ndim != 2:  # torch's words
        raise ValueError(f"embedding: 'weight' must be 2-D, got shape {tuple(weight.shape)}")
    ids = _check_ids("embedding", input, weight.shape[0])
    max_norm, norm_type = _check_norm(max_norm, norm_type)
    if max_norm is not None:
        _renorm(weight, ids, max_norm, norm_type)
    return weight[ids]


def embedding_backward(grad_output, ids, num_embeddings, padding_idx, scale_grad_by_freq):
    """dL/dweight (V, D): each id's rows of grad_output summed (divided by the id's count in the
    batch with scale_grad_by_freq); padding_idx's row gets none."""
    xp = array_module(grad_output)
    flat_ids = ids.reshape(-1)
    g = grad_output.reshape(flat_ids.shape[0], -1)
    if scale_grad_by_freq:
        counts = xp.bincount(flat_ids, minlength=num_embeddings)
        g = g / counts[flat_ids][:, None].astype(g.dtype)
    grad = xp.zeros((num_embeddings, g.shape[1]), dtype=g.dtype)
    scatter_add(grad, flat_ids, g)  # repeated ids summed, not overwritten
    if padding_idx is not None:
        grad[padding_idx] = 0
    return grad


class Embedding(Module):
    """ids (*) -> (*, embedding_dim).   weight (num_embeddings, embedding_dim) ~ N(0, 1), torch's
    init, with padding_idx's row zero."""

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        *,
        dtype=np.float32,
        generator=None,
    ):
        super().__init__()
        self.num_embeddings = _validate.integer("num_embeddings", num_embeddings, low=1)
        self.embedding_dim = _validate.integer("embedding_dim", embedding_dim, low=1)
        if padding_idx is not None:
            padding_idx = _validate.integer("padding_idx", padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx must be within num_embeddings: in "
                    f"[{-num_embeddings}, {num_embeddings}), got {padding_idx}"
                )
            padding_idx %= num_embeddings  # torch keeps a negative index as its positive twin
        if sparse:
            raise NotImplementedError(
                "Embedding(sparse=True): sparse gradients are not "
                "supported by scratch; use the default sparse=False"
            )
        self.max_norm, self.norm_type = _check_norm(max_norm, norm_type)
        self.padding_idx = padding_idx
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        dtype = _validate.float_dtype(dtype)
        if _weight is None:
            weight = init.normal_(
                np.empty((num_embeddings, embedding_dim), dtype), 0.0, 1.0, generator
            )
            if padding_idx is not None:
                weight[padding_idx] = 0
        else:
            weight = _validate.array("Embedding", "_weight", _weight)
            if weight.dtype.kind != "f":  # torch refuses too: only floats can require gradients
                raise TypeError(
                    f"Embedding: _weight must be floating point, got {weight.dtype}: pass "
                    "_weight.astype(np.float32)"
                )
            if tuple(weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError("Shape of weight does not match num_embeddings and embedding_dim")
        self.weight = Parameter(weight, requires_grad=not _freeze)

    def forward(self, input):
        ids = _check_ids("Embedding", input, self.num_embeddings)
        out = embedding(
            ids,
            self.weight.data,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
        )
        self.save_for_backward(ids, out.shape, out.dtype)
        return out

    def backward(self, grad_output, *, input_grad=True):
        """dL/dout (*, D) -> None (integer ids have no gradient); adds dL/dweight."""
        ids, shape, dtype = self.saved_tensors
        g = self.grad_like(grad_output, shape, dtype)
        if self.weight.requires_grad:
            grad = embedding_backward(
                g, ids, self.num_embeddings, self.padding_idx, self.scale_grad_by_freq
            )
            accumulate_grad(self.weight, grad)
        return None

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s


def _check_ids(owner, input, num_embeddings):
    """Integer ids in [0, num_embeddings): NumPy would take a negative id from the end silently."""
    _validate.array(owner, "input", input)
    if input.dtype.kind not in "iu":
        raise TypeError(
            f"{owner} takes integer ids, got {input.dtype}: pass input.astype(np.int64)"
        )
    if input.size and (int(input.min()) < 0 or int(input.max()) >= num_embeddings):
        bad = input[(input < 0) | (input >= num_embeddings)].reshape(-1)[0]
        raise IndexError(
            f"{owner}: id {int(bad)} is out of range: ids must be in "
            f"[0, {num_embeddings}) (num_embeddings={num_embeddings})"
        )
    return input


def _renorm(weight, ids, max_norm, norm_type):
    """Each picked row whose norm exceeds max_norm scaled to max_norm / (norm + 1e-7), in place
    (torch's embedding_renorm_)."""
    xp = array_module(weight)
    rows = xp.unique(ids.reshape(-1))
    norms = _norms(xp.abs(weight[rows]), norm_type, xp)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    _atomic.remember(weight.__setitem__, rows, weight[rows].copy())  # undone if the call fails
    weight[rows] = (weight[rows] * scale[:, None]).astype(weight.dtype)


def _norms(magnitudes, p, xp):
    """Each row's p-norm, as torch.norm defines it for every p: the largest magnitude at inf, the
    smallest at -inf, the count of non-zeros at 0, else (sum |w|^p)^(1/p)."""
    if p == math.inf:
        return magnitudes.max(axis=1)
    if p == -math.inf:
        return magnitudes.min(axis=1)
    if p == 0:
        return (magnitudes != 0).sum(axis=1).astype(magnitudes.dtype)
    return (magnitudes**p).sum(axis=1) ** (1 / p)


def _check_norm(max_norm, norm_type):
    """(max_norm as a float or None, norm_type as a float): real numbers, refused in words
    otherwise (a string would reach NumPy's comparison)."""
    if max_norm is not None:
        max_norm = _validate.real_number("max_norm", max_norm)
    if (
        isinstance(norm_type, bool)
        or not isinstance(norm_type, numbers.Real)
        or math.isnan(norm_type)
    ):
        raise TypeError(f"norm_type must be a real number (inf too), got {norm_type!r}")
    return max_norm, float(norm_type)
