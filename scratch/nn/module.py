"""Module: the base of every layer and model. Twin of `torch.nn.Module`.

It does the bookkeeping torch.nn.Module does, by the same names: attributes that are Parameters,
buffers or Modules are registered in the order they are set, so `named_parameters()` and
`state_dict()` yield torch's dotted names ('fc1.weight', 'linear.bias', ...) in torch's order.
What torch does with autograd, a scratch module does by hand: `forward` keeps what `backward`
needs, and `backward(grad_output)` returns the gradient for the input and *adds* the parameters'
gradients into `p.grad`, until `zero_grad()`.

The contract every module keeps, declared here once:
  - `backward(grad_output, *, input_grad=True)`: grad_output is dL/d(output) (a tuple where forward
    returned one); the return is dL/d(input), or None with input_grad=False (autograd skips that
    work too when the input does not require grad, as a batch of data does not).
  - forward keeps what backward needs with `self.save_for_backward(...)` (the name torch's
    autograd.Function uses); backward reads `self.saved_tensors`, which raises the one
    "backward called before forward" error.
  - a gradient has the dtype of what it is the gradient of, whatever promotion happened in
    between (autograd casts back too): `grad_like` checks grad_output's shape and casts it.
  - backward consumes what forward saved, as autograd frees a graph it has used: a second backward
    without a new forward is refused in torch's words, unless the first passed retain_graph=True.
  - a call is all or nothing (scratch/nn/_atomic.py): a forward or backward that raises leaves
    every saved array, .grad and running statistic as it was, and what backward reads is never an
    array the caller holds, so changing an input or output in place cannot change a gradient.
    Module wraps each subclass's forward and backward once, here, to keep these three rules; the
    layers' own files hold only their math.
"""

import functools
import inspect
from collections import OrderedDict, namedtuple

import numpy as np

from scratch import _validate
from scratch._backend import array_module, host_copy, untensor
from scratch.nn import _atomic
from scratch.nn.parameter import Parameter

# what load_state_dict returns, as torch's (a named pair)
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward(). Specify retain_graph=True if you need to backward through the graph a second "
    "time or if you need to access saved tensors after calling backward."
)


class Module:
    def __init_subclass__(cls, **kwargs):
        """Each forward and backward a subclass writes runs under the contract's three rules
        (module docstring); the subclass's own code is only its math."""
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _atomic_forward(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _atomic_backward(cls.__dict__["backward"])

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"call super().__init__() in {type(self).__name__}.__init__ before setting "
                "attributes"
            )
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            # a new value for a buffer (`self.num_batches_tracked += 1`) stays one
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        registered = name in self._parameters or name in self._modules
        if not registered and not isinstance(value, (Parameter, Module)):
            # a plain attribute (a forward's cache): no bookkeeping
            object.__setattr__(self, name, value)
            return
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """A state array that is saved in state_dict but is not a Parameter (BatchNorm's running
        mean)."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # --- the forward and backward passes

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def backward(self, grad_output, *, input_grad=True):
        """dL/d(output) -> dL/d(input), or None when input_grad=False; adds dL/d(param) into each
        p.grad."""
        raise NotImplementedError(f"{type(self).__name__} has no backward()")

    @staticmethod
    def no_backward(backward):
        """Marks a backward that only explains why there is none (a perceptron's step has no
        useful derivative): Module runs it as it is, asking for no forward first."""
        backward.refusal = True
        return backward

    def save_for_backward(self, *arrays):
        """Keep what backward needs (torch's ctx.save_for_backward); a new forward replaces it."""
        self._set_graph(arrays, "live")
        call = _atomic.in_call()
        if call is not None:
            call.saved.append(self)
            call.live.append(self)

    @property
    def saved_tensors(self):
        """What the last forward saved, as a tuple; the one error for a backward with no forward,
        and torch's for a second backward."""
        self._check_graph()
        return self.__dict__["_saved_tensors"]

    def _check_graph(self):
        state = self.__dict__.get("_graph")
        if state is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: call the module on an "
                "input first"
            )
        if state == "freed":
            raise RuntimeError(f"{type(self).__name__}.backward: {SECOND_BACKWARD}")

    def _set_graph(self, saved, state):
        """What backward will read, and whether there is a forward to answer (None: none yet;
        'live'; 'freed': a backward used it). Remembered first, so a failed call puts it back."""
        d = self.__dict__
        _atomic.remember(self._restore_graph, d.get("_saved_tensors", ()), d.get("_graph"))
        d["_saved_tensors"], d["_graph"] = saved, state

    def _mark_live(self, call):
        """A forward ran: there is a graph to answer (for a module that saves nothing itself, such
        as Sequential, too), one of the modules the outermost call's backward will free."""
        if self.__dict__.get("_graph") != "live":
            self._set_graph(self.__dict__.get("_saved_tensors", ()), "live")
            call.live.append(self)

    def _restore_graph(self, saved, state):
        object.__setattr__(self, "_saved_tensors", saved)
        object.__setattr__(self, "_graph", state)

    def grad_like(self, grad_output, output_shape, dtype):
        """grad_output checked against the output's shape and cast to the output's dtype (autograd
        casts too)."""
        if not hasattr(grad_output, "shape") or tuple(grad_output.shape) != tuple(output_shape):
            got = (
                tuple(grad_output.shape)
                if hasattr(grad_output, "shape")
                else type(grad_output).__name__
            )
            raise ValueError(
                f"{type(self).__name__}.backward: grad_output must have the output's shape "
                f"{tuple(output_shape)}, got {got}"
            )
        if grad_output.dtype.kind not in "fiu":  # complex: its imaginary part would be dropped
            raise TypeError(
                f"{type(self).__name__}.backward: grad_output must be real numbers, got "
                f"{grad_output.dtype}: pass grad_output.astype(np.{np.dtype(dtype)})"
            )
        return grad_output.astype(dtype, copy=False)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal, with torch's dotted names

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) for each parameter; one registered twice (a tied weight) is yielded
        once, under its first name, as torch does, so that an optimizer steps it once."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if remove_duplicate and id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_prefix}.{name}" if module_prefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix=""):
        for module_prefix, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                yield (f"{module_prefix}.{name}" if module_prefix else name), b

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def to(self, device):
        """Move every parameter and buffer: 'cpu' (NumPy arrays) or 'cuda' (CuPy arrays), as torch's
        .to(device).

        The same handwritten forward and backward then run on the GPU: they take their array
        module from their inputs (scratch._backend.array_module).
        """
        if device == "cuda":
            import cupy

            move = cupy.asarray
        elif device == "cpu":

            def move(a):
                return a.get() if array_module(a) is not np else np.asarray(a)
        else:
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        for _, module in self.named_modules():
            for p in module._parameters.values():
                p.data = move(p.data)
                p.grad = None if p.grad is None else move(p.grad)
            for name, b in list(module._buffers.items()):
                module.register_buffer(name, move(b))
        return self

    def train(self, mode=True):
        for _, module in self.named_modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # --- saving and loading: the contract with the torch twin

    def state_dict(self):
        """{torch's dotted name: a NumPy copy of the array}, parameters then buffers of each module
        in order.

        torch returns tensors that share memory with the module; these are copies (on the host, for
        a model on the GPU), so changing one never changes the model behind your back.
        """
        out = OrderedDict()
        for module_prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for name, value in registry.items():
                    array = value.data if isinstance(value, Parameter) else value
                    out[f"{module_prefix}.{name}" if module_prefix else name] = host_copy(array)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in from a {name: array-like} dict (NumPy arrays, CPU tensors, lists).

        Checks every key, shape and dtype first and changes nothing if any is wrong: missing or
        unexpected keys (with strict=True), a shape unlike the module's, a non-numeric or complex
        array. Values are cast to the module's dtype, as torch's load_state_dict casts.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(
                f"state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}"
            )
        targets = {}
        for module_prefix, module in self.named_modules():
            for name in list(module._parameters) + list(module._buffers):
                targets[f"{module_prefix}.{name}" if module_prefix else name] = (module, name)
        current = {
            key: module._parameters[name].data
            if name in module._parameters
            else module._buffers[name]
            for key, (module, name) in targets.items()
        }
        given = {
            key: _as_array(key, state_dict[key], array_module(current[key]))
            for key in current
            if key in state_dict
        }
        for key, value in given.items():
            _check_castable(key, value, current[key])
        missing, unexpected = _validate.state_dict_fits(
            type(self).__name__,
            {k: v.shape for k, v in current.items()},
            {k: given[k].shape if k in given else None for k in state_dict},
            strict,
        )
        for key, value in given.items():  # only now, with every check passed, change the model
            current[key][...] = value
        return IncompatibleKeys(missing, unexpected)

    def __repr__(self):
        """torch's layout: Name(extra) for a leaf; otherwise one line each for extra and each child,
        indented."""
        extra = self.extra_repr().split("\n") if self.extra_repr() else []
        children = [
            f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()
        ]
        if len(extra) == 1 and not children:
            return f"{type(self).__name__}({extra[0]})"
        if not extra and not children:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n  " + "\n  ".join(extra + children) + "\n)"

    def extra_repr(self):
        return ""


def _atomic_forward(forward):
    """forward as one call (scratch/nn/_atomic.py): marks a forward to answer; on success, the
    outermost call copies whatever was saved that the caller holds."""

    @functools.wraps(forward)
    def call(self, *args, **kwargs):
        log = _atomic.in_call()
        if log is not None:  # a layer of a model: the model's call logs its changes
            out = forward(self, *args, **kwargs)
            self._mark_live(log)
            return out
        log = _atomic.begin()
        try:
            out = forward(self, *args, **kwargs)
            self._mark_live(log)
            _keep_saved_apart(log, (args, kwargs, out))
            self.__dict__["_graph_members"] = log.live  # what a backward of this call frees
            return out
        except BaseException:
            log.roll_back()
            raise
        finally:
            _atomic.end()

    return call


def _keep_saved_apart(log, held):
    """What backward reads must not be an array the caller can change: its inputs and outputs."""
    held = _atomic.owners_in(held, set())
    for module in log.saved:
        d = module.__dict__
        d["_saved_tensors"] = _atomic.detach_from(d["_saved_tensors"], held)


def _atomic_backward(backward):
    """backward as one call: refused before a forward and after the forward's graph was used;
    on success of the outermost call, the graph of this module and its submodules is freed, unless
    retain_graph=True (torch's option of that name)."""
    if getattr(backward, "refusal", False):  # a backward that only explains why there is none
        return backward

    @functools.wraps(backward)
    def call(self, *args, retain_graph=False, **kwargs):
        self._check_graph()
        if _atomic.in_call() is not None:  # a layer of a model's backward
            return backward(self, *args, **kwargs)
        log = _atomic.begin()
        try:
            result = backward(self, *args, **kwargs)
        except BaseException:
            log.roll_back()
            raise
        finally:
            _atomic.end()
        if not retain_graph:  # the graph is used: free it, as autograd does
            for module in self.__dict__.get("_graph_members", (self,)):
                module._restore_graph((), "freed")
            self._restore_graph((), "freed")
        return result

    signature = inspect.signature(backward)
    retain = inspect.Parameter("retain_graph", inspect.Parameter.KEYWORD_ONLY, default=False)
    call.__signature__ = signature.replace(parameters=[*signature.parameters.values(), retain])
    return call


def _as_array(key, value, xp):
    value = untensor(value)  # a torch tensor, maybe on a GPU or requiring grad
    try:
        array = xp.asarray(value)
    except Exception as exc:
        raise TypeError(
            f"state_dict[{key!r}] must be array-like, got {type(value).__name__}: {exc}"
        ) from None
    kind = np.dtype(array.dtype).kind
    if kind not in "fiub":
        raise TypeError(f"state_dict[{key!r}] must hold real numbers, got dtype {array.dtype}")
    return array


def _check_castable(key, value, current):
    """Values are cast to the module's dtype, as torch casts; a count (an integer buffer such as
    num_batches_tracked) must then receive whole numbers, not have them truncated without a word."""
    if (
        np.dtype(current.dtype).kind in "iu"
        and np.dtype(value.dtype).kind == "f"
        and not bool((value == value.round()).all())
    ):
        raise TypeError(
            f"state_dict[{key!r}] must hold integers (the buffer is {current.dtype}), got {value!r}"
        )
