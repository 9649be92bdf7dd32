"""Twins of torch.nn, written with NumPy: same names, constructor arguments, shapes and state_dict keys."""
from scratch.nn.parameter import Parameter

__all__ = ["Parameter"]
