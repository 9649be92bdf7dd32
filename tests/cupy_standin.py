"""A strict CPU stand-in for CuPy, so that the scratch code's CuPy path runs where there is no GPU.

tests/test_cupy_path.py installs this module as `cupy` (in sys.modules, for one test at a time)
and runs the handwritten code on its arrays. Like CuPy, it refuses what would break on a GPU:
  - converting a device array to NumPy implicitly (np.asarray(x), a NumPy function applied to it,
    a NumPy array built from it): TypeError, with CuPy's words;
  - mixing a NumPy array into a device computation (x + numpy_array, cupy.exp(numpy_array)):
    TypeError, as CuPy's ufuncs raise;
  - calling a function of the module that is not in NAMES, the functions the scratch code uses, each
    of which CuPy has (test_cupy_path.py checks NAMES against the real CuPy wherever it is
    importable): AttributeError;
and it behaves as CuPy does where NumPy differs: its type lives in a module named "cupy" (so that
scratch._backend.array_module picks this module), reductions and scalar indexing give 0-d arrays
rather than NumPy scalars, host index arrays are accepted (CuPy copies them over), and moving
data between host and device copies it (cupy.asarray, .get()).

What it cannot tell: anything about the GPU itself: kernels, cuBLAS's float32 results, streams,
speed, memory. tests/test_gpu.py compares the real CuPy with torch on CUDA for that. Underneath,
each operation here is NumPy's, so a computation on these arrays must equal the NumPy path's
exactly, bit for bit; that is what the tests assert.
"""

import sys

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

# CuPy's own messages, so that a failure here reads like the one a GPU user would see
IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)
UNSUPPORTED = "Unsupported type <class 'numpy.ndarray'>"

# the module's functions and names that the scratch code and the benchmarks use; every one is in
# CuPy
NAMES = frozenset(
    {
        "abs",
        "add",
        "arange",
        "bincount",
        "ascontiguousarray",
        "broadcast_to",
        "concatenate",
        "divide",
        "einsum",
        "empty",
        "exp",
        "flip",
        "float32",
        "float64",
        "full",
        "int64",
        "isfinite",
        "log",
        "log1p",
        "matmul",
        "maximum",
        "may_share_memory",
        "moveaxis",
        "multiply",
        "nan",
        "ndim",
        "ones",
        "ones_like",
        "pad",
        "repeat",
        "shape",
        "sqrt",
        "stack",
        "tanh",
        "tensordot",
        "tril",
        "unique",
        "where",
        "zeros",
        "zeros_like",
    }
)


def _unwrap(x):
    """Device arrays -> their NumPy storage, inside tuples and lists too; a NumPy array is
    refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(UNSUPPORTED)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _unwrap_index(key):
    """An index may hold device arrays or host (NumPy) arrays: CuPy takes both."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    return key


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy gives 0-d arrays where NumPy gives scalars
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _call(function, args, kwargs):
    """function(*args, **kwargs) on the storage, the result wrapped; out= arrays are written in
    place."""
    out = kwargs.get("out")
    args, kwargs = _unwrap(args), {k: _unwrap(v) for k, v in kwargs.items()}
    result = function(*args, **kwargs)
    if out is not None:
        return out
    return _wrap(result)


class ndarray(NDArrayOperatorsMixin):
    """A device array: NumPy storage that NumPy may not see."""

    _METHODS = frozenset(
        {
            "all",
            "any",
            "argmax",
            "astype",
            "copy",
            "item",
            "max",
            "mean",
            "min",
            "ravel",
            "reshape",
            "sum",
            "swapaxes",
            "transpose",
        }
    )

    def __init__(self, storage):
        self._a = storage

    def get(self):
        """The host copy (CuPy's device-to-host transfer)."""
        return self._a.copy()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            out = kwargs["out"]
            if not all(isinstance(o, ndarray) for o in out):
                raise TypeError(UNSUPPORTED)
            getattr(ufunc, method)(*_unwrap(inputs), **{**kwargs, "out": tuple(o._a for o in out)})
            return out[0] if len(out) == 1 else out
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        # CuPy defers to its own function of that name, if it has one
        if func.__name__ not in NAMES:
            raise TypeError(
                f"no implementation found for 'numpy.{func.__name__}' in the CuPy stand-in"
            )
        return _call(func, args, kwargs)

    def __getattr__(self, name):
        if name not in self._METHODS:
            raise AttributeError(f"'cupy.ndarray' (stand-in) has no attribute {name!r}")
        method = getattr(self._a, name)
        return lambda *args, **kwargs: _call(method, args, kwargs)

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)  # bytes, as CuPy's
    T = property(lambda self: ndarray(self._a.T))

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_index(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap_index(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (ndarray(np.asarray(row)) for row in self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __repr__(self):
        return repr(self._a).replace("array(", "array(device=", 1)


ndarray.__module__ = "cupy"  # what CuPy's ndarray reports, and what array_module looks at


class _Ufunc:
    """A ufunc's `at` on device arrays (cupy.add.at: unbuffered, repeated indices accumulate)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def at(self, a, index, values):
        if not isinstance(a, ndarray):
            raise TypeError(UNSUPPORTED)
        self._ufunc.at(a._a, _unwrap_index(index), _unwrap(values))


add = _Ufunc(np.add)


def asarray(a, dtype=None):
    """Host -> device: always a copy (a device array never shares memory with a host one)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return ndarray(np.array(a, dtype=dtype, copy=True))


array = asarray


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def get_array_module(*arrays):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in arrays) else np


class _StrideTricks:
    """cupy.lib.stride_tricks: as_strided makes a view of the device memory, as CuPy's does."""

    @staticmethod
    def as_strided(x, shape=None, strides=None):
        if not isinstance(x, ndarray):
            raise TypeError(UNSUPPORTED)
        return ndarray(np.lib.stride_tricks.as_strided(x._a, shape, strides))


class lib:  # noqa: N801  (cupy.lib, as CuPy spells it)
    stride_tricks = _StrideTricks


def __getattr__(name):
    if name not in NAMES:
        raise AttributeError(
            f"the CuPy stand-in has no {name!r}: check that CuPy has it, then add it to NAMES"
        )
    obj = getattr(np, name)
    if isinstance(obj, (float, type)):  # nan, float32, ...
        return obj
    return lambda *args, **kwargs: _call(obj, args, kwargs)
