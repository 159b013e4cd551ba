"""Devices: ``cpu`` is NumPy, ``cuda[:N]`` is CuPy (imported only when first needed)."""
from __future__ import annotations

import numpy as np

from . import npx


class device:
    """Where a tensor's array lives.

    >>> import nnbox
    >>> nnbox.device("cuda", 1), nnbox.device("cpu")
    (device(type='cuda', index=1), device(type='cpu'))
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):  # noqa: A002 - torch's name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        name = type
        if ":" in name:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {name}")
            name, _, idx = name.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.type, self.index = name, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_cuda_devices: dict[int, device] = {}


def cuda_device(index: int) -> device:
    d = _cuda_devices.get(index)
    if d is None:
        d = _cuda_devices[index] = device("cuda", index)
    return d


_default_device = [CPU]  # where factories put tensors when no device is named (torch.set_default_device)


def as_device(d) -> device:
    """``d`` as a ``device``; ``None`` means the default device (``cpu`` unless it was changed)."""
    if type(d) is device:
        return d
    if d is None:
        return _default_device[0]
    return device(d)


def set_default_device(d) -> None:
    """Make factory functions and new modules put tensors on ``d`` (``None`` restores ``cpu``).

    >>> import nnbox
    >>> nnbox.set_default_device("cpu"); nnbox.get_default_device()
    device(type='cpu')
    """
    if d is None:
        _default_device[0] = CPU
        return
    dev = d if type(d) is device else device(d)
    if dev.type == "cuda":
        cp = require_cupy()
        if dev.index is None:
            dev = cuda_device(cp.cuda.runtime.getDevice())
    _default_device[0] = dev


def get_default_device() -> device:
    """The device factories use when none is named.

    >>> import nnbox
    >>> nnbox.get_default_device()
    device(type='cpu')
    """
    return _default_device[0]


# --- CuPy, imported lazily -------------------------------------------------------------------

_cupy = [None, False, None]  # module, tried, why not (None: installed, else the reason)


def cupy_or_none():
    """The cupy module if it imports and sees a GPU, else None. Tried once."""
    if not _cupy[1]:
        _cupy[1] = True
        try:
            import cupy  # noqa: PLC0415 - heavy and optional
        except Exception:  # noqa: BLE001 - ImportError, or a broken install
            _cupy[2] = "missing"
            return None
        try:
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy[0] = cupy
                from .flags import apply_tf32

                apply_tf32(cupy)
            else:
                _cupy[2] = "no GPU"
        except Exception as e:  # noqa: BLE001 - a CUDA driver/runtime error
            _cupy[0] = None
            _cupy[2] = f"{type(e).__name__}: {e}"
    return _cupy[0]


def require_cupy():
    """The cupy module, or torch's error for 'cuda' on a machine that can't run it: torch built
    without CUDA raises AssertionError (nnbox without CuPy is that case); torch built with CUDA on
    a machine without a usable GPU raises RuntimeError (CuPy installed, no GPU)."""
    cp = cupy_or_none()
    if cp is None:
        if _cupy[2] == "missing":
            raise AssertionError(
                "Torch not compiled with CUDA enabled: nnbox needs CuPy and an NVIDIA GPU for 'cuda' "
                "tensors (pip install cupy-cuda12x)"
            )
        raise RuntimeError(
            f"Found no NVIDIA driver on your system or no usable GPU ({_cupy[2]}): nnbox's 'cuda' "
            "tensors need an NVIDIA GPU that CuPy can see"
        )
    return cp


def array_module(arr):
    """numpy for NumPy arrays, cupy for CuPy arrays: the ``xp`` every op body is written against."""
    if type(arr) is np.ndarray:
        return np
    cp = _cupy[0]
    if cp is not None and isinstance(arr, cp.ndarray):
        return cp
    return np


# type -> array namespace.  A backward formula asks ``xp_of(value)`` for its namespace: ``numpy`` (or
# ``cupy``) for raw arrays in a first-order backward, and the Tensor-valued namespace
# (``nnbox.ops._tensor_xp``, registered when the ops load) when ``create_graph=True`` hands it Tensors.
_namespaces: dict = {np.ndarray: npx}  # NumPy, minus its slow Python wrappers (see npx.py)


def xp_of(a):
    """The array namespace of ``a``: numpy, cupy, or the Tensor namespace for nnbox Tensors."""
    xp = _namespaces.get(type(a))
    if xp is not None:
        return xp
    tensor_xp = _namespaces.get("tensor")
    if tensor_xp is not None and isinstance(a, tensor_xp.Tensor):  # a Tensor subclass (Parameter)
        return tensor_xp
    return array_module(a)


def register_namespace(key, namespace) -> None:
    """Make ``xp_of`` return ``namespace`` for values of type ``key`` (``"tensor"``: any Tensor)."""
    _namespaces[key] = namespace


def device_of(arr) -> device:
    if type(arr) is np.ndarray:
        return CPU
    cp = _cupy[0]
    if cp is not None and isinstance(arr, cp.ndarray):
        return cuda_device(arr.device.id)
    return CPU


def xp_for(dev: device):
    if dev.type == "cpu":
        return np
    return require_cupy()


def move(arr, dev: device):
    """Copy ``arr`` to ``dev`` (no copy if it is already there)."""
    if dev.type == "cpu":
        if type(arr) is np.ndarray:
            return arr
        return arr.get()
    cp = require_cupy()
    index = dev.index if dev.index is not None else cp.cuda.runtime.getDevice()
    if index >= cp.cuda.runtime.getDeviceCount():
        raise RuntimeError("CUDA error: invalid device ordinal")
    if isinstance(arr, cp.ndarray) and arr.device.id == index:
        return arr
    with cp.cuda.Device(index):
        return cp.asarray(arr)
