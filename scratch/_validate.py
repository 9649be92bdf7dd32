"""Checks at the public edge: each raises a ValueError or TypeError that names the argument, says
what was expected and what came. Both twins use them, so both reject the same input the same way.
Nothing here imports torch.
"""

import math
import numbers
from pathlib import Path

import numpy as np

from scratch._backend import array_module


def real_number(name, value, *, low=None, high=None, low_open=False, high_open=False, message=None):
    """A finite real number in [low, high] (or open ends); returns it as a float.

    The error names `name` ("learning_rate must be > 0, got -1.0"), or, where a twin of torch
    speaks torch's words, starts with `message` ("Invalid learning rate: -1.0 (expected >= 0)").
    """

    def fail(error, expected, got):
        raise error(
            f"{message}: {got} (expected {expected})"
            if message
            else f"{name} must be {expected}, got {got}"
        )

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(TypeError, "a real number", f"{type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        fail(ValueError, "finite", value)
    if low is not None and (value < low or (low_open and value == low)):
        fail(ValueError, f"{'>' if low_open else '>='} {low}", value)
    if high is not None and (value > high or (high_open and value == high)):
        fail(ValueError, f"{'<' if high_open else '<='} {high}", value)
    return value


def integer(name, value, *, low=None):
    """An int (Python or NumPy, not bool) >= low; returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def flag(name, value, owner=None):
    """A bool (Python's or NumPy's): a string such as "no" would be taken as True."""
    if not isinstance(value, (bool, np.bool_)):
        where = f"{owner}: " if owner else ""
        raise TypeError(
            f"{where}{name} must be True or False, got {type(value).__name__} {value!r}"
        )
    return bool(value)


def float_dtype(dtype):
    """A floating-point NumPy dtype (a layer's dtype=), as np.dtype."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be a NumPy floating-point dtype (np.float32, np.float64), got {dtype!r}"
        ) from None
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    return dtype


def float_array(name, value):
    """A finite, real, floating-point NumPy array (integers and bools are promoted to float64).

    Returns a new array; the caller's is never touched.
    """
    try:
        arr = np.array(value)  # always a copy
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"{name} must be array-like of numbers, got {type(value).__name__}: {exc}"
        ) from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} must be finite, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
        )
    return arr


def binary_classification_data(inputs, targets, input_dim):
    """Check a perceptron's training data; returns (X (n, input_dim), y (n,)) as float64 copies.

    inputs (n, input_dim) of finite numbers, n >= 1; targets (n,) or (n, 1) of 0s and 1s.
    """
    X = float_array("inputs", inputs).astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"inputs must have shape (num_samples, input_dim), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("inputs is empty: need at least one sample")
    if X.shape[1] != input_dim:
        raise ValueError(
            f"inputs must have {input_dim} features (the model's input_dim), got {X.shape[1]}"
        )
    y = float_array("targets", targets).astype(np.float64)
    if not (y.shape == (X.shape[0],) or y.shape == (X.shape[0], 1)):
        raise ValueError(
            f"targets must have shape ({X.shape[0]},) or ({X.shape[0]}, 1) to match {X.shape[0]} "
            f"inputs, got shape {y.shape}"
        )
    y = y.reshape(-1)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"targets must be 0 or 1, got {y[bad][0]} at index {int(np.argmax(bad))}")
    return X, y


def weights_path(path, torch_formats=False):
    """A weights file's path, as a Path: .npz, which both twins read and write, or (torch_formats,
    the torch twin) .pt/.pth. Any other name is refused: np.savez would append .npz to it without a
    word (weights.pt would become weights.pt.npz, which nothing then finds)."""
    path = Path(path)
    if path.suffix == ".npz" or (torch_formats and path.suffix in (".pt", ".pth")):
        return path
    if path.suffix in (".pt", ".pth"):
        raise ValueError(
            f"scratch reads and writes .npz weight files only (a {path.suffix} file needs torch, "
            "which "
            f"scratch never imports): the path must end in .npz, got {str(path)!r}; both twins "
            "read .npz"
        )
    allowed = ".npz, .pt or .pth" if torch_formats else ".npz"
    raise ValueError(
        f"weights are saved as {allowed} files: the path must end in {allowed}, got {str(path)!r}"
    )


def sample_count(inputs, targets):
    """The number of samples n, after checking that inputs and targets have the same n >= 1."""
    if len(inputs) != len(targets):
        raise ValueError(
            f"inputs and targets must have the same number of samples, got {len(inputs)} and "
            f"{len(targets)}"
        )
    if len(inputs) == 0:
        raise ValueError("inputs is empty: need at least one sample")
    return len(inputs)


def array(owner, name, value):
    """`value` as it came if it is a NumPy or CuPy array; otherwise a TypeError that shows the fix.

    owner names who is asking ("Linear", "MSELoss"); name the argument ("input", "target").
    torch refuses lists and numbers in its modules as well; a torch tensor is the common slip when
    reading the twins side by side.
    """
    if isinstance(value, np.ndarray) or array_module(value) is not np:
        return value
    kind = type(value).__module__.split(".")[0]
    if kind == "torch":
        raise TypeError(
            f"{owner} takes NumPy (or CuPy) arrays, got a torch.Tensor for {name}: "
            f"pass {name}.detach().cpu().numpy()"
        )
    fix = (
        f"np.full_like(input, {value!r})"
        if isinstance(value, numbers.Number)
        else f"np.asarray({name})"
    )
    raise TypeError(
        f"{owner} takes NumPy (or CuPy) arrays, got {type(value).__name__} for {name}: pass {fix}"
    )


def floating(owner, name, value):
    """`value` as it came if it is a floating-point NumPy or CuPy array; integers, bools, complex
    numbers and objects are refused, as torch's floating-point ops refuse them ("not implemented
    for 'Long'"), never computed on (an integer dropout would truncate its 1 / (1 - p) scale to
    1)."""
    array(owner, name, value)
    if value.dtype.kind != "f":
        kind = "complex" if value.dtype.kind == "c" else value.dtype
        raise TypeError(
            f"{owner} takes a floating-point {name}, got {kind} ({value.dtype}): pass "
            f"{name}.astype(np.float32)"
        )
    return value


def generator(value, owner=None):
    """A NumPy Generator, or a fresh one for None. torch's Generator, a seed or a legacy RandomState
    are refused with the fix: scratch draws from NumPy's generators only."""
    if value is None:
        return np.random.default_rng()
    if isinstance(value, np.random.Generator):
        return value
    where = f"{owner}: " if owner else ""
    seed = (
        f"np.random.default_rng({value})"
        if isinstance(value, numbers.Integral)
        else ("np.random.default_rng(seed)")
    )
    raise TypeError(
        f"{where}generator must be a NumPy Generator, got {type(value).__module__}."
        f"{type(value).__name__}: pass generator={seed}"
    )


def layer_input(owner, input, trailing, dtype):
    """A layer's input: an array whose last dimensions are `trailing` and whose dtype is the
    layer's."""
    array(owner, "input", input)
    if tuple(input.shape[len(input.shape) - len(trailing) :]) != tuple(
        trailing
    ) or input.ndim < len(trailing):
        star = ", ".join(["*"] + [str(t) for t in trailing])
        raise ValueError(f"{owner} expected input of shape ({star}), got {tuple(input.shape)}")
    if input.dtype != dtype:
        raise TypeError(
            f"{owner} expected input of dtype {dtype} (its weight's), got {input.dtype}: pass "
            f"input.astype(np.{dtype}), or build the model with dtype=np.{input.dtype}"
        )
    return input


def broadcasts_to(shape, target):
    """True when an array of `shape` broadcasts to `target` without enlarging it (a (n,) weight
    against (n, 1) logits would enlarge it to (n, n))."""
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def state_dict_fits(owner, expected, given, strict=True):
    """expected, given: {name: shape}. Both twins' loaders call this before they change anything, so
    the same mismatch reads the same in both: one RuntimeError in torch's words listing every
    problem (missing and unexpected keys with strict, and every size mismatch), as torch's
    load_state_dict raises, so `except RuntimeError` written for torch works here too."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    errors = []
    if strict and missing:
        errors.append(
            "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
        )
    if strict and unexpected:
        errors.append(
            "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". "
        )
    for key in expected:
        if key in given and tuple(given[key]) != tuple(expected[key]):
            errors.append(
                f"size mismatch for {key}: copying a param with shape {tuple(given[key])} from "
                f"checkpoint, the shape in current model is {tuple(expected[key])}."
            )
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {owner}:\n\t" + "\n\t".join(errors))
    return missing, unexpected


def tensor(owner, name, value):
    """`value` as it came if it is a torch tensor (checked by type name: scratch never imports
    torch); otherwise a TypeError that shows the conversion (the torch twin's edge, mirroring
    `array`)."""
    if type(value).__module__.split(".")[0] == "torch":
        return value
    fix = (
        f"torch.from_numpy({name})" if isinstance(value, np.ndarray) else f"torch.as_tensor({name})"
    )
    raise TypeError(
        f"{owner} takes torch tensors, got {type(value).__name__} for {name}: pass {fix}"
    )
