"""Differentiable dtype and device changes: ``Tensor.to``, ``.float()``, ``.cuda()`` ..."""
from __future__ import annotations

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import as_device, device_of, move, xp_of
from .._tensor import Tensor
from ..autograd.function import Function


class Cast(Function):
    _array_api = True
    _twice = True
    _torch_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, np_dtype):
        ctx.src = a.dtype
        return a.astype(np_dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        if ctx.src.kind in "fV" and xp.iscomplexobj(grad):  # a real input gets the real part
            grad = xp.real(grad)
        return xp.astype(grad, ctx.src, copy=False) if ctx.src.kind in "fcV" else None, None


class ToDevice(Function):
    _array_api = True
    _twice = True
    _torch_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dev):
        ctx.src = device_of(a)
        return move(a, dev)

    @staticmethod
    def backward(ctx, grad):
        return ToDevice.run(grad, ctx.src), None  # a node itself under create_graph


def cast(t: Tensor, np_dtype) -> Tensor:
    """``t`` in ``np_dtype`` (differentiable); ``t`` itself when nothing changes."""
    if t._data.dtype == np_dtype:
        return t
    return Cast.apply(t, np_dtype)


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _dt.dtype) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, bool):
            if non_blocking is False:
                non_blocking = a
            else:
                copy = a
        elif a is not None:
            dev = a
    return (as_device(dev) if dev is not None else None), dtype, copy


def to(self: Tensor, *args, **kwargs) -> Tensor:
    """Move and/or cast: ``t.to('cuda')``, ``t.to(torch.float64)``, ``t.to(other)``.

    >>> import nnbox
    >>> nnbox.tensor([1, 2]).to(nnbox.float32)
    tensor([1., 2.])
    """
    dev, dtype, copy = _parse_to(args, dict(kwargs))
    out = self
    if dtype is not None:
        out = cast(out, _dt.to_numpy_dtype(dtype))
    if dev is not None and dev != out.device:
        if dev.type == "cuda" and dev.index is None:
            from .._backend.device import require_cupy

            require_cupy()
        if not (dev.type == "cuda" and out.device.type == "cuda" and dev.index is None):
            out = ToDevice.apply(out, dev)
    if copy and out is self:
        out = self.clone()
    return out


def _caster(dt):
    def method(self: Tensor, memory_format=None) -> Tensor:
        return cast(self, dt.np)

    method.__name__ = dt.name
    method.__doc__ = f"``self.to({dt!r})``"
    return method


def cpu(self: Tensor, memory_format=None) -> Tensor:
    return self if type(self._data) is np.ndarray else ToDevice.apply(self, as_device("cpu"))


def cuda(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    from .._backend.device import require_cupy

    cp = require_cupy()
    if device is None:
        device = cp.cuda.runtime.getDevice()
    dev = as_device(device if not isinstance(device, int) else f"cuda:{device}")
    return self if self.device == dev else ToDevice.apply(self, dev)


_LEGACY = {
    "torch.FloatTensor": _dt.float32, "torch.DoubleTensor": _dt.float64, "torch.HalfTensor": _dt.float16,
    "torch.BFloat16Tensor": _dt.bfloat16,
    "torch.LongTensor": _dt.int64, "torch.IntTensor": _dt.int32, "torch.ShortTensor": _dt.int16,
    "torch.CharTensor": _dt.int8, "torch.ByteTensor": _dt.uint8, "torch.BoolTensor": _dt.bool,
}


def type_(self: Tensor, dtype=None, non_blocking: bool = False, **kwargs):
    """Without arguments: the legacy type name (``'torch.FloatTensor'``); with a dtype: a cast."""
    from .._tensor_str import legacy_type_name

    if dtype is None:
        name = legacy_type_name(self._data.dtype)
        return name if self.is_cpu else name.replace("torch.", "torch.cuda.")
    if isinstance(dtype, str):
        cuda_ = ".cuda." in dtype
        dt = _LEGACY.get(dtype.replace("torch.cuda.", "torch."))
        if dt is None:
            raise ValueError(f"invalid type: '{dtype}'")
        out = cast(self, dt.np)
        return out.cuda() if cuda_ else out
    return cast(self, _dt.to_numpy_dtype(dtype))


def pin_memory(self: Tensor, device=None) -> Tensor:
    """A copy of this CPU tensor in page-locked host memory (CuPy's pinned pool), from which a
    ``.to("cuda", non_blocking=True)`` copy can run asynchronously; ``self`` if already pinned."""
    from .._backend.device import cupy_or_none

    if cupy_or_none() is None:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if not self.is_cpu:
        raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
    if is_pinned(self):
        return self
    import cupyx  # noqa: PLC0415 - only with CuPy present

    buf = cupyx.empty_pinned(self._data.shape, self._data.dtype)
    buf[...] = self._data
    out = Tensor._make(buf)
    return out.requires_grad_(True) if self._rg else out


def is_pinned(self: Tensor, device=None) -> bool:
    """True when this CPU tensor's memory is page-locked (made by ``pin_memory``)."""
    from .._backend.device import _cupy

    cp = _cupy[0]
    if cp is None or not self.is_cpu:
        return False
    r = self._data
    while isinstance(r, np.ndarray) and r.base is not None:
        r = r.base  # cupyx.empty_pinned builds its array on a PinnedMemoryPointer
    return isinstance(r, cp.cuda.PinnedMemoryPointer)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    return self.to(other.dtype).to(other.device)


Tensor.to = to
Tensor.cpu = cpu
Tensor.cuda = cuda
Tensor.type = type_
Tensor.type_as = type_as
Tensor.pin_memory = pin_memory
Tensor.is_pinned = is_pinned
Tensor.float = _caster(_dt.float32)
Tensor.double = _caster(_dt.float64)
Tensor.half = _caster(_dt.float16)
Tensor.bfloat16 = _caster(_dt.bfloat16)
Tensor.long = _caster(_dt.int64)
Tensor.int = _caster(_dt.int32)
Tensor.short = _caster(_dt.int16)
Tensor.char = _caster(_dt.int8)
Tensor.byte = _caster(_dt.uint8)
Tensor.bool = _caster(_dt.bool)
