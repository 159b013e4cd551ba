"""nnbox dtypes: thin named wrappers over NumPy dtypes, printed as torch prints them."""
from __future__ import annotations

import builtins as _b

import numpy as np

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool


class dtype:
    """A tensor element type (``nnbox.float32`` ...), backed by a NumPy dtype.

    >>> import nnbox
    >>> nnbox.float32, nnbox.float32.is_floating_point
    (torch.float32, True)
    """

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        if np_dtype is None:  # bfloat16: its NumPy dtype comes from ml_dtypes, loaded on first use
            self.is_floating_point, self.is_complex, self.is_signed, self.itemsize = True, False, True, 2
            return
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind in "fV"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "fic"
        self.itemsize = self.np.itemsize

    def __getattr__(self, attr: str):
        # only reached while a slot is unset: bfloat16's ``np`` before ml_dtypes is loaded
        if attr == "np" and self.name == "bfloat16":
            return load_bfloat16()
        raise AttributeError(f"'torch.dtype' object has no attribute '{attr}'")

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
# torch's brain float (8 exponent bits, like float32, and 7 mantissa bits).  NumPy has none: its
# arrays are ml_dtypes' bfloat16, the field's NumPy extension type, imported on first use so that
# ``import nnbox`` does not pay for it (see ``load_bfloat16``).
bfloat16 = dtype("bfloat16", None)

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
_NAMES["bfloat16"] = bfloat16

# The NumPy dtype of bfloat16 once loaded (None before): ``is_bf16(arr.dtype)`` is then one compare.
BF16 = [None]
_on_bf16_load = []  # callbacks run once ml_dtypes is loaded (the op layer's bfloat16 routing)

BF16_MISSING = ("torch.bfloat16 needs the ml_dtypes package (NumPy has no bfloat16 of its own): "
                "pip install ml_dtypes")


def load_bfloat16() -> np.dtype:
    """Import ml_dtypes and register its bfloat16 as ``nnbox.bfloat16``'s NumPy dtype.

    >>> import nnbox
    >>> str(nnbox.bfloat16.np)
    'bfloat16'
    """
    if BF16[0] is not None:
        return BF16[0]
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(BF16_MISSING) from None
    npd = np.dtype(ml_dtypes.bfloat16)
    bfloat16.np = npd
    bfloat16.itemsize = npd.itemsize
    _FROM_NP[npd] = bfloat16
    BF16[0] = npd
    for fn in _on_bf16_load:
        fn()
    return npd


def is_float(d: np.dtype) -> builtins_bool:
    """Is this NumPy dtype a real floating-point type torch knows (bfloat16, of NumPy kind 'V', too)?"""
    return d.kind == "f" or (d.kind == "V" and d is BF16[0])


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The nnbox dtype of a NumPy dtype; raises TypeError for types torch has no equivalent of."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        try:
            npd = np.dtype(np_dtype)
            if npd.name == "bfloat16" and BF16[0] is None and npd.kind == "V":  # ml_dtypes' array
                load_bfloat16()
            return _FROM_NP[npd]
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
    if type(d) is not dtype or d not in (float32, float64, float16, bfloat16):
        raise TypeError("only floating-point types are supported as the default type")
    if d is bfloat16:
        load_bfloat16()  # a clear error now if ml_dtypes is missing
    _default[0] = d


def category(d: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex: the order torch promotes across."""
    k = d.kind
    return 0 if k == "b" else 1 if k in "iu" else 2 if k in "fV" else 3  # V: bfloat16
