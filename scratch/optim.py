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
Where this is stricter than torch: a non-finite or non-numeric hyperparameter is rejected
(torch's `lr < 0` check lets NaN through), and a gradient whose shape differs from its parameter's
raises instead of broadcasting. torch's implementation switches (foreach, fused, capturable,
differentiable) do not change the math; asking for them raises NotImplementedError.
"""

from scratch import _validate
from scratch._backend import array_module
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

    def _grads(self, group):
        """(p, grad) for each parameter of the group that has a gradient, the gradient's shape
        checked."""
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(
                    f"a gradient of shape {p.grad.shape} was given for a parameter of shape "
                    f"{p.data.shape}"
                )
            yield p, p.grad


def _reject_implementation_switches(**switches):
    for name, value in switches.items():
        if value:
            raise NotImplementedError(
                f"{name}={value!r} is a torch implementation switch that scratch.optim does not "
                "have"
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
        _reject_implementation_switches(foreach=foreach, differentiable=differentiable, fused=fused)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
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
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self):
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov, maximize = (
                group["weight_decay"],
                group["nesterov"],
                group["maximize"],
            )
            for p, grad in self._grads(group):
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
        _reject_implementation_switches(
            foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused
        )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
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
        group["weight_decay"] = _validate.real_number(
            "weight_decay", group["weight_decay"], low=0.0, message="Invalid weight_decay value"
        )

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, maximize = (
                group["weight_decay"],
                group["amsgrad"],
                group["maximize"],
            )
            for p, grad in self._grads(group):
                xp = array_module(p.data)
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(p.data)
                    state["exp_avg_sq"] = xp.zeros_like(p.data)
                    if amsgrad:
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
