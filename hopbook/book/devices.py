"""The device a chapter computes on: chosen (`auto`) or checked before a run, named in its results;
and the CPU threads a small computation runs with."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class DeviceMissing(RuntimeError):
    """A device that this machine does not have."""


def pick(device: str) -> str:
    """The device a run computes on: for auto, CUDA when torch sees a GPU, else Apple's MPS when
    present, else the CPU; any other name as it is."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def require(device: str) -> None:
    """Raise DeviceMissing, saying what to do, unless torch can compute on `device` here."""
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceMissing("device 'cuda' was asked for, but torch sees no GPU on this machine; "
                            "use -p device auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise DeviceMissing("device 'mps' was asked for, but torch sees no Apple GPU here; use -p device auto or cpu")


def describe(device: str) -> str:
    """The device as the results name it: the GPU's model, Apple MPS, or cpu."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return "Apple MPS" if device == "mps" else device


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch's CPU threads set to n for a with block, then restored. For small models: a second
    thread buys little at their size, and on a busy machine every step of theirs waits for a
    descheduled sibling thread (beside one busy process, a width-64 GPT's step took 2.5x longer on
    two threads than on one; alone, two were 1.24x faster: benchmarks/threads.txt)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
