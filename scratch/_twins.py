"""What both twins share, so that `diff scratch/X.py torch_impl/X.py` shows only the math: the
words they say about a run (divergence), the checks they make on the same arguments, and the
types they raise. Nothing here imports torch; the torch twins import it from here.
"""

import math
import warnings

import numpy as np

from scratch import _validate

MINIMUM = (2.0, -3.0)  # c, where the bowl's loss is 0


class DivergenceError(FloatingPointError):
    """The loss became inf or nan. `.param_history` and `.loss_history` hold the run up to there."""

    def __init__(self, message, param_history, loss_history):
        super().__init__(message)
        self.param_history = param_history
        self.loss_history = loss_history


class DivergenceWarning(RuntimeWarning):
    """The run cannot converge (lr >= 1 on the bowl) or its loss ended higher than it began."""


def bowl_point(params):
    """(x, y) of a point on the bowl; a point of any other shape is refused in words."""
    if tuple(params.shape) != (2,):
        raise ValueError(
            "params must be a point (x, y) of shape (2,) for the bowl, "
            f"got shape {tuple(params.shape)}"
        )
    return params[0], params[1]


def descent_settings(params, learning_rate, iterations, on_bowl):
    """gradient_descent's checks, made alike by both twins: params a vector (a point, on the bowl),
    learning_rate > 0, iterations >= 0. Warns when lr cannot converge on the bowl (lr >= 1).
    Returns (learning_rate, iterations) as float and int."""
    if params.ndim != 1:
        raise ValueError(
            f"initial_params must be a vector of shape (d,), got shape {tuple(params.shape)}"
        )
    if on_bowl:
        bowl_point(params)
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    iterations = _validate.integer("iterations", iterations, low=0)
    if on_bowl and learning_rate >= 1:
        warnings.warn(
            f"learning_rate={learning_rate} >= 1 cannot converge on the bowl: each step multiplies "
            f"the distance to the minimum by |1 - 2*learning_rate| = {abs(1 - 2 * learning_rate)}"
            " >= 1",
            DivergenceWarning,
            stacklevel=3,
        )
    return learning_rate, iterations


def diverged(loss):
    """True once the loss is inf or nan: the run stops there."""
    return not math.isfinite(float(loss))


def report_outcome(param_history, loss_history, learning_rate, iterations, on_bowl):
    """Raise DivergenceError on a non-finite last loss; warn if the loss ended above its start."""
    first, last = float(loss_history[0]), float(loss_history[-1])
    if not math.isfinite(last):
        raise DivergenceError(
            f"the loss became {last} after {len(loss_history) - 1} step(s) with "
            f"learning_rate={learning_rate}: gradient descent diverged; try a smaller learning_rate"
            + (" (on the bowl it must be < 1)" if on_bowl else ""),
            param_history,
            loss_history,
        )
    already_warned = on_bowl and learning_rate >= 1
    if not already_warned and iterations > 0 and last > first:
        warnings.warn(
            f"the loss rose from {first} to {last} in {iterations} step(s) with "
            f"learning_rate={learning_rate}: it is probably too large",
            DivergenceWarning,
            stacklevel=3,
        )


def perceptron_settings(model, model_type, learning_rate, epochs, mistakes_per_epoch):
    """train_perceptron's checks, made alike by both twins; returns (learning_rate, epochs)."""
    if not isinstance(model, model_type):
        raise TypeError(
            f"model must be a {model_type.__module__.split('.')[0]} Perceptron, "
            f"got {type(model).__name__}"
        )
    learning_rate = _validate.real_number("learning_rate", learning_rate, low=0.0, low_open=True)
    epochs = _validate.integer("epochs", epochs, low=1)
    if mistakes_per_epoch is not None and not isinstance(mistakes_per_epoch, list):
        raise TypeError(
            f"mistakes_per_epoch must be a list or None, got {type(mistakes_per_epoch).__name__}"
        )
    return learning_rate, epochs


def weights_overflowed(dtype, learning_rate):
    """The error both perceptron twins raise after restoring the weights."""
    return FloatingPointError(
        f"the weights overflowed {dtype} during training (learning_rate={learning_rate}); "
        "they were restored. Scale the inputs or lower the learning rate"
    )


def training_settings(epochs, batch_size, inputs, targets):
    """train's checks, made alike by both twins; returns (epochs, batch_size, n samples)."""
    epochs = _validate.integer("epochs", epochs, low=1)
    batch_size = _validate.integer("batch_size", batch_size, low=1)
    return epochs, batch_size, _validate.sample_count(inputs, targets)


def check_token_ids(ids, vocab_size, block_size):
    """A GPT's input: integer ids (B, T), T <= block_size, each in [0, vocab_size); refused in
    words otherwise, before anything runs (both twins call this on a NumPy copy)."""
    if ids.dtype.kind not in "iu":
        raise TypeError(f"GPT takes integer token ids, got {ids.dtype}: pass idx.astype(np.int64)")
    if ids.ndim != 2:
        raise ValueError(f"GPT takes ids of shape (batch, length), got {tuple(ids.shape)}")
    if ids.shape[1] > block_size:
        raise ValueError(
            f"GPT: a sequence of {ids.shape[1]} tokens is longer than block_size="
            f"{block_size}: crop it to its last {block_size} tokens"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids[(ids < 0) | (ids >= vocab_size)][0]
        raise IndexError(f"GPT: token id {int(bad)} is outside the vocabulary [0, {vocab_size})")


def decay_groups(parameters, weight_decay):
    """AdamW's param groups as nanoGPT configures them, for both twins' GPT.param_groups: decay on
    every matrix (embeddings, projections), none on the vectors (biases, layer norm gains)."""
    params = list(parameters)
    return [
        {"params": [p for p in params if len(p.shape) >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if len(p.shape) < 2], "weight_decay": 0.0},
    ]


def generation_settings(context_shape, max_new_tokens, temperature, top_k, generator):
    """generate's checks, made alike by both twins: a context of at least one token (B, T >= 1),
    how many tokens (an integer >= 0), a finite temperature >= 0, top_k None or an integer >= 1
    (0 or a negative k would keep every token, or the wrong ones, silently; a NaN temperature
    would pick token 0 every time), a NumPy generator (a fresh one for None).
    Returns (max_new_tokens, temperature, top_k, generator)."""
    if len(context_shape) != 2 or context_shape[1] < 1:
        raise ValueError(
            "generate needs a context of at least one token, idx of shape (batch, T >= 1), got "
            f"shape {tuple(context_shape)}: start from a prompt, or from one token (such as a "
            "newline's id)"
        )
    max_new_tokens = _validate.integer("max_new_tokens", max_new_tokens, low=0)
    temperature = _validate.real_number("temperature", temperature, low=0.0)
    if top_k is not None:
        top_k = _validate.integer("top_k", top_k, low=1)
    return max_new_tokens, temperature, top_k, _validate.generator(generator, "generate")


def sample_next(logits, temperature, top_k, generator):
    """The next token of each row of logits (B, V), a NumPy array: argmax at temperature 0, else a
    draw from softmax(logits / temperature) restricted to the top_k largest, by inverting the
    cumulative distribution at one uniform per row from the NumPy `generator`. Both twins call
    this on their own logits, so the same logits and seed give the same tokens."""
    if np.isnan(logits).any():  # torch.multinomial refuses too; a NaN would pick token 0 silently
        row = int(np.argwhere(np.isnan(logits))[0][0])
        raise ValueError(f"the logits of row {row} contain NaN: the model's output is not a number")
    if temperature == 0:
        return logits.argmax(axis=-1)
    # shifted by the max first: at a tiny temperature the division then gives 0 and -inf (the
    # argmax), where the plain logits / temperature would give inf - inf = NaN
    logits = logits.astype(np.float64)
    with np.errstate(over="ignore"):  # -1 / 1e-308 = -inf: a probability of exactly 0
        logits = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    if top_k is not None:
        k = min(int(top_k), logits.shape[-1])
        kth = np.sort(logits, axis=-1)[:, -k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    u = generator.random((logits.shape[0], 1))
    return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)
