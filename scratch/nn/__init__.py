"""Twins of torch.nn, written with NumPy: same names, constructor arguments, shapes and state_dict
keys."""

from scratch.nn import functional, init
from scratch.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from scratch.nn.container import Sequential
from scratch.nn.conv import Conv1d, Conv2d, Conv3d
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
    "Flatten",
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
    "Parameter",
    "ReLU",
    "RNN",
    "RNNCell",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
