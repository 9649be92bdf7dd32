"""Optimizers, by hand: twins of torch.optim.SGD and torch.optim.Adam.

Each follows torch's documented update rule (docs.pytorch.org/docs/stable/optim.html) in the
order torch's own single-tensor code applies it (torch/optim/sgd.py, adam.py), so a run here and
a run of torch.optim from the same start, on the same gradients, agree to rounding for any number
of steps. They work on `scratch.nn.Parameter`s (`.data`, `.grad`) and, like torch:
  - skip a parameter whose `.grad` is None;
  - update `.data` in place, so modules holding the array see the new values;
  - accept `params` as an iterable of Parameters or of dicts (param groups, each with its own
    hyperparameters, the rest taken from the constructor's defaults);
  - validate hyperparameters when constructed (ValueError), with torch's wording.
  - checkpoint: `state_dict()` is torch's layout ({'state': {index: {...}}, 'param_groups':
    [{..., 'params': [indices]}]}, NumPy arrays for torch's tensors), and `load_state_dict` takes
    it, or torch's own (tensors), so a run resumes exactly, in either twin.
A step is all or nothing: every gradient is checked before any parameter moves or any state is
made, so a refused step leaves the parameters, the moments and Adam's step count as they were.
Where this is stricter than torch: a non-finite or non-numeric hyperparameter is rejected
(torch's `lr < 0` check lets NaN through), a gradient whose shape differs from its parameter's
raises instead of broadcasting, and a loaded state's shapes are checked. torch's implementation
switches (foreach, fused, capturable, differentiable) do not change the math; they sit in the param
groups as torch's do, and asking for them raises NotImplementedError.
"""

import numpy as np

from scratch import _validate
from scratch._backend import array_module, host_copy, to_host, untensor
from scratch.nn.module import Module
from scratch.nn.parameter import Parameter


class Optimizer:
    """Holds the param groups and per-parameter state; subclasses write `step()`."""

    def __init__(self, params, defaults):
        if isinstance(params, Module):
            raise TypeError(
                f"params must be an iterable of Parameters, got the module {type(params).__name__} "
                "itself: pass model.parameters()"
            )
        if isinstance(params, Parameter) or hasattr(params, "shape"):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Parameters or "
                "dicts, "
                f"but got {type(params).__name__}"
            )
        self.defaults = defaults
        self.state = {}  # Parameter -> dict, filled lazily by step()
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a dict {'params': [...], <hyperparameter>: value, ...}; missing keys take the
        defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got {type(p).__name__}")
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"unknown hyperparameter(s) in param group: {sorted(unknown)}")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len(params) != len({id(p) for p in params}) or any(id(p) in seen for p in params):
            raise ValueError(
                "some parameters appear in more than one parameter group (or twice in one)"
            )
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_hyperparameters(self, group):
        raise NotImplementedError

    # the keys a parameter's state may hold (a subclass's)
    STATE_KEYS = ()

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: None (torch's default), or zeros with set_to_none=False."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def _checked_grads(self):
        """[(group, [(p, grad), ...]), ...]: every parameter that has a gradient, each gradient
        checked, all of them before the step changes anything."""
        checked = []
        for group in self.param_groups:
            pairs = []
            for p in group["params"]:
                if p.grad is not None:
                    _check_grad(p)
                    pairs.append((p, p.grad))
            checked.append((group, pairs))
        return checked

    # --- checkpoints, in torch's layout

    def state_dict(self):
        """{'state': {index: {name: array}}, 'param_groups': [{hyperparameters, 'params': [index,
        ...]}]}: each parameter by its index, counting through the groups in order, as torch's;
        copies, on the host (torch's step counts are 0-d float32 tensors: here 0-d float32
        arrays)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: _host_copy(v, step=k == "step") for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take a state_dict (this twin's or torch's, tensors or arrays): everything is checked
        first (torch's group checks, then each state's keys and shapes, the hyperparameters), and
        nothing changes if anything is wrong."""
        if not (hasattr(state_dict, "keys") and {"state", "param_groups"} <= set(state_dict)):
            raise ValueError(
                "an optimizer's state_dict is a dict with 'state' and 'param_groups', got "
                f"{type(state_dict).__name__}"
                + (f" with keys {sorted(state_dict)}" if hasattr(state_dict, "keys") else "")
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, saved_groups)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        params = {}  # the saved index -> this optimizer's parameter
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            params.update(zip(saved["params"], group["params"]))
            # a hyperparameter the saved group lacks (a state dict from an older torch, say) takes
            # the default, as torch's __setstate__ fills it
            saved_values = {k: v for k, v in saved.items() if k != "params"}
            new = {**self.defaults, **saved_values, "params": group["params"]}
            unknown = set(new) - set(self.defaults) - {"params"}
            if unknown:
                raise ValueError(
                    f"loaded param group has unknown hyperparameter(s) {sorted(unknown)}"
                )
            self._check_hyperparameters(new)
            groups.append(new)
        state = {}
        for i, values in state_dict["state"].items():
            if i not in params:
                raise ValueError(f"loaded state names parameter {i}, which no group holds")
            state[params[i]] = self._checked_state(i, params[i], values)
        self.param_groups, self.state = groups, state  # only now, with every check passed

    def _checked_state(self, i, p, values):
        """One parameter's loaded state, as this optimizer keeps it: arrays of the parameter's
        shape, dtype and device; the step count an int."""
        unknown = set(values) - set(self.STATE_KEYS)
        if unknown:
            raise ValueError(
                f"loaded state of parameter {i} has {sorted(unknown)}, which "
                f"{type(self).__name__} does not keep (it keeps {list(self.STATE_KEYS)})"
            )
        xp = array_module(p.data)
        out = {}
        for key, value in values.items():
            value = _as_host_array(value)
            if key == "step":
                if value.size != 1 or value.reshape(()) != int(value.reshape(())) or value < 0:
                    raise ValueError(f"loaded step of parameter {i} must be a count, got {value}")
                out[key] = int(value.reshape(()))
            elif value.shape != p.data.shape:
                raise ValueError(
                    f"size mismatch for {key} of parameter {i}: copying a state with shape "
                    f"{value.shape} from the state_dict, the parameter's shape is {p.data.shape}"
                )
            elif value.dtype.kind != "f":
                raise TypeError(
                    f"loaded {key} of parameter {i} must be floating point, got {value.dtype}"
                )
            else:
                out[key] = xp.asarray(value.astype(p.data.dtype))  # as torch casts to the param's
        return out


def _check_grad(p):
    """A gradient the step can use: an array of the parameter's kind, dtype and shape (torch
    refuses a .grad of another dtype or shape when it is assigned)."""
    grad = p.grad
    if not hasattr(grad, "shape") or array_module(grad) is not array_module(p.data):
        kind = "CuPy" if array_module(p.data) is not np else "NumPy"
        raise TypeError(
            f"a parameter's .grad must be a {kind} array like its data, got {type(grad).__name__}"
        )
    if grad.dtype != p.data.dtype:
        raise TypeError(
            f"a gradient of dtype {grad.dtype} was given for a parameter of dtype "
            f"{p.data.dtype} (torch refuses to assign it): pass "
            f"grad.astype(np.{p.data.dtype})"
        )
    if grad.shape != p.data.shape:
        raise ValueError(
            f"a gradient of shape {grad.shape} was given for a parameter of shape {p.data.shape}"
        )


def _host_copy(value, step=False):
    """A state value as state_dict hands it out: a NumPy copy; a step count as torch's 0-d
    float32."""
    return np.array(value, dtype=np.float32) if step else host_copy(value)


def _as_host_array(value):
    """A tensor (any device), a CuPy or NumPy array, or a number, as a NumPy array."""
    return np.asarray(to_host(untensor(value)))


SWITCHES = ("foreach", "differentiable", "fused", "capturable")


def _reject_implementation_switches(group):
    for name in SWITCHES:
        if group.get(name):
            raise NotImplementedError(
                f"{name}={group[name]!r} is a torch implementation switch that scratch.optim does "
                "not have"
            )


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    For each parameter theta with gradient g, at step t (torch.optim.SGD's rule):
        g <- -g                          if maximize
        g <- g + weight_decay * theta    if weight_decay != 0   (L2 penalty, after the sign flip)
        if momentum != 0:
            b <- g                                       at the first step (no dampening on it)
            b <- momentum * b + (1 - dampening) * g      afterwards
            g <- g + momentum * b   if nesterov,   else   g <- b
        theta <- theta - lr * g
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    STATE_KEYS = ("momentum_buffer",)

    def _check_hyperparameters(self, group):
        _reject_implementation_switches(group)
        group["lr"] = _validate.real_number(
            "lr", group["lr"], low=0.0, message="Invalid learning rate"
        )
        group["momentum"] = _validate.real_number(
            "momentum", group["momentum"], low=0.0, message="Invalid momentum value"
        )
        group["weight_decay"] = _validate.real_number(
            "weight_decay", group["weight_decay"], low=0.0, message="Invalid weight_decay value"
        )
        group["dampening"] = _validate.real_number(
            "dampening", group["dampening"], message="Invalid dampening value"
        )
        for name in ("nesterov", "maximize"):
            group[name] = _validate.flag(name, group[name])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self):
        for group, grads in self._checked_grads():
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov, maximize = (
                group["weight_decay"],
                group["nesterov"],
                group["maximize"],
            )
            for p, grad in grads:
                g = -grad if maximize else grad
                if weight_decay != 0:
                    g = g + weight_decay * p.data  # d/dtheta of (weight_decay / 2) * ||theta||^2
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= momentum
                        # (no temporary when undamped)
                        buf += g if dampening == 0 else (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                p.data -= lr * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with optional AMSGrad and L2 or decoupled (AdamW) weight decay.

    For each parameter theta with gradient g, at step t = 1, 2, ... (torch.optim.Adam's rule):
        g <- -g                                  if maximize
        weight decay, if weight_decay != 0:
            theta <- theta * (1 - lr * weight_decay)   if decoupled_weight_decay   (AdamW)
            g <- g + weight_decay * theta              otherwise                    (L2 penalty)
        m <- beta1 * m + (1 - beta1) * g               (first moment, m_0 = 0)
        v <- beta2 * v + (1 - beta2) * g^2             (second moment, v_0 = 0)
        v_max <- max(v_max, v)                   if amsgrad; then v_max replaces v below
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    The two divisions by (1 - beta^t) undo the bias of starting m and v at zero. Note that torch's
    AMSGrad keeps the max of the raw v (before that correction), as its code does; its docs'
    pseudocode writes the max of the corrected one, which differs. The code is what runs.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    STATE_KEYS = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _check_hyperparameters(self, group):
        _reject_implementation_switches(group)
        group["lr"] = _validate.real_number(
            "lr", group["lr"], low=0.0, message="Invalid learning rate"
        )
        group["eps"] = _validate.real_number(
            "eps", group["eps"], low=0.0, message="Invalid epsilon value"
        )
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1 = _validate.real_number(
            "betas[0]",
            betas[0],
            low=0.0,
            high=1.0,
            high_open=True,
            message="Invalid beta parameter at index 0",
        )
        beta2 = _validate.real_number(
            "betas[1]",
            betas[1],
            low=0.0,
            high=1.0,
            high_open=True,
            message="Invalid beta parameter at index 1",
        )
        group["betas"] = (beta1, beta2)
        for name in ("amsgrad", "maximize", "decoupled_weight_decay"):
            group[name] = _validate.flag(name, group[name])
        group["weight_decay"] = _validate.real_number(
            "weight_decay", group["weight_decay"], low=0.0, message="Invalid weight_decay value"
        )

    def step(self):
        for group, grads in self._checked_grads():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, maximize = (
                group["weight_decay"],
                group["amsgrad"],
                group["maximize"],
            )
            for p, grad in grads:
                xp = array_module(p.data)
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(p.data)
                    state["exp_avg_sq"] = xp.zeros_like(p.data)
                if amsgrad and "max_exp_avg_sq" not in state:  # (a loaded state without it, too)
                    state["max_exp_avg_sq"] = xp.zeros_like(p.data)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]

                g = -grad if maximize else grad
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        p.data *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * p.data
                _lerp_(m, g, 1 - beta1)  # m <- beta1 * m + (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g  # v <- beta2 * v + (1 - beta2) * g^2
                if amsgrad:
                    xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]

                step_size = lr / (1 - beta1**t)
                bias_correction2_sqrt = (1 - beta2**t) ** 0.5
                # theta -= step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps)), in torch's
                # order of operations, in one buffer: at a million parameters each temporary is 4 MB
                # of traffic
                update = xp.sqrt(v)
                update /= bias_correction2_sqrt
                update += eps  # the denominator
                xp.divide(m, update, out=update)
                update *= step_size
                p.data -= update


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam whose weight decay shrinks the parameters
    directly, theta <- theta * (1 - lr * weight_decay), instead of adding weight_decay * theta to
    the gradient (where Adam's scaling would weaken it). torch.optim.AdamW's defaults: the
    decay is on, at 0.01."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


def _lerp_(start, end, weight):
    """start <- start + weight * (end - start), in place, rounded as torch.lerp_ rounds.

    torch switches formulas at weight 0.5 so that weight 1 gives exactly `end`; with beta1 = 0 the
    plain formula would leave an ulp of the old m behind, and Adam can amplify an ulp (see tests).
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
