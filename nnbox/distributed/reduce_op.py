"""``ReduceOp``: the reductions a collective can apply, as ``torch.distributed.ReduceOp``."""
from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    """Reduction for ``all_reduce``, ``reduce`` and ``reduce_scatter``.

    >>> from nnbox.distributed import ReduceOp
    >>> ReduceOp.SUM
    <RedOpType.SUM: 0>
    """

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __repr__(self) -> str:
        # torch prints its C++ enum's name
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"RedOpType.{self.name}"


RedOpType = ReduceOp


def _check_op(op) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a torch.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.PREMUL_SUM:
        raise ValueError("ReduceOp.PREMUL_SUM is not supported by nnbox.distributed")
    return op
