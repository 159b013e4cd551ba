"""nnbox dtypes: thin named wrappers over NumPy dtypes, printed as torch prints them."""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type (``nnbox.float32`` ...), backed by a NumPy dtype.

    >>> import nnbox
    >>> nnbox.float32, nnbox.float32.is_floating_point
    (torch.float32, True)
    """

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "fic"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        # torch prints its dtypes as ``torch.float32``; programs and tests compare those strings.
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self) -> dtype:
        return self


float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
float16 = dtype("float16", np.float16)
int64 = dtype("int64", np.int64)
int32 = dtype("int32", np.int32)
int16 = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)  # noqa: A001 - torch.bool
complex64 = dtype("complex64", np.complex64)
complex128 = dtype("complex128", np.complex128)

# Aliases torch documents.
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128

ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool, complex64, complex128)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The nnbox dtype of a NumPy dtype; raises TypeError for types torch has no equivalent of."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        try:
            return _FROM_NP[np.dtype(np_dtype)]
        except (KeyError, TypeError):
            raise TypeError(
                f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
                "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
            ) from None


def to_numpy_dtype(d) -> np.dtype:
    """Accept an nnbox dtype, a NumPy dtype or a Python type; return the NumPy dtype."""
    if type(d) is dtype:
        return d.np
    if d is builtins_float:  # torch maps Python's float to float64, whatever the default dtype
        return np.dtype(np.float64)
    if d is builtins_int:
        return np.dtype(np.int64)
    if d is builtins_bool:
        return np.dtype(np.bool_)
    return from_numpy_dtype(np.dtype(d)).np


import builtins as _b  # noqa: E402

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool

_default = [float32]


def get_default_dtype() -> dtype:
    """The dtype of new floating-point tensors (float32 unless changed).

    >>> import nnbox
    >>> nnbox.get_default_dtype()
    torch.float32
    """
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    """Set the dtype new floating-point tensors get; only float32 and float64 are allowed (as torch)."""
    if type(d) is not dtype or d not in (float32, float64, float16):
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d


def category(d: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex: the order torch promotes across."""
    k = d.kind
    return 0 if k == "b" else 1 if k in "iu" else 2 if k == "f" else 3
