"""Anomaly detection: remember where each node was created; name the op whose backward made NaN."""
from __future__ import annotations

_anomaly = [False, True]  # enabled, check_nan


class detect_anomaly:
    """Context manager: in backward, raise naming the op that produced NaN, and show its forward.

    >>> import nnbox
    >>> x = nnbox.tensor([0.0], requires_grad=True)
    >>> with nnbox.autograd.detect_anomaly():
    ...     try:
    ...         nnbox.sqrt(x).sum().backward()  # d/dx sqrt(0) * 0 -> inf, fine; 0/0 below
    ...     except RuntimeError:
    ...         pass
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = list(_anomaly)
        _anomaly[0], _anomaly[1] = True, self.check_nan

    def __exit__(self, *exc):
        _anomaly[0], _anomaly[1] = self._prev
        return False


class set_detect_anomaly:
    """Turn anomaly detection on or off: as a call or as a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = list(_anomaly)
        _anomaly[0], _anomaly[1] = bool(mode), check_nan

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _anomaly[0], _anomaly[1] = self._prev
        return False


def is_anomaly_enabled() -> bool:
    return _anomaly[0]


def is_anomaly_check_nan_enabled() -> bool:
    return _anomaly[1]
