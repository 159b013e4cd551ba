"""``nnbox.cuda``: ``torch.cuda`` as users call it -- availability, devices, seeds, memory
statistics, streams and events -- answered through CuPy (imported lazily)."""
from __future__ import annotations

from .._backend.device import cupy_or_none, require_cupy
from . import amp  # noqa: E402,F401 - torch.cuda.amp.GradScaler
from .memory import (  # noqa: F401
    OutOfMemoryError,
    empty_cache,
    max_memory_allocated,
    memory_allocated,
    memory_reserved,
    reset_peak_memory_stats,
)
from .streams import Event, Stream, current_stream, default_stream, stream  # noqa: F401


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
    idx = current_device() if device is None else (device if isinstance(device, int) else (device.index or 0))
    return cp.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def _seed_device(index: int, seed: int) -> None:
    from .._backend.device import cuda_device
    from .._backend.random import _cuda_generators, generator_for

    generator_for(cuda_device(index))  # made now if it wasn't, so the seed sticks
    _cuda_generators[index].manual_seed(seed)


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator (ignored without a GPU, as in torch)."""
    if cupy_or_none() is not None:
        _seed_device(current_device(), seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator."""
    for i in range(device_count()):
        _seed_device(i, seed)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Can tensors on this GPU be bfloat16?  nnbox keeps them in CuPy's bfloat16 arrays (CuPy 14+
    with ml_dtypes) and computes in float32, so any GPU can when CuPy can (torch's
    ``including_emulation``); natively (``including_emulation=False``) from compute capability 8.0
    (Ampere) on.  False without a GPU."""
    cp = cupy_or_none()
    if cp is None or not _cupy_has_bfloat16(cp):
        return False
    return including_emulation or int(cp.cuda.Device().compute_capability) >= 80


_BF16_IN_CUPY: dict = {}


def _cupy_has_bfloat16(cp) -> bool:
    has = _BF16_IN_CUPY.get(id(cp))
    if has is None:
        try:
            from .._backend.dtype import load_bfloat16

            cp.zeros(1, dtype=load_bfloat16())
            has = True
        except (ImportError, TypeError, ValueError, NotImplementedError):
            has = False
        _BF16_IN_CUPY[id(cp)] = has
    return has


class _DeviceProperties:
    def __init__(self, props: dict):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else name
        self.total_memory = int(props["totalGlobalMem"])
        self.major, self.minor = int(props["major"]), int(props["minor"])
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2**20}MB, multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> _DeviceProperties:
    cp = require_cupy()
    idx = current_device() if device is None else (device if isinstance(device, int) else (device.index or 0))
    return _DeviceProperties(cp.cuda.runtime.getDeviceProperties(idx))


def get_device_capability(device=None) -> tuple:
    p = get_device_properties(device)
    return p.major, p.minor
