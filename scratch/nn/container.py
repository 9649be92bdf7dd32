"""Sequential: modules applied in order. Twin of torch.nn.Sequential (state_dict keys '0.weight',
...)."""

from scratch.nn.module import Module


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential takes scratch.nn Modules, got {type(module).__name__} at position "
                    f"{i}"
                )
            setattr(self, str(i), module)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, input):
        for module in self:
            input = module(input)
        return input

    def backward(self, grad_output, *, input_grad=True):
        """dL/d output -> dL/d input; input_grad=False lets the first module skip dL/d input
        (None)."""
        modules = list(self)
        if not modules:  # an empty Sequential is the identity, as in torch
            return grad_output if input_grad else None
        # the chain rule: each module turns dL/d(its output) into dL/d(its input), last to first
        for module in reversed(modules[1:]):
            grad_output = module.backward(grad_output)
        return modules[0].backward(grad_output, input_grad=input_grad)
