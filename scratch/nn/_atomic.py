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

Only the outermost call keeps the log; the calls it makes (a model's layers) add to it. The cost
is a few microseconds a module call (measured in the README), paid in Python, not in the math.
The log is one per process, as torch's autograd state is per thread: call modules from one thread
at a time (data parallelism here runs in processes).
"""

import numpy as np

_call = None  # the call in progress: a _Call, or None


class _Call:
    __slots__ = ("undo", "saved", "live")

    def __init__(self):
        self.undo = []  # (restore, its arguments), in the order the changes were made
        self.saved = []  # the modules that saved for backward during this call
        self.live = []  # the modules whose forward ran in this call: the graph a backward frees

    def roll_back(self):
        """Every remembered change undone, the last first."""
        for restore, old in reversed(self.undo):
            restore(*old)


def begin():
    """The outermost call starts its log (Module's wrappers call begin, then end in a finally)."""
    global _call
    _call = _Call()
    return _call


def end():
    global _call
    _call = None


def in_call():
    return _call


def remember(restore, *old):
    """Before a change to state that outlives the call: restore(*old) puts it back if the call
    fails."""
    if _call is not None:
        _call.undo.append((restore, old))


def remember_array(array):
    """Before an in-place change to `array` (a running statistic): a copy to put back."""
    if _call is not None:
        _call.undo.append((array.__setitem__, (Ellipsis, array.copy())))


def remember_generator(generator):
    """Before drawing from a NumPy Generator: its position, so that a failed call draws nothing."""
    if _call is not None:
        bit_generator = generator.bit_generator
        _call.undo.append((setattr, (bit_generator, "state", bit_generator.state)))


def owner(array):
    """The array that owns `array`'s memory: itself, or the array its view was taken of (NumPy and
    CuPy point a view of a view to the owner), so two arrays share memory only if they have the
    same owner."""
    base = getattr(array, "base", None)
    return array if base is None else base


def owners_in(values, out):
    """Adds to the set `out` the id of the owner of every array among `values` (a forward's
    arguments, its result), looking into tuples, lists and dicts."""
    for v in values:
        if type(v) is np.ndarray:  # the common case first
            out.add(id(v if v.base is None else v.base))
        elif hasattr(v, "shape") and hasattr(v, "dtype"):
            out.add(id(owner(v)))
        elif isinstance(v, (tuple, list)):
            owners_in(v, out)
        elif isinstance(v, dict):
            owners_in(v.values(), out)
    return out


def detach_from(saved, held):
    """`saved` (what a forward saved, nested tuples and lists) with every array whose memory is
    that of an array the caller holds (`held`: their owners' ids) replaced by a copy."""
    changed = None
    for i, v in enumerate(saved):
        if isinstance(v, (tuple, list)):  # a NamedTuple of saved arrays too
            w = detach_from(v, held)
        elif hasattr(v, "shape") and hasattr(v, "dtype") and id(owner(v)) in held:
            w = v.copy()
        else:
            continue  # an array of the module's own, a shape, a flag, a number
        if w is not v:
            changed = list(saved) if changed is None else changed
            changed[i] = w
    if changed is None:
        return saved
    return saved._make(changed) if hasattr(saved, "_make") else type(saved)(changed)
