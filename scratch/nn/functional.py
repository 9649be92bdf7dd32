"""Twins of torch.nn.functional: the same names, signatures and defaults.

Each function is written in the file of its module, beside the backward that inverts it; this
file only gathers them under torch's names (`from scratch.nn import functional as F`):

    linear                                          linear.py
    relu, sigmoid, tanh, gelu, softmax, log_softmax activation.py
    dropout                                         dropout.py
    embedding                                       sparse.py
    scaled_dot_product_attention                    attention.py
    batch_norm, layer_norm                          normalization.py
    mse_loss, binary_cross_entropy_with_logits,     loss.py
      cross_entropy
    conv1d, conv2d, conv3d                          conv.py
    max_pool1d/2d/3d, avg_pool1d/2d/3d              pooling.py

An option torch has and scratch does not support raises NotImplementedError naming it: never a
silent difference. Where scratch is stricter than torch: a loss whose input and target shapes
differ raises instead of broadcasting ((n,) against (n, 1) would become (n, n); torch only
warns), and class indices out of range raise a ValueError naming the offender.
"""

from scratch.nn.activation import gelu, log_softmax, relu, sigmoid, softmax, tanh
from scratch.nn.attention import scaled_dot_product_attention
from scratch.nn.conv import conv1d, conv2d, conv3d
from scratch.nn.dropout import dropout
from scratch.nn.linear import linear
from scratch.nn.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from scratch.nn.normalization import batch_norm, layer_norm
from scratch.nn.pooling import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from scratch.nn.sparse import embedding

__all__ = [
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv3d",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "mse_loss",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "tanh",
]
