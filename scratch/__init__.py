"""Deep learning from first principles, in NumPy alone.

Every module here has a PyTorch twin in `torch_impl/` (or in torch itself, for `scratch.nn` and
`scratch.optim`) with the same names, shapes and state_dict keys. This package never imports torch.
"""
