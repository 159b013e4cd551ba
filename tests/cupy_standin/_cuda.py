"""``cupy.cuda`` for the stand-in: runtime queries, devices, streams, events, memory pools."""
from __future__ import annotations

import time
import types

from . import _memory
from ._array import Device

device_count = [1]  # how many "GPUs" the stand-in shows (tests may raise it)


class CUDARuntimeError(RuntimeError):
    pass


def _check(i: int) -> int:
    if not 0 <= int(i) < device_count[0]:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    return int(i)


def _get_device() -> int:
    return Device._current[0]


def _set_device(i: int) -> None:
    Device._current[0] = _check(i)


def _props(i: int) -> dict:
    _check(i)
    return {"name": b"NVIDIA Stand-in (cupy over NumPy)", "totalGlobalMem": 80 * 2**30, "major": 9, "minor": 0,
            "multiProcessorCount": 132}


runtime = types.ModuleType("cupy.cuda.runtime")
runtime.getDeviceCount = lambda: device_count[0]
runtime.getDevice = _get_device
runtime.setDevice = _set_device
runtime.deviceSynchronize = lambda: None
runtime.getDeviceProperties = _props
runtime.memGetInfo = lambda: (80 * 2**30 - _memory._default_pool.total_bytes(), 80 * 2**30)
runtime.runtimeGetVersion = lambda: 12040
runtime.driverGetVersion = lambda: 12040
runtime.CUDARuntimeError = CUDARuntimeError
runtime.is_hip = False


class Stream:
    """A CUDA stream: work on the stand-in is synchronous, so a stream only keeps the context."""

    null: Stream
    _stack: list = []

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.ptr = 0 if null else id(self)
        self.non_blocking = non_blocking

    def __enter__(self):
        Stream._stack.append(self)
        return self

    def __exit__(self, *exc):
        Stream._stack.pop()

    def use(self):
        Stream._stack[:] = [self]
        return self

    def synchronize(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return True

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event) -> None:
        pass

    def __eq__(self, other):
        return isinstance(other, Stream) and other.ptr == self.ptr

    def __hash__(self):
        return hash(self.ptr)


Stream.null = Stream(null=True)


def get_current_stream(device_id=None) -> Stream:
    return Stream._stack[-1] if Stream._stack else Stream.null


class Event:
    """A CUDA event: records the host clock (the stand-in's work is done when it is issued)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing = disable_timing
        self._t = None

    def record(self, stream=None) -> None:
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return True


def get_elapsed_time(start: Event, end: Event) -> float:
    if start.disable_timing or end.disable_timing:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: invalid resource handle")
    if start._t is None or end._t is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: invalid resource handle")
    return (end._t - start._t) * 1000.0


def build() -> types.ModuleType:
    cuda = types.ModuleType("cupy.cuda")
    cuda.runtime = runtime
    cuda.Device = Device
    cuda.Stream = Stream
    cuda.Event = Event
    cuda.get_current_stream = get_current_stream
    cuda.get_elapsed_time = get_elapsed_time
    cuda.MemoryPool = _memory.MemoryPool
    cuda.PinnedMemoryPool = _memory.PinnedMemoryPool
    cuda.MemoryPointer = _memory.MemoryPointer
    cuda.PinnedMemoryPointer = _memory.PinnedMemoryPointer
    cuda.alloc_pinned_memory = _memory.alloc_pinned_memory
    cuda.set_allocator = _memory.set_allocator
    cuda.get_allocator = _memory.get_allocator
    cuda.set_pinned_memory_allocator = lambda allocator=None: None
    cuda.is_available = lambda: device_count[0] > 0
    cuda.CUDARuntimeError = CUDARuntimeError
    memory = types.ModuleType("cupy.cuda.memory")
    memory.OutOfMemoryError = _memory.OutOfMemoryError
    cuda.memory = memory
    return cuda
