"""NumPy's floating-point warnings silenced inside nnbox's ops, as torch computes inf and nan quietly.

``log(0)``, ``0 / 0`` or ``exp(1000)`` give ``-inf``, ``nan`` and ``inf`` in torch without a word;
NumPy would print a ``RuntimeWarning`` for each.  Ops run between ``quiet()`` and ``restore(token)``,
which switch NumPy's error state for the current context only (the user's ``np.seterr`` and
``np.errstate`` outside nnbox are untouched).  ``np.errstate`` costs about a microsecond per call,
half of a small op, so NumPy's context variable is set directly when it is there (about 70 ns).
"""
from __future__ import annotations

from typing import Any

import numpy as np

try:  # NumPy 2 keeps the error state in a context variable; np.errstate sets it
    from numpy._core._ufunc_config import _extobj_contextvar as _state

    with np.errstate(all="ignore"):
        _IGNORE = _state.get()
except (ImportError, AttributeError):  # pragma: no cover - another NumPy layout: the public way
    _state = None


def quiet() -> Any:
    """Ignore floating-point errors until ``restore(token)``; returns the token."""
    if _state is not None:
        return _state.set(_IGNORE)
    ctx = np.errstate(all="ignore")  # pragma: no cover
    ctx.__enter__()  # pragma: no cover
    return ctx  # pragma: no cover


def restore(token: Any) -> None:
    """Undo the ``quiet()`` that returned ``token``."""
    if _state is not None:
        _state.reset(token)
    else:  # pragma: no cover
        token.__exit__(None, None, None)


class ignore_fp_errors:
    """``with ignore_fp_errors():`` the same, for the few ops computed outside ``Function.apply``
    (integer-valued results such as ``floor_divide``, which have no graph)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = quiet()

    def __exit__(self, *exc) -> None:
        restore(self._token)
