"""All or nothing: a call on a module either completes or changes nothing.

torch gets this from its design: a refused op raises before it records anything in the graph,
autograd frees a graph when backward has used it, and a version counter on every tensor catches
an input changed in place before backward reads it. A scratch module keeps its graph by hand (what
forward saved), so `Module` runs every forward and backward as one *call* with an undo log:

  - each change a call makes to state that outlives it (what a module saved for backward, a
    parameter's .grad, BatchNorm's running statistics, a dropout generator's position) is
    remembered here first, and a call that raises puts all of it back, in reverse order. A
    composite module's forward that fails in its third layer leaves the first two layers' saved
    arrays and statistics as the previous forward left them;
  - at the end of a forward, whatever was saved that shares memory with an array the caller holds
    (the inputs, and the outputs it gets back) is replaced by a copy, so that changing those
    arrays in place afterwards cannot change a gradient (torch raises "modified by an inplace
    operation" instead; NumPy has no version counter to detect it).

Only the outermost call keeps the log; the calls it makes (a model's layers) add to it.
"""

from scratch._backend import array_module

_call = None  # the call in progress: a _Call, or None


class _Call:
    def __init__(self):
        self.undo = []  # (restore, old value), in the order the changes were made
        self.saved = []  # the modules that saved for backward during this call
        self.backward_ran = []  # the modules whose backward this call ran (outermost first)
        self.retain_graph = False


def run(fn, self, args, kwargs, on_success=None):
    """fn(self, *args, **kwargs) as one call: on an exception every remembered change is undone."""
    global _call
    if _call is not None:  # inside a call already: its log records this one's changes too
        return fn(self, *args, **kwargs)
    call = _call = _Call()
    try:
        result = fn(self, *args, **kwargs)
        if on_success is not None:
            on_success(call, args, kwargs, result)
        return result
    except BaseException:
        for restore, old in reversed(call.undo):
            restore(old)
        raise
    finally:
        _call = None


def in_call():
    return _call


def remember(restore, old):
    """Before a change to state that outlives the call: how to put `old` back if the call fails."""
    if _call is not None:
        _call.undo.append((restore, old))


def remember_array(array):
    """Before an in-place change to `array` (a running statistic): a copy to put back."""
    if _call is not None:
        old = array.copy()

        def restore(old):
            array[...] = old

        _call.undo.append((restore, old))


def remember_generator(generator):
    """Before drawing from a NumPy Generator: its position, so that a failed call draws nothing."""
    if _call is not None:
        bit_generator = generator.bit_generator

        def restore(state):
            bit_generator.state = state

        _call.undo.append((restore, bit_generator.state))


def arrays_in(value):
    """The arrays in a value, a tuple or list of values, or a dict's values (a forward's arguments,
    its result, what it saved)."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in arrays_in(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in arrays_in(v)]
    return []


def detach_from(saved, held):
    """`saved` (what a forward saved, nested tuples and lists) with every array that may share
    memory with one of `held` (the caller's inputs and outputs) replaced by a copy."""
    if isinstance(saved, (tuple, list)):
        return type(saved)(detach_from(v, held) for v in saved)
    if hasattr(saved, "shape") and hasattr(saved, "dtype") and held:
        xp = array_module(saved)
        if any(
            array_module(h) is xp and xp.may_share_memory(saved, h)
            for h in held
            if getattr(h, "size", 0) and getattr(saved, "size", 0)
        ):
            return saved.copy()
    return saved
