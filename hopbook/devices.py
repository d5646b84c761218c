"""The device a chapter computes on: checked before a run, named in its results."""

import torch


class DeviceMissing(RuntimeError):
    """A device that this machine does not have."""


def require(device: str) -> None:
    """Raise DeviceMissing, saying what to do, unless torch can compute on `device` here."""
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceMissing("device 'cuda' was asked for, but torch sees no GPU on this machine; use -p device cpu")


def describe(device: str) -> str:
    """The device as the results name it: the GPU's model, or cpu."""
    return torch.cuda.get_device_name() if device == "cuda" else "cpu"
