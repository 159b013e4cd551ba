"""``torch.return_types``: the named tuples that ``max(dim)``, ``sort``, ``topk``... return.

>>> import nnbox
>>> nnbox.tensor([[1.0, 3.0]]).max(1).indices
tensor([1])
"""
from __future__ import annotations

import collections


class _ReturnType(tuple):
    _fields = ("values", "indices")

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"torch.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    def __reduce__(self):
        return (type(self), (self[0], self[1]))


def _return_type(name: str):
    return type(name, (_ReturnType,), {"_name": name, "__slots__": ()})


max = _return_type("max")  # noqa: A001 - torch's names
min = _return_type("min")  # noqa: A001
sort = _return_type("sort")
topk = _return_type("topk")
kthvalue = _return_type("kthvalue")
median = _return_type("median")
mode = _return_type("mode")
cummax = _return_type("cummax")
cummin = _return_type("cummin")
aminmax = collections.namedtuple("aminmax", ["min", "max"])
