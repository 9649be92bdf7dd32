"""Twins of torch.nn, written with NumPy: same names, constructor arguments, shapes and state_dict keys."""
from scratch.nn import functional, init
from scratch.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from scratch.nn.container import Sequential
from scratch.nn.linear import Linear
from scratch.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from scratch.nn.module import Module
from scratch.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from scratch.nn.parameter import Parameter

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BCEWithLogitsLoss", "CrossEntropyLoss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "init",
]
