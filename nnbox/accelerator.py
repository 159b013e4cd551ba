"""``torch.accelerator``: the device-agnostic view of the GPU, which for nnbox is CUDA via CuPy.

>>> import nnbox as torch
>>> dev = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
>>> torch.ones(1, device=dev).device.type in ("cpu", "cuda")
True
"""
from __future__ import annotations

from . import cuda as _cuda
from ._backend.device import device as _device


def is_available() -> bool:
    """True when CuPy sees an NVIDIA GPU (nnbox's only accelerator)."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``device(type='cuda')`` when a GPU is there, else None (torch's answer on a CPU-only build)."""
    return _device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    """How many GPUs CuPy sees (0 without one)."""
    return _cuda.device_count()


def current_device_index() -> int:
    """The index of the current GPU; raises without one, as torch does."""
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    """Make ``device`` (an index or a ``cuda:N`` device) the current GPU."""
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work (nothing to wait for on the CPU)."""
    _cuda.synchronize(device)


def empty_cache() -> None:
    """Return CuPy's cached GPU memory blocks to the driver."""
    _cuda.empty_cache()
