"""torch's own test samples, run through scratch.nn.functional.

torch's test suite describes each operator with an OpInfo (torch.testing._internal): the inputs
its own tests call it on (`sample_inputs`: shapes, strides, options, empty and 0-d tensors) and
the inputs it must refuse (`error_inputs`). Here every sample of every operator that scratch offers
goes through both: where torch gives a result, scratch must give the same (shape, dtype and
values, in float64 and float32); where torch refuses, scratch must refuse too, in its own words
(never a raw NumPy error). Random operators (dropout with p > 0) are held to the shape. An option
scratch does not support must raise NotImplementedError naming it, and only those listed below.
"""

import numpy as np
import pytest
import torch

pytest.importorskip("expecttest", reason="torch's OpInfos need expecttest (the test extra)")
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

import scratch.nn.functional as SF  # noqa: E402

# torch's own warning on one of its conv samples (padding='same' with an even kernel)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

OPS = {
    "nn.functional.linear": SF.linear,
    "nn.functional.relu": SF.relu,
    "nn.functional.gelu": SF.gelu,
    "sigmoid": SF.sigmoid,
    "tanh": SF.tanh,
    "softmax": SF.softmax,
    "log_softmax": SF.log_softmax,
    "nn.functional.softmax": SF.softmax,
    "nn.functional.log_softmax": SF.log_softmax,
    "nn.functional.dropout": SF.dropout,
    "nn.functional.embedding": SF.embedding,
    "nn.functional.scaled_dot_product_attention": SF.scaled_dot_product_attention,
    "nn.functional.batch_norm": SF.batch_norm,
    "nn.functional.layer_norm": SF.layer_norm,
    "nn.functional.mse_loss": SF.mse_loss,
    "nn.functional.binary_cross_entropy_with_logits": SF.binary_cross_entropy_with_logits,
    "nn.functional.cross_entropy": SF.cross_entropy,
    "nn.functional.conv1d": SF.conv1d,
    "nn.functional.conv2d": SF.conv2d,
    "nn.functional.conv3d": SF.conv3d,
    "nn.functional.max_pool1d": SF.max_pool1d,
    "nn.functional.max_pool2d": SF.max_pool2d,
    "nn.functional.max_pool3d": SF.max_pool3d,
    "nn.functional.avg_pool1d": SF.avg_pool1d,
    "nn.functional.avg_pool2d": SF.avg_pool2d,
    "nn.functional.avg_pool3d": SF.avg_pool3d,
}
# what scratch does not support, each in torch's samples: the option named in the refusal
UNSUPPORTED = {"embedding: sparse=True (sparse gradients) is not supported"}
INFOS = [op for op in op_db if op.name in OPS]


def to_numpy(value):
    """A sample's arguments with every tensor as a NumPy copy and every torch dtype as NumPy's."""
    if isinstance(value, torch.dtype):
        return np.dtype(str(value).removeprefix("torch."))
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def scratch_call(op, sample):
    args = to_numpy((sample.input, *sample.args))
    if op.name == "nn.functional.embedding":  # its OpInfo takes (weight, ids); F.embedding (ids, w)
        args = (args[1], args[0], *args[2:])
    return OPS[op.name](*args, **to_numpy(sample.kwargs))


def is_random(op, sample):
    p = sample.kwargs.get("p", sample.args[0] if sample.args else 0.5)
    dropout = op.name == "nn.functional.dropout" and sample.kwargs.get("training", True) and p > 0
    return dropout or sample.kwargs.get("dropout_p", 0) > 0


def tolerance(dtype, expected):
    """float64: ~1e-10 relative (the project's). float32: torch.testing's rtol, and its atol scaled
    by the result's magnitude: a float32 sum of K products is off by about K eps times the sum of
    magnitudes (a 4x4x4 convolution with outputs near 20: 9e-5, measured), so a fixed 1e-5 would
    judge the size of the numbers, not the code."""
    if dtype == torch.float64:
        return dict(rtol=1e-10, atol=1e-10)
    scale = max(1.0, float(np.nanmax(np.abs(expected), initial=0.0)))
    return dict(rtol=1.3e-6, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "op", INFOS, ids=lambda op: f"{op.name}.{op.variant_test_name or 'default'}"
)
def test_torchs_samples_give_torchs_results(op):
    counts, unsupported = {"compared": 0, "random": 0}, set()
    # max pooling selects, it computes nothing: float64 says all there is (and its 2,880
    # samples a dimension are most of this file's time)
    dtypes = (torch.float64,) if "max_pool" in op.name else (torch.float64, torch.float32)
    for dtype in dtypes:
        for sample in op.sample_inputs("cpu", dtype, requires_grad=False):
            expected = op.op(sample.input, *sample.args, **sample.kwargs)
            try:
                got = scratch_call(op, sample)
            except NotImplementedError as error:
                unsupported.add(str(error))
                continue
            expected = expected[0] if isinstance(expected, tuple) else expected
            got = got[0] if isinstance(got, tuple) else got
            what = (
                f"{op.name} {dtype} on {sample.summary() if hasattr(sample, 'summary') else sample}"
            )
            assert np.shape(got) == tuple(expected.shape), what
            if is_random(op, sample):
                counts["random"] += 1
                continue
            expected = expected.numpy()
            assert np.asarray(got).dtype == expected.dtype, what
            np.testing.assert_allclose(
                got, expected, equal_nan=True, err_msg=what, **tolerance(dtype, expected)
            )
            counts["compared"] += 1
    assert unsupported <= UNSUPPORTED, unsupported
    assert counts["compared"] + counts["random"] > 0


ERRORS = [op for op in INFOS if op.error_inputs_func is not None]


@pytest.mark.parametrize(
    "op", ERRORS, ids=lambda op: f"{op.name}.{op.variant_test_name or 'default'}"
)
def test_what_torchs_tests_say_it_refuses_scratch_refuses_in_words(op):
    refused = 0
    for error_input in op.error_inputs("cpu"):
        sample = error_input.sample_input
        with pytest.raises(Exception):  # noqa: B017  (torch's own expectation, any type)
            op.op(sample.input, *sample.args, **sample.kwargs)
        try:
            scratch_call(op, sample)
        except NotImplementedError as error:
            assert str(error) in UNSUPPORTED
            continue
        except (ValueError, TypeError, IndexError, RuntimeError) as error:
            # its own words: not a NumPy error (UFuncTypeError is a TypeError) passed through
            assert type(error) in (ValueError, TypeError, IndexError, RuntimeError), repr(error)
            assert not any(
                w in str(error) for w in ("cannot reshape", "ufunc", "could not be broadcast")
            ), repr(error)
            refused += 1
        else:
            pytest.fail(
                f"{op.name} accepted what torch refuses ({error_input.error_regex!r}): {sample}"
            )
    assert refused > 0
