"""``repr`` of tensors, formatted the way torch prints them (4 decimals, aligned columns,
scientific notation when the magnitudes call for it, ``...`` beyond 1000 elements)."""
from __future__ import annotations

import math

import numpy as np

from ._backend import dtype as _dt


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None) -> None:
    """Change how tensors print (as ``torch.set_printoptions``)."""
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
    for name, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            setattr(PRINT_OPTS, name, v)
    PRINT_OPTS.sci_mode = sci_mode


_LEGACY = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
           "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
           "complex64": "ComplexFloat", "complex128": "ComplexDouble", "bfloat16": "BFloat16"}


def legacy_type_name(np_dtype) -> str:
    return f"torch.{_LEGACY.get(np.dtype(np_dtype).name, 'Float')}Tensor"


class _Formatter:
    """Chooses one format for every element so that columns line up.

    As torch: the width and the fixed/scientific choice come from the non-zero finite values only
    (nan, inf and 0 never widen a column); floats that are all integers print as ``3.``; scientific
    notation when the largest/smallest magnitude ratio exceeds 1000, the largest exceeds 1e8, or
    (for non-integers) the smallest is below 1e-4.
    """

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind in "fcV"
        self.int_mode = True
        self.sci = False
        self.width = 1
        if not self.floating:
            if values.size:
                self.width = max(len(self._plain(v)) for v in values.ravel().tolist())
            return
        v = values.astype(np.float64).ravel()
        finite = v[np.isfinite(v) & (v != 0)]
        if finite.size == 0:
            return
        a = np.abs(finite)
        amin, amax = float(a.min()), float(a.max())
        self.int_mode = bool((finite == np.ceil(finite)).all())
        self.sci = amax / amin > 1000.0 or amax > 1.0e8 or (amin < 1.0e-4 and not self.int_mode)
        if PRINT_OPTS.sci_mode is not None:
            self.sci = PRINT_OPTS.sci_mode
        # the column width is that of the widest non-zero finite value in the chosen format
        self.width = max(len(self._fmt(x)) for x in finite.tolist())

    @staticmethod
    def _plain(x) -> str:
        return str(x)

    def _fmt(self, x) -> str:
        if not self.floating:
            return self._plain(x)
        x = float(x)
        p = PRINT_OPTS.precision
        if self.sci:
            return f"{x:.{p}e}"
        if self.int_mode:
            s = f"{x:.0f}"
            return s if (math.isinf(x) or math.isnan(x)) else s + "."
        return f"{x:.{p}f}"

    def format(self, x) -> str:
        return self._fmt(x).rjust(self.width)


class _ComplexFormatter:
    """torch's complex format: real parts with one formatter, imaginary parts with another, each
    chosen from its own values; the imaginary part is signed and unpadded (``-3.0000-10.0000j``)."""

    def __init__(self, values: np.ndarray):
        self.re = _Formatter(values.real)
        self.im = _Formatter(values.imag)
        self.width = self.re.width + self.im.width + 1  # the imaginary part carries its sign; + "j"

    def _fmt(self, x) -> str:
        return self._join(self.re._fmt(x.real), self.im._fmt(x.imag))

    def format(self, x) -> str:
        return self._join(self.re.format(x.real), self.im.format(x.imag))

    @staticmethod
    def _join(re: str, im: str) -> str:
        im = (im + "j").lstrip()
        return re + im if im[0] in "+-" else re + "+" + im


def _summarize(a: np.ndarray) -> np.ndarray:
    """The elements that will be shown (edge items of every dim) for choosing the format."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a.reshape(1)
    if a.shape[0] > 2 * e:
        parts = [a[:e], a[-e:]]
    else:
        parts = [a]
    if a.ndim == 1:
        return np.concatenate(parts)
    return np.concatenate([_summarize(x).ravel() for p in parts for x in p]) if any(p.size for p in parts) else a.ravel()


def _fmt_array(a: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    e = PRINT_OPTS.edgeitems
    if a.ndim == 1:
        elem_w = fmt.width + 2
        per_line = max(int(math.floor((PRINT_OPTS.linewidth - indent) / elem_w)), 1)
        if summarize and a.shape[0] > 2 * e:
            items = [fmt.format(x) for x in a[:e].tolist()] + [" ..."] + [fmt.format(x) for x in a[-e:].tolist()]
        else:
            items = [fmt.format(x) for x in a.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    if summarize and a.shape[0] > 2 * e:
        rows = [_fmt_array(x, fmt, indent + 1, summarize) for x in a[:e]] + ["..."] + \
               [_fmt_array(x, fmt, indent + 1, summarize) for x in a[-e:]]
    else:
        rows = [_fmt_array(x, fmt, indent + 1, summarize) for x in a]
    return "[" + sep.join(rows) + "]"


def format_array(a: np.ndarray, indent: int) -> str:
    if a.size == 0:
        return "[]"
    if a.dtype.kind == "V":  # bfloat16: its values are exact in float32, which NumPy formats
        a = a.astype(np.float32)
    summarize = a.size > PRINT_OPTS.threshold
    shown = _summarize(a) if summarize else a
    fmt = _ComplexFormatter(shown) if a.dtype.kind == "c" else _Formatter(shown)
    if a.ndim == 0:
        return fmt._fmt(a.item())
    return _fmt_array(a, fmt, indent, summarize)


def tensor_repr(t, prefix: str = "tensor(") -> str:
    arr = t._data if type(t._data) is np.ndarray else t._data.get()
    indent = len(prefix)
    body = format_array(arr, indent)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    dt = arr.dtype
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dt != _dt.get_default_dtype().np:  # nothing to infer an int64/bool dtype from: show it
            suffixes.append(f"dtype={_dt.from_numpy_dtype(dt)!r}")
    elif dt not in (_dt.get_default_dtype().np, np.dtype(np.int64), np.dtype(np.bool_)) and not (
        dt == np.complex64 and _dt.get_default_dtype() is _dt.float32
    ):
        suffixes.append(f"dtype={_dt.from_numpy_dtype(dt)!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    out = prefix + body
    last = len(out) - out.rfind("\n") + 1  # torch's count (one more than the visible width)
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            out += ",\n" + " " * indent + s
            last = indent + len(s)
        else:
            out += ", " + s
            last += len(s) + 2
    return out + ")"
