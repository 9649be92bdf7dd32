"""Twins of torch.nn, written with NumPy: same names, constructor arguments, shapes and state_dict keys."""
from scratch.nn import init
from scratch.nn.linear import Linear
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter

__all__ = ["Linear", "Module", "Parameter", "init"]
