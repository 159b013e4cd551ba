"""``torch.cuda.Stream``/``Event`` and the ``stream()`` context, over CuPy's streams and events."""
from __future__ import annotations

from .._backend.device import require_cupy


class Stream:
    """A CUDA stream: work issued inside ``with nnbox.cuda.stream(s):`` runs on it."""

    def __init__(self, device=None, priority: int = 0, _cp_stream=None):
        cp = require_cupy()
        self._cp = _cp_stream if _cp_stream is not None else cp.cuda.Stream(non_blocking=True)
        self.device = device
        self.priority = priority

    def synchronize(self) -> None:
        self._cp.synchronize()

    def query(self) -> bool:
        return bool(self._cp.done)

    def wait_event(self, event: Event) -> None:
        self._cp.wait_event(event._cp)

    def wait_stream(self, stream: Stream) -> None:
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        event = event if event is not None else Event()
        event.record(self)
        return event

    @property
    def cuda_stream(self) -> int:
        return self._cp.ptr

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self._cp == other._cp

    def __hash__(self) -> int:
        return hash(self._cp.ptr)

    def __repr__(self) -> str:
        return f"<nnbox.cuda.Stream device=cuda:0 cuda_stream={hex(self._cp.ptr)}>"


class Event:
    """A CUDA event; ``elapsed_time`` (milliseconds) needs ``enable_timing=True`` on both ends."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        cp = require_cupy()
        self.enable_timing = enable_timing
        self._cp = cp.cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)
        self._recorded = False

    def record(self, stream: Stream | None = None) -> None:
        self._cp.record(None if stream is None else stream._cp)
        self._recorded = True

    def synchronize(self) -> None:
        self._cp.synchronize()

    def query(self) -> bool:
        return bool(self._cp.done)

    def wait(self, stream: Stream | None = None) -> None:
        (stream or current_stream())._cp.wait_event(self._cp)

    def elapsed_time(self, end_event: Event) -> float:
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        return float(require_cupy().cuda.get_elapsed_time(self._cp, end_event._cp))


def current_stream(device=None) -> Stream:
    cp = require_cupy()
    return Stream(_cp_stream=cp.cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    cp = require_cupy()
    return Stream(_cp_stream=cp.cuda.Stream.null)


class stream:  # noqa: N801 - torch's name
    """Context manager: CuPy work inside runs on ``s`` (``None`` leaves the current stream)."""

    def __init__(self, s: Stream | None):
        self.s = s

    def __enter__(self):
        if self.s is not None:
            self.s._cp.__enter__()
        return self.s

    def __exit__(self, *exc):
        if self.s is not None:
            self.s._cp.__exit__(*exc)
