"""nnbox's version string, which compares as a version (like ``torch.__version__``).

>>> from nnbox._version import __version__
>>> __version__ >= "0.1", __version__ < (1, 0), str(__version__)
(True, True, '0.1.0')
"""
from __future__ import annotations

import re


class Version(str):
    """A ``str`` that compares with strings and tuples as a release number: ``"0.10" > "0.9"``."""

    @staticmethod
    def _key(v) -> tuple:
        if isinstance(v, tuple):
            return tuple(int(x) for x in v)
        parts = []
        for piece in str(v).split("+")[0].split("."):
            m = re.match(r"\d+", piece)
            if m is None:
                break
            parts.append(int(m.group()))
        return tuple(parts)

    def _cmp(self, other) -> int:
        if not isinstance(other, (str, tuple)):
            return NotImplemented
        a, b = self._key(self), self._key(other)
        n = max(len(a), len(b))
        a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
        return (a > b) - (a < b)

    def __eq__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c == 0

    def __ne__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c != 0

    def __lt__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c < 0

    def __le__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c <= 0

    def __gt__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c > 0

    def __ge__(self, other):
        c = self._cmp(other)
        return c if c is NotImplemented else c >= 0

    __hash__ = str.__hash__


__version__ = Version("0.1.0")
