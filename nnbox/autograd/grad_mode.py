"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

The flag is a one-element list so the hot path (``Function.apply``) reads it with one index.
"""
from __future__ import annotations

import functools

_enabled = [True]
_inference = [False]


def is_grad_enabled() -> bool:
    return _enabled[0]


def is_inference_mode_enabled() -> bool:
    return _inference[0]


class _Mode:
    """A context manager that is also a decorator, like torch's grad-mode classes."""

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError(f"{type(self).__name__} cannot decorate a class")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_Mode):
    """Disable gradient tracking inside the block.

    >>> import nnbox
    >>> x = nnbox.ones(2, requires_grad=True)
    >>> with nnbox.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self):
        self._prev = _enabled[0]
        _enabled[0] = False

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False


class enable_grad(_Mode):
    """Enable gradient tracking inside the block (undoes an outer ``no_grad``)."""

    def __enter__(self):
        self._prev = _enabled[0]
        _enabled[0] = True

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False


class set_grad_enabled(_Mode):
    """Set gradient tracking on or off; works as a call, a context manager or a decorator.

    >>> import nnbox
    >>> with nnbox.set_grad_enabled(False):
    ...     nnbox.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool):
        self._prev = _enabled[0]
        self.mode = bool(mode)
        _enabled[0] = self.mode

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_Mode):
    """Like ``no_grad`` (nnbox has no separate inference tensors), optionally a no-op with mode=False."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = (_enabled[0], _inference[0])
        if self.mode:
            _enabled[0] = False
            _inference[0] = True

    def __exit__(self, *exc):
        _enabled[0], _inference[0] = self._prev
        return False

    def clone(self):
        return inference_mode(self.mode)
