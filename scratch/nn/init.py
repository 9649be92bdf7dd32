"""torch.nn.init's default initialisations, drawn from a NumPy Generator the caller can seed.

torch draws from its own global generator, so the same seed gives different numbers in the two
twins; what is the same is the *distribution*. To start both twins from identical weights, copy
them across with state_dict (that is what the equivalence tests do). Each function's first
argument keeps torch's name, `tensor`: here it is the NumPy array filled in place.
"""

import math

from scratch import _validate


def _calculate_fan_in_and_fan_out(shape):
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (torch's rule)."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for an array with fewer than 2 dimensions"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity, param=None):
    """The gain torch uses to keep activations' variance steady (torch.nn.init.calculate_gain's
    table)."""
    if nonlinearity in LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically (torch PR 50664)
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill `tensor` in place from U(a, b).
    a <= b, as torch requires (NumPy would swap them silently)."""
    if not a <= b:
        raise ValueError(f"uniform_ expects a range [a, b) with a <= b, but found a={a} > b={b}")
    generator = _validate.generator(generator)
    tensor[...] = generator.uniform(a, b, size=tensor.shape)
    return tensor


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill `tensor` in place from U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al.,
    2015)."""
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        # torch's words
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor.shape)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan > 0 else 0.0
    return uniform_(tensor, -bound, bound, generator)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill `tensor` in place from U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and
    Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill `tensor` in place from N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor.shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill `tensor` in place from N(mean, std^2)."""
    generator = _validate.generator(generator)
    tensor[...] = generator.normal(mean, std, size=tensor.shape)
    return tensor
