"""``torch.cpu``: the CPU as a device module (``torch.cpu.amp.autocast`` lives here)."""
from __future__ import annotations

from . import amp  # noqa: F401


def is_available() -> bool:
    """Always True: the CPU is always there.

    >>> import nnbox
    >>> nnbox.cpu.is_available()
    True
    """
    return True


def device_count() -> int:
    """One: torch counts the CPU as a single device."""
    return 1


def current_device() -> str:
    """``'cpu'``, as torch."""
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU ops finish before they return."""
