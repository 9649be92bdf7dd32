"""Twins of torch.nn, written with NumPy: same names, constructor arguments, shapes and state_dict
keys."""

from scratch.nn import functional, init
from scratch.nn.activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from scratch.nn.attention import MultiheadAttention
from scratch.nn.container import Sequential
from scratch.nn.conv import Conv1d, Conv2d, Conv3d
from scratch.nn.dropout import Dropout
from scratch.nn.linear import Linear
from scratch.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from scratch.nn.module import Module
from scratch.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from scratch.nn.parameter import Parameter
from scratch.nn.pooling import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    Flatten,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from scratch.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from scratch.nn.sparse import Embedding
from scratch.nn.transformer import TransformerEncoderLayer

__all__ = [
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "BCEWithLogitsLoss",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "LSTM",
    "LSTMCell",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MSELoss",
    "Module",
    "MultiheadAttention",
    "Parameter",
    "ReLU",
    "RNN",
    "RNNCell",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TransformerEncoderLayer",
    "functional",
    "init",
]
