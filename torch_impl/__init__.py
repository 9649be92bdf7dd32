"""The notes, written with torch: file for file and name for name the twins of `scratch/`."""


def copy_weights(scratch_model, torch_model):
    """Give torch_model the scratch model's weights and buffers, through the twins' shared
    state_dict keys: the one line that starts both twins from the same point. Returns torch_model.
    """
    import torch

    torch_model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in scratch_model.state_dict().items()}
    )
    return torch_model
