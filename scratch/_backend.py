"""Which array module (NumPy or CuPy) a computation should use: the `cupy.get_array_module` idiom.

The scratch code takes its array module from its inputs, so the one handwritten implementation
runs on the CPU with NumPy and on a GPU with CuPy. NumPy is the default and the reference; CuPy is
an optional extra (`pip install -e '.[gpu]'`) and is never imported unless it is installed.
"""
import numpy as np


def array_module(*arrays):
    """numpy, unless one of `arrays` is a CuPy array, then cupy."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
            import cupy

            return cupy
    return np
