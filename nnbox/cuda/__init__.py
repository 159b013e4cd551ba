"""``nnbox.cuda``: GPU availability and synchronisation, answered through CuPy (imported lazily)."""
from __future__ import annotations

from .._backend.device import cupy_or_none, require_cupy


def is_available() -> bool:
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    return cupy_or_none() is not None


def device_count() -> int:
    cp = cupy_or_none()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device() -> int:
    return require_cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    from .._backend.device import as_device

    d = as_device(device) if not isinstance(device, int) else None
    require_cupy().cuda.runtime.setDevice(device if isinstance(device, int) else (d.index or 0))


def synchronize(device=None) -> None:
    cp = cupy_or_none()
    if cp is not None:
        cp.cuda.runtime.deviceSynchronize()


def get_device_name(device=None) -> str:
    cp = require_cupy()
    idx = 0 if device is None else (device if isinstance(device, int) else (device.index or 0))
    return cp.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def manual_seed(seed: int) -> None:
    from .._backend.random import _cuda_generators

    for g in _cuda_generators.values():
        g.manual_seed(seed)


manual_seed_all = manual_seed


def empty_cache() -> None:
    cp = cupy_or_none()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()
