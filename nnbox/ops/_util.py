"""Helpers every op file uses: broadcasting undo, dtype promotion, argument normalisation."""
from __future__ import annotations

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import array_module, xp_of  # noqa: F401  (xp_of: re-exported for op files)
from .._tensor import Tensor

ndarray = np.ndarray


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of broadcasting (arrays or Tensors alike)."""
    gshape = tuple(grad.shape)
    if gshape == shape:
        return grad
    xp = xp_of(grad)
    lead = len(gshape) - len(shape)
    if lead and gshape[lead:] == shape:  # only leading dims were added (a bias): no reshape view
        return xp.sum(grad, axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    return xp.reshape(xp.sum(grad, axis=axes, keepdims=True), shape)


def is_complex(x) -> bool:
    """Is ``x`` (an array or a Tensor) complex?  Cheap: it is asked on every first-order backward."""
    if type(x) is ndarray:  # the first-order case, without the slower isinstance(np.dtype) below
        return x.dtype.kind == "c"
    d = getattr(x, "dtype", None)
    if d is None:
        return isinstance(x, complex)
    return d.kind == "c" if isinstance(d, np.dtype) else d.is_complex


def conj_if_complex(xp, a):
    """``conj(a)`` for a complex operand, ``a`` itself otherwise: with torch's complex convention a
    product's gradient flows through the conjugate of the other factor (arrays or Tensors alike)."""
    return xp.conj(a) if is_complex(a) else a


# --- dtype promotion, torch's rules ----------------------------------------------------------------
# Categories bool < integer < float.  A Python scalar or a 0-d tensor only lifts the result into a
# higher category (then to the default float / the 0-d tensor's dtype); inside one category the
# dimensioned tensor's dtype wins.  NumPy 2 differs for 0-d arrays and for int + float scalars.

_cache: dict = {}


def result_dtype(a, b) -> np.dtype:
    """The NumPy dtype torch would compute ``a op b`` in (``a`` or ``b`` a Tensor)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        da, db = a._data.dtype, b._data.dtype
        if da == db:
            return da
        key = (da, db, a._data.ndim == 0, b._data.ndim == 0)
        r = _cache.get(key)
        if r is None:
            r = _cache[key] = _promote_tensors(*key)
        return r
    t, s = (a, b) if ta else (b, a)
    dt = t._data.dtype
    return _promote_scalar(dt, s)


def _promote_tensors(da, db, za, zb) -> np.dtype:
    ca, cb = _dt.category(da), _dt.category(db)
    if ca == cb:
        if za != zb:  # same category: the dimensioned tensor decides
            return db if za else da
        return np.result_type(da, db)
    if za == zb:  # both dimensioned (or both 0-d): the higher category's dtype wins (int64 + float16 -> float16)
        return da if ca > cb else db
    # a 0-d tensor in a higher category decides; otherwise the dimensioned one does
    if za:
        return da if ca > cb else db
    return db if cb > ca else da


def _promote_scalar(dt: np.dtype, s) -> np.dtype:
    k = dt.kind
    if isinstance(s, bool):
        return dt
    if isinstance(s, int):
        return np.dtype(np.int64) if k == "b" else dt
    if isinstance(s, float):
        return _dt.get_default_dtype().np if k in "biu" else dt
    if isinstance(s, complex):
        return dt if k == "c" else np.dtype(np.complex64 if dt != np.float64 else np.complex128)
    if isinstance(s, np.generic):
        return _promote_scalar(dt, s.item())
    raise TypeError(f"unsupported operand type: {type(s).__name__}")


def as_scalar_or_tensor(x, name: str = "other"):
    if isinstance(x, np.generic):  # before the number check: np.float64 subclasses float
        return x.item()
    if isinstance(x, (Tensor, bool, int, float, complex)):
        return x
    if isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__"):  # an array kept by forward
        return Tensor._make(x)
    raise TypeError(f"unsupported operand type(s): expected Tensor or Number for '{name}', got {type(x).__name__}")


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
               "complex128": "ComplexDouble"}


def type_name(dt) -> str:
    """torch's scalar-type name of a NumPy dtype (``'Float'``, ``'Long'``, ``'Bool'`` ...), as error
    messages print it."""
    return _TYPE_NAMES.get(np.dtype(dt).name, str(dt))


_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
              "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def cpp_type_name(dt) -> str:
    """The C++ name torch prints for a dtype in some messages (``long int``, ``float``, ``double``)."""
    return _CPP_NAMES.get(np.dtype(dt).name, np.dtype(dt).name)


def not_implemented(kernel: str, dt) -> NotImplementedError:
    """torch's error for an op without a kernel for this dtype: ``"abs_cpu" not implemented for 'Bool'``."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{type_name(dt)}\'')


def named(t: Tensor, name: str) -> Tensor:
    """Give ``t``'s node torch's name for the op that made it (``grad_fn=<MmBackward0>``)."""
    n = t.grad_fn
    if n is not None:
        n._nm = name
    return t


def shape_str(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def norm_dims(dim, ndim: int):
    """``dim`` (int, tuple, list or None) -> tuple of non-negative axes, or None for all."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        return tuple(wrap_dim(d, ndim) for d in dim)
    return (wrap_dim(dim, ndim),)


def wrap_dim(d, ndim: int) -> int:
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise TypeError(f"dim must be an int, got {type(d).__name__}")
    n = max(ndim, 1)
    if d < -n or d >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return int(d) % n if ndim else 0


def sizes(args) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(torch.Size)`` -> tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    elif len(args) == 1 and isinstance(args[0], Tensor):
        args = args[0].tolist()
        args = args if isinstance(args, list) else [args]
    out = []
    for s in args:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        out.append(int(s))
    return tuple(out)


def add_at(out, index, values) -> None:
    """``out[index] += values`` with repeated indices accumulating (NumPy's ``add.at``)."""
    if type(out) is ndarray:
        np.add.at(out, index, values)
    else:
        import cupyx  # noqa: PLC0415 - only reached with CuPy arrays

        cupyx.scatter_add(out, index, values)
