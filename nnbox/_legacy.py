"""``torch.FloatTensor`` and friends: callables that build tensors of one dtype, and that
``isinstance`` checks against."""
from __future__ import annotations

from ._backend import dtype as _dt
from ._tensor import Tensor


class _LegacyMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        d = cls._dtype
        if d is _dt.bfloat16 and _dt.BF16[0] is None:  # no bfloat16 array can exist yet
            return False
        return isinstance(obj, Tensor) and obj._data.dtype == d.np and obj.is_cpu

    def __call__(cls, *args):
        return Tensor(*args, dtype=cls._dtype)


def _legacy(name: str, dt):
    return _LegacyMeta(name, (), {"_dtype": dt})


FloatTensor = _legacy("FloatTensor", _dt.float32)
DoubleTensor = _legacy("DoubleTensor", _dt.float64)
HalfTensor = _legacy("HalfTensor", _dt.float16)
BFloat16Tensor = _legacy("BFloat16Tensor", _dt.bfloat16)
LongTensor = _legacy("LongTensor", _dt.int64)
IntTensor = _legacy("IntTensor", _dt.int32)
ByteTensor = _legacy("ByteTensor", _dt.uint8)
BoolTensor = _legacy("BoolTensor", _dt.bool)
