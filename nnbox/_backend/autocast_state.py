"""The state ``torch.autocast`` switches, per device type: on/off, the low dtype, the cast cache.

It lives in the backend layer because the op dispatcher (``nnbox/ops/_lowp.py``) reads it on every
op once autocast has been used; ``nnbox.amp.autocast`` and the ``torch.set_autocast_*`` functions
write it.
"""
from __future__ import annotations

from . import dtype as _dt


class DeviceState:
    """Autocast's switches for one device type."""

    __slots__ = ("cache", "cache_enabled", "dtype", "enabled")

    def __init__(self, low: _dt.dtype) -> None:
        self.enabled = False
        self.dtype = low
        self.cache_enabled = True
        self.cache: dict = {}


# torch's defaults: CPU autocast runs in bfloat16, CUDA autocast in float16
STATE = {"cpu": DeviceState(_dt.bfloat16), "cuda": DeviceState(_dt.float16)}
any_on = [False]  # is autocast on for some device type (the dispatcher's one check)
nesting = [0]  # autocast regions entered and not left; the cast cache is cleared at 0
on_enable: list = []  # callbacks run when autocast is switched on (the dispatcher turns itself on)


def set_enabled(device_type: str, enabled: bool) -> None:
    STATE[device_type].enabled = bool(enabled)
    any_on[0] = any(s.enabled for s in STATE.values())
    if any_on[0]:
        for fn in on_enable:
            fn()


def clear_cache() -> None:
    for s in STATE.values():
        s.cache.clear()
