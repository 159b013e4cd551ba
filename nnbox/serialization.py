"""``nnbox.save`` / ``nnbox.load`` in PyTorch's checkpoint format, without importing torch.

The format (what ``torch.save`` writes since 1.6) is an uncompressed zip archive::

    <name>/data.pkl               the object, pickled (protocol 2); tensors refer to storages
    <name>/data/<key>             one raw little-endian buffer per storage
    <name>/version, byteorder, .format_version, .storage_alignment, .data/serialization_id

A tensor is pickled as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, OrderedDict())`` where ``storage`` is a *persistent id*
``('storage', torch.FloatStorage, key, location, numel)``; tensors that view the same memory
share one storage, exactly as in torch, so views stay views after a round trip.

Loading is safe by default (``weights_only=True``): the unpickler only resolves the handful of
globals a checkpoint needs (the torch rebuild functions, storage types, dtypes, ``torch.device``,
``torch.Size``, ``collections.OrderedDict`` and harmless builtins) to nnbox equivalents.  Any other
global -- ``os.system``, a class, anything -- raises ``pickle.UnpicklingError`` before anything is
called.  Writes to a path are atomic: a temporary file in the same directory, fsync, ``os.replace``.

>>> import io, nnbox
>>> buf = io.BytesIO()
>>> nnbox.save({"w": nnbox.arange(3.0)}, buf)
>>> _ = buf.seek(0)
>>> nnbox.load(buf)
{'w': tensor([0., 1., 2.])}
"""
from __future__ import annotations

import _compat_pickle
import collections
import contextlib
import io
import os
import pickle
import re
import stat
import struct
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from ._backend import dtype as _dt
from ._backend.device import as_device, device, move
from ._tensor import Size, Tensor

FileLike = str | os.PathLike | IO[bytes]
MapLocation = str | device | dict | Callable | None

# torch's storage class names <-> NumPy dtypes (the element type of each storage in the file).
_STORAGE_OF = {
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.int16): "ShortStorage",
    np.dtype(np.int8): "CharStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
    np.dtype(np.complex64): "ComplexFloatStorage",
    np.dtype(np.complex128): "ComplexDoubleStorage",
}
_DTYPE_OF_STORAGE = {name: d for d, name in _STORAGE_OF.items()}
_BFLOAT16 = "BFloat16Storage"  # ml_dtypes' bfloat16, registered in both tables once it is loaded


def _register_bfloat16() -> None:
    bf = _dt.BF16[0]
    _STORAGE_OF[bf] = _BFLOAT16
    _DTYPE_OF_STORAGE[_BFLOAT16] = bf


_dt._on_bf16_load.append(_register_bfloat16)
if _dt.BF16[0] is not None:
    _register_bfloat16()

_ALIGNMENT = 64  # torch aligns every record's data to 64 bytes so storages can be mmap'ed
_MAGIC_LEGACY = 0x1950A86A20F9469CFC6C  # first pickle of torch's pre-1.6 ("legacy") files
DEFAULT_PROTOCOL = 2


# =============================================================================================
# Saving
# =============================================================================================
class _Global:
    """A reference to a global (``torch._utils._rebuild_tensor_v2`` ...) written into the pickle
    by name, so files name torch's globals although torch is never imported here."""

    __slots__ = ("module", "name")
    __name__ = "_Global"

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle insists that a REDUCE callable be callable
        raise TypeError(f"{self.module}.{self.name} is a name written into checkpoints, not a function")


_GLOBALS: dict[tuple[str, str], _Global] = {}


def _g(module: str, name: str) -> _Global:
    # interned: the pickler memoizes by id(), so each name is written once per file
    key = (module, name)
    if key not in _GLOBALS:
        _GLOBALS[key] = _Global(module, name)
    return _GLOBALS[key]


class _StorageOut:
    """One storage to write: a 1-D array over a whole memory block, its key and location."""

    __slots__ = ("key", "array", "location")

    def __init__(self, key: str, array, location: str):
        self.key, self.array, self.location = key, array, location


def _root(arr):
    """The array that owns the memory ``arr`` views (walks NumPy/CuPy ``.base``)."""
    r = arr
    while True:
        b = r.base
        if not _is_array(b):
            b = getattr(b, "base", None)  # as_strided wraps its source in a DummyArray
            if not _is_array(b):
                return r
        r = b


def _is_array(x) -> bool:
    return x is not None and hasattr(x, "dtype") and hasattr(x, "strides") and hasattr(x, "base")


def _address(arr) -> int:
    if type(arr) is np.ndarray or isinstance(arr, np.ndarray):
        return arr.__array_interface__["data"][0]
    return arr.data.ptr  # cupy


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, taught to write nnbox tensors, dtypes, devices and sizes as torch
    does.  (data.pkl is small -- bytes go to the storage records -- so its speed doesn't matter.)"""

    def __init__(self, file, protocol: int):
        super().__init__(file, protocol)
        self.storages: dict[tuple, _StorageOut] = {}  # (id(root), dtype) -> storage
        self._keep: list = []  # roots stay alive while pickling, so their ids stay unique

    # -- names -------------------------------------------------------------------------------
    def save(self, obj, save_persistent_id=True):
        if type(obj) is _dt.dtype:
            obj = _g("torch", obj.name)
        if type(obj) is _Global:
            memo = self.memo.get(id(obj))
            if memo is not None:
                self.write(self.get(memo[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if type(obj) is _StorageOut:
            name = _STORAGE_OF[obj.array.dtype]
            return ("storage", _g("torch", name), obj.key, obj.location, int(obj.array.size))
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        t = type(obj)
        if t is device:
            return (_g("torch", "device"), (obj.type,) if obj.index is None else (obj.type, obj.index))
        if t is Size:
            return (_g("torch", "Size"), (tuple(obj),))
        return NotImplemented

    # -- tensors -----------------------------------------------------------------------------
    def _reduce_tensor(self, t: Tensor):
        # no Parameter can exist unless nnbox.nn.parameter was imported: don't import nn for it
        param_mod = sys.modules.get("nnbox.nn.parameter")
        if param_mod is not None and isinstance(t, param_mod.Parameter):
            plain = Tensor._make(t._data)
            return (_g("torch._utils", "_rebuild_parameter"), (plain, bool(t._rg), collections.OrderedDict()))
        storage, offset, stride = self._storage_of(t._data)
        args = (storage, offset, tuple(t._data.shape), stride, bool(t._rg), collections.OrderedDict())
        return (_g("torch._utils", "_rebuild_tensor_v2"), args)

    def _storage_of(self, arr):
        """(storage, element offset, element strides) for ``arr``: views of one memory block
        share a storage; layouts torch can't express (negative strides ...) get a private copy."""
        isz = arr.itemsize
        if arr.dtype not in _STORAGE_OF:
            raise TypeError(f"nnbox.save: can't save arrays of dtype {arr.dtype}")
        root = _root(arr)
        off = _address(arr) - _address(root)
        shareable = (
            arr.size > 0
            and arr.dtype.isnative
            and (root.flags.c_contiguous or root.flags.f_contiguous)
            and root.nbytes % isz == 0
            and off >= 0
            and off % isz == 0
            and all(s >= 0 and s % isz == 0 for s in arr.strides)
        )
        if not shareable:
            root = arr = arr.copy() if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
            off = 0
        key = (id(root), arr.dtype)
        st = self.storages.get(key)
        if st is None:
            flat = root.ravel(order="K")
            flat = flat.view(arr.dtype) if flat.dtype != arr.dtype else flat
            loc = "cpu" if isinstance(root, np.ndarray) else f"cuda:{root.device.id}"
            st = self.storages[key] = _StorageOut(str(len(self.storages)), flat, loc)
            self._keep.append(root)
        return st, off // isz, tuple(s // isz for s in arr.strides)


def _record_name(prefix: str, name: str) -> str:
    return f"{prefix}/{name}"


def _write_record(zf: zipfile.ZipFile, name: str, data) -> None:
    """Write one uncompressed record whose data starts on a 64-byte boundary (as torch does, so
    storages can be memory-mapped), padding with an extra field ``FB`` like torch's writer."""
    mv = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    zi.file_size = mv.nbytes
    raw_name = name.encode("utf-8")
    zip64 = mv.nbytes * 1.05 > zipfile.ZIP64_LIMIT  # zipfile then adds a 20-byte zip64 extra
    start = zf.fp.tell() + 30 + len(raw_name) + 4 + (20 if zip64 else 0)
    pad = (-start) % _ALIGNMENT
    zi.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    with zf.open(zi, "w", force_zip64=zip64) as out:
        step = 1 << 26
        for i in range(0, mv.nbytes, step):
            out.write(mv[i : i + step])


def _host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()


def _write_archive(obj, fileobj: IO[bytes], prefix: str, protocol: int) -> None:
    buf = io.BytesIO()
    pickler = _Pickler(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_STORED) as zf:
        _write_record(zf, _record_name(prefix, "data.pkl"), buf.getvalue())
        _write_record(zf, _record_name(prefix, ".format_version"), b"1")
        _write_record(zf, _record_name(prefix, ".storage_alignment"), str(_ALIGNMENT).encode())
        _write_record(zf, _record_name(prefix, "byteorder"), sys.byteorder.encode())
        for st in pickler.storages.values():
            arr = np.ascontiguousarray(_host(st.array))
            _write_record(zf, _record_name(prefix, f"data/{st.key}"), arr.view(np.uint8) if arr.size else b"")
        _write_record(zf, _record_name(prefix, "version"), b"3\n")
        sid = str(uuid.uuid4().int).rjust(40, "0")[:40]
        _write_record(zf, _record_name(prefix, ".data/serialization_id"), sid.encode())


def _prefix_for(f) -> str:
    # torch names the archive's top folder after the file (``model`` for model.pt)
    if isinstance(f, (str, os.PathLike)):
        stem = os.path.splitext(os.path.basename(os.fspath(f)))[0]
        return stem or "archive"
    return "archive"


_STALE_AFTER_S = 1.0  # a temp file untouched this long and locked by nobody is a dead save's


def _lock(fd: int, blocking: bool) -> bool:
    """An exclusive advisory lock on ``fd``, released by the OS when the holder dies."""
    try:
        import fcntl  # noqa: PLC0415 - POSIX only
    except ImportError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _remove_stale_temps(folder: str, base: str) -> None:
    """Delete temp files of killed saves to ``base`` (our own naming only).  A live writer holds a
    lock on its temp file for as long as it writes, so a file nobody holds a lock on, and that
    hasn't changed for a second (the instant between creating and locking), is a dead one's."""
    if not hasattr(os, "O_NOFOLLOW"):  # Windows: no flock to tell a live writer; leave them
        return
    pattern = re.compile(r"\." + re.escape(base) + r"\.[0-9a-f]{12}\.tmp")
    try:
        names = [n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if now - st.st_mtime > _STALE_AFTER_S and stat.S_ISREG(st.st_mode) and _lock(fd, blocking=False):
                # still the same file under that name (not replaced meanwhile): remove it
                with contextlib.suppress(OSError):
                    if os.stat(path, follow_symlinks=False).st_ino == st.st_ino:
                        os.unlink(path)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike):
    """Open a temporary file next to ``path`` for writing; on success fsync it and rename it over
    ``path`` (atomic on POSIX and Windows), so readers see the old file or the new one, never half
    of one.  On error the temporary file is removed and ``path`` is untouched; temporary files
    that killed writers left beside ``path`` are removed by the next write to it.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> with atomic_write(p) as fh:
    ...     _ = fh.write(b"hello")
    >>> open(p, "rb").read()
    b'hello'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    tmp = os.path.join(folder, f".{base}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open + 0o666 so the file gets the usual umask permissions (mkstemp would make it 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    _lock(fd, blocking=True)  # ours until we close it or die: cleaners leave it alone
    _remove_stale_temps(folder, base)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # unlocked from here, but just written: too fresh for a cleaner to take it for stale
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def save(
    obj: Any,
    f: FileLike,
    pickle_module: Any = pickle,
    pickle_protocol: int = DEFAULT_PROTOCOL,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """Save ``obj`` (tensors, state_dicts, optimizer states, nested containers) to ``f`` in
    PyTorch's zip format, so ``torch.load`` reads it.  Writing to a path is atomic.

    >>> import io, nnbox
    >>> buf = io.BytesIO()
    >>> nnbox.save(nnbox.ones(2), buf)
    >>> _ = buf.seek(0); nnbox.load(buf)
    tensor([1., 1.])
    """
    if pickle_module is not pickle:
        raise NotImplementedError("nnbox.save: only the standard pickle module is supported (pickle_module)")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("nnbox.save: the legacy format (_use_new_zipfile_serialization=False) is not written")
    if isinstance(f, (str, os.PathLike)):
        parent = os.path.dirname(os.path.abspath(os.fspath(f)))
        if not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {os.path.dirname(os.fspath(f)) or parent} does not exist.")
        with atomic_write(f) as fh:
            _write_archive(obj, fh, _prefix_for(f), pickle_protocol)
        return
    if not hasattr(f, "write"):
        raise AttributeError(f"'{type(f).__name__}' object has no attribute 'write'")
    _write_archive(obj, f, _prefix_for(f), pickle_protocol)
    if hasattr(f, "flush"):
        f.flush()


# =============================================================================================
# Loading
# =============================================================================================
class _StorageType:
    """What ``torch.FloatStorage`` & co. resolve to: just the element type of a storage."""

    __slots__ = ("name", "np")

    def __init__(self, name: str):
        self.name = name
        self.np = _DTYPE_OF_STORAGE.get(name)  # None: bfloat16 before ml_dtypes is loaded (see _bf16)

    def __call__(self, *a, **k):
        raise pickle.UnpicklingError(f"torch.{self.name} can only appear inside a storage reference")


def _int_tuple(what: str, value) -> tuple:
    # torch.set_ takes "tuple of ints": a float, a string or a bool in a size/stride is a TypeError
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise TypeError(f"invalid tensor metadata in checkpoint: {what} must be a tuple of ints, got {value!r}")
    return tuple(value)


def _check_view(numel: int, offset: int, size, stride) -> None:
    # A checkpoint is untrusted input: never let a tensor reach outside its storage.
    if len(size) != len(stride) or any(int(s) < 0 for s in size) or any(int(s) < 0 for s in stride) or offset < 0:
        raise pickle.UnpicklingError(f"invalid tensor layout in checkpoint: size {tuple(size)}, stride {tuple(stride)}")
    if all(int(s) > 0 for s in size):
        last = offset + sum((int(n) - 1) * int(s) for n, s in zip(size, stride))
        if last >= numel:
            raise pickle.UnpicklingError(
                f"tensor of size {tuple(size)} with stride {tuple(stride)} at offset {offset} "
                f"reaches outside its storage of {numel} elements"
            )


def _strided(storage, offset: int, size, stride):
    if not _is_array(storage) or getattr(storage, "ndim", None) != 1:
        raise pickle.UnpicklingError(f"invalid tensor in checkpoint: its storage is a {type(storage).__name__}")
    if type(offset) is not int:
        raise TypeError(f"invalid tensor metadata in checkpoint: storage_offset must be an int, got {offset!r}")
    xp = np if isinstance(storage, np.ndarray) else sys.modules["cupy"]
    size, stride = _int_tuple("size", size), _int_tuple("stride", stride)
    if any(s == 0 for s in size):
        return xp.empty(size, storage.dtype)
    _check_view(storage.size, int(offset), size, stride)
    isz = storage.itemsize
    base = storage[int(offset) :]
    return xp.lib.stride_tricks.as_strided(base, shape=size, strides=tuple(s * isz for s in stride))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return Tensor._make(_strided(storage, storage_offset, size, stride), bool(requires_grad))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return Tensor._make(_strided(storage, storage_offset, size, stride))


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    from .nn.parameter import Parameter

    return Parameter(data, requires_grad=bool(requires_grad))


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _rebuild_parameter(data, requires_grad)
    if state and hasattr(p, "__dict__"):
        p.__dict__.update(state)
    return p


_PARAMETER = "torch.nn.parameter.Parameter"  # resolved lazily: loading plain tensors needs no nnbox.nn


def _rebuild_from_type_v2(func, new_type, args, state):
    # torch uses this for Tensor subclasses; we only know Tensor and Parameter.  ``func`` comes from
    # the file: only the tensor rebuilders may be called here (Tensor(2**40) would allocate)
    if func not in (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter, _rebuild_parameter_with_state):
        raise pickle.UnpicklingError(f"_rebuild_from_type_v2 can only rebuild tensors, not call {func!r}")
    if not isinstance(args, tuple):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 needs a tuple of arguments")
    ret = func(*args)
    if new_type == _PARAMETER:
        from .nn.parameter import Parameter

        if not isinstance(ret, Parameter):
            ret = Parameter(ret, requires_grad=ret._rg)
    elif new_type is not Tensor:
        raise pickle.UnpicklingError(f"can't rebuild a tensor of type {new_type!r}")
    return ret


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol 2 writes ``bytes`` as _codecs.encode(str, 'latin1'); allow exactly that, nothing else
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as protocol 2's encoding of bytes")
    return obj.encode(encoding, errors)


def _bytes(*args):
    # protocol 2 writes b"" as bytes() and other bytes through _codecs.encode; an int argument
    # (bytes(8 << 30)) would let a tiny file demand any amount of memory, so only copies are allowed
    if args and not isinstance(args[0], (bytes, bytearray, str)):
        raise pickle.UnpicklingError(f"bytes() in a checkpoint may only copy bytes or a string, not {type(args[0]).__name__}")
    return bytes(*args)


def _bytearray(*args):
    # bytearray(b"...") is how pickle writes a bytearray; bytearray(n) would allocate n bytes
    if args and not isinstance(args[0], (bytes, bytearray, str)):
        raise pickle.UnpicklingError(
            f"bytearray() in a checkpoint may only copy bytes or a string, not {type(args[0]).__name__}"
        )
    return bytearray(*args)


_bytes.__qualname__ = _bytes.__name__ = "bytes"
_bytearray.__qualname__ = _bytearray.__name__ = "bytearray"


_REFERENCE_ONLY = (list, dict, tuple, int, float, bool, str)


def _safe_globals() -> dict[tuple[str, str], Any]:
    # torch's allowlist (containers, complex, the rebuild functions, dtypes, storages, device, Size)
    # plus frozenset and bytes() that protocol 2 needs for our own files.  No range or slice, and
    # list/dict/tuple/int/... only as names (defaultdict(list)'s factory), never called (see
    # _REFERENCE_ONLY): a call can allocate without bound from a tiny file.
    table: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): _bytearray,
        ("builtins", "bytes"): _bytes,
        ("_codecs", "encode"): _codecs_encode,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Tensor"): Tensor,
        ("torch.nn.parameter", "Parameter"): _PARAMETER,
        ("torch", "device"): device,
        ("torch", "Size"): Size,
    }
    for t in _REFERENCE_ONLY:
        table[("builtins", t.__name__)] = t
    for d in (*_dt.ALL, _dt.bfloat16):
        table[("torch", d.name)] = d
    for name in (*_DTYPE_OF_STORAGE, _BFLOAT16):
        table[("torch", name)] = _StorageType(name)
    table.update(_user_safe_globals)
    return table


_user_safe_globals: dict[tuple[str, str], Any] = {}


def add_safe_globals(safe_globals: list) -> None:
    """Allow more globals (your own classes, functions) in ``load(..., weights_only=True)``.

    >>> import collections, nnbox.serialization as S
    >>> S.add_safe_globals([collections.defaultdict])
    >>> collections.defaultdict in S.get_safe_globals()
    True
    >>> S.clear_safe_globals()  # back to tensors and containers only
    """
    for obj in safe_globals:
        if isinstance(obj, tuple):
            obj, name = obj
            mod, _, qual = name.rpartition(".")
        else:
            mod, qual = obj.__module__, obj.__qualname__
        _user_safe_globals[(mod, qual)] = obj


def clear_safe_globals() -> None:
    _user_safe_globals.clear()


def get_safe_globals() -> list:
    return list(_user_safe_globals.values())


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """Context manager: ``add_safe_globals`` for the duration of a ``with`` block."""
    saved = dict(_user_safe_globals)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _user_safe_globals.clear()
        _user_safe_globals.update(saved)


_BF16_MESSAGE = (
    "the checkpoint holds bfloat16 data, and nnbox's bfloat16 needs the ml_dtypes package "
    "(pip install ml_dtypes): it is not loaded rather than silently changed to another dtype"
)


def _bf16(stype: _StorageType) -> None:
    """Give a BFloat16Storage its NumPy dtype, loading ml_dtypes; refuse clearly without it."""
    if stype.np is None:
        try:
            stype.np = _dt.load_bfloat16()
        except ImportError:
            raise pickle.UnpicklingError(_BF16_MESSAGE) from None

_WEIGHTS_ONLY_HINT = (
    "Weights only load failed. In nnbox (as in PyTorch >= 2.6) `weights_only` defaults to True, "
    "which only allows tensors, containers, numbers and strings. {what} Re-running with "
    "`weights_only=False` executes arbitrary code from the file: do it ONLY if you trust its source. "
    "To allow a specific global, use nnbox.serialization.add_safe_globals([...])."
)


class _BoundedReader:
    """A file seen by the unpickler: reads never ask for more than the ``limit`` bytes left, so a
    declared length (BINBYTES8, FRAME ...) can't make the reader allocate what the file lacks.
    Reads exactly what is asked (no read-ahead): the legacy format reads on after each pickle."""

    __slots__ = ("_f", "_left")

    def __init__(self, f, limit: int):
        self._f, self._left = f, max(0, limit)

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        n = self._left if limit is None or limit < 0 else min(limit, self._left)
        data = self._f.readline(n)
        self._left -= len(data)
        return data

    def readinto(self, b) -> int:
        mv = memoryview(b).cast("B")
        got = self._f.readinto(mv[: self._left])
        self._left -= got
        return got


class _Refused(pickle.UnpicklingError):
    """The restricted loader refused the file (a global or an opcode it does not allow)."""


# Classes whose fresh instances (made by this load) may receive state (BUILD), as in torch.
_BUILDABLE = (collections.OrderedDict, Tensor)
# Allowed classes a pickle may instantiate with NEWOBJ/INST/OBJ (Tensor.__new__ would make a
# tensor without data; our wrappers for bytes/bytearray are functions, so never reach __new__).
_NEWABLE = (collections.OrderedDict, collections.Counter, set, frozenset, complex, Size, device)


def _forced_weights_only() -> bool:
    # torch's switch (and ours) to make every load restricted, whatever the call site says
    true = ("1", "y", "yes", "true")
    return any(os.environ.get(v, "0").strip().lower() in true
               for v in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "NNBOX_FORCE_WEIGHTS_ONLY_LOAD"))


class _Unpickler(pickle._Unpickler):
    """Maps torch's globals to nnbox's; with ``weights_only`` every other global is refused, and
    the opcodes that change an existing object (BUILD, SETITEM(S), APPEND(S), ADDITEMS) only
    reach objects this load created, of the allowed kinds: a file can't set attributes on a
    class or a singleton (``torch.float32``, ``torch.Tensor``, ``collections.Counter``).

    The pure-Python unpickler is used because the C one can't be told which object a BUILD
    targets; data.pkl holds no tensor bytes (they are separate records), so it is small."""

    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: RUF012 - the unpickler's own opcode table

    def __init__(self, file, load_storage: Callable, weights_only: bool, limit: int | None = None, **kw):
        if limit is not None:
            file = _BoundedReader(file, limit)
        super().__init__(file, **kw)
        self._load_storage = load_storage
        self._weights_only = weights_only
        self._table = _safe_globals()
        self._globals: set[int] = set()  # ids of the objects find_class handed out
        self._user_types = tuple(v for v in _user_safe_globals.values() if isinstance(v, type))

    def find_class(self, module: str, name: str):
        obj = self._find_class(module, name)
        self._globals.add(id(obj))
        return obj

    def _find_class(self, module: str, name: str):
        # protocol 2 writes Python 2 names (``__builtin__.set``): translate them as pickle does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        obj = self._table.get((module, name))
        if obj is not None:
            return obj
        if self._weights_only:
            raise _Refused(
                _WEIGHTS_ONLY_HINT.format(what=f"The file names the global `{module}.{name}`, which is not allowed.")
            )
        if module.startswith("torch"):
            raise pickle.UnpicklingError(
                f"the checkpoint needs `{module}.{name}` from PyTorch, which nnbox has no equivalent of"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id in checkpoint: {pid!r}")
        if len(pid) < 5:
            raise pickle.UnpicklingError(f"invalid storage reference in checkpoint: {pid!r}")
        return self._load_storage(pid)

    def load_bytearray8(self):
        # the pure-Python unpickler allocates bytearray(declared length) before reading: read first
        (n,) = struct.unpack("<Q", self.read(8))
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError(f"BYTEARRAY8 declares {n} bytes but the pickle holds {len(data)}")
        self.append(bytearray(data))

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def load(self):
        if not self._weights_only:
            return super().load()  # the user's own objects run: their errors are theirs to see
        try:
            return super().load()
        except (KeyError, IndexError, AttributeError, struct.error, UnicodeDecodeError, OverflowError,
                ZeroDivisionError, RecursionError) as e:
            # the pure-Python unpickler's words for a malformed pickle (an unknown opcode is a
            # KeyError, a short stack an IndexError ...): the C one and torch say UnpicklingError
            raise pickle.UnpicklingError(f"malformed pickle in checkpoint ({type(e).__name__}: {e})") from e

    # -- the restricted opcodes (weights_only) -----------------------------------------------
    def _refuse(self, what: str):
        raise _Refused(_WEIGHTS_ONLY_HINT.format(what=what))

    def _mutable_target(self, op: str, obj, kinds: tuple) -> None:
        if id(obj) in self._globals or not isinstance(obj, kinds + self._user_types):
            self._refuse(f"The file applies {op} to a `{type(obj).__name__}` object, which is not allowed.")

    def load_build(self):
        if self._weights_only:
            state, inst = self.stack[-1], self.stack[-2]
            self._mutable_target("BUILD", inst, _BUILDABLE)
            if isinstance(inst, Tensor):
                # a tensor's slots are its data; only a Parameter's attribute dict may be set
                dict_state = state[0] if isinstance(state, tuple) and len(state) == 2 and not state[1] else state
                if dict_state and (not isinstance(dict_state, dict) or not hasattr(inst, "__dict__")):
                    self._refuse("The file sets internal state of a tensor, which is not allowed.")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _container_op(name: str, kinds: tuple):  # builds the opcode handlers below (not a method)
        base = getattr(pickle._Unpickler, name)

        def handler(self):
            if self._weights_only:
                try:
                    outer = self.metastack[-1] if name.endswith("s") else self.stack[:-1]
                    target = outer[-2 if name == "load_setitem" else -1]
                except IndexError:
                    raise pickle.UnpicklingError(f"{name[5:].upper()} on an empty stack") from None
                self._mutable_target(name[5:].upper(), target, kinds)
            base(self)

        return handler

    _DICTS = (dict,)
    load_setitem = _container_op("load_setitem", _DICTS)
    load_setitems = _container_op("load_setitems", _DICTS)
    load_append = _container_op("load_append", (list,))
    load_appends = _container_op("load_appends", (list,))
    load_additems = _container_op("load_additems", (set,))
    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.APPEND[0]] = load_append
    dispatch[pickle.APPENDS[0]] = load_appends
    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_reduce(self):
        if self._weights_only:
            func = self.stack[-2]
            # Tensor(n) would allocate n elements, list(...)/int(...) are names here, not calls
            if id(func) not in self._globals or func is Tensor or func in _REFERENCE_ONLY:
                self._refuse(f"The file calls a `{type(func).__name__}` object, which is not allowed.")
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _check_new(self, cls):
        if self._weights_only and (
            id(cls) not in self._globals or not isinstance(cls, type)
            or not (cls in _NEWABLE or cls in self._user_types)
        ):
            self._refuse(f"The file instantiates `{getattr(cls, '__name__', type(cls).__name__)}`, which is not allowed.")

    def load_newobj(self):
        self._check_new(self.stack[-2])
        super().load_newobj()

    def load_newobj_ex(self):
        self._check_new(self.stack[-3])
        super().load_newobj_ex()

    def _instantiate(self, klass, args):
        self._check_new(klass)
        super()._instantiate(klass, args)

    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    del _container_op


# -- where loaded storages go ------------------------------------------------------------------
def _target_location(storage, location: str, map_location: MapLocation):
    """Apply torch's ``map_location`` rules; returns the array (moved) for one storage."""
    if map_location is None:
        target = location
    elif isinstance(map_location, (str, device)):
        target = str(map_location)
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
        target = str(target)
    elif callable(map_location):
        res = map_location(Tensor._make(storage), location)
        if res is None:
            target = location
        else:
            return res._data if isinstance(res, Tensor) else res
    else:
        raise TypeError(f"map_location should be a string, a device, a dict or a callable, not {type(map_location).__name__}")
    dev = as_device(target)
    if dev.type == "cuda":
        from ._backend.device import cupy_or_none

        if cupy_or_none() is None:
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
                "If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU."
            )
    return move(storage, dev)


def _find_prefix(names: list[str]) -> str:
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise RuntimeError("this file is a TorchScript archive (torch.jit.save): nnbox can't run TorchScript")
    for n in names:
        head, _, tail = n.partition("/")
        if tail == "data.pkl":
            return head
    raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")


def _data_offset(raw: IO[bytes], zi: zipfile.ZipInfo) -> int:
    raw.seek(zi.header_offset)
    header = raw.read(30)
    if header[:4] != b"PK\x03\x04":
        raise RuntimeError("corrupt checkpoint: bad zip local header")
    n, e = struct.unpack("<HH", header[26:30])
    return zi.header_offset + 30 + n + e


# Deflate can't shrink data more than ~1032:1; a record claiming more is lying about its size.
_MAX_DEFLATE_RATIO = 1100
# Records other than storages (data.pkl, byteorder, version) are small; a highly compressed one is a bomb.
_MAX_META_RATIO = 200
_SMALL_RECORD = 1 << 16
_STREAM_PICKLE_OVER = 1 << 26


def _file_length(fh: IO[bytes]) -> int:
    pos = fh.tell()
    end = fh.seek(0, os.SEEK_END)
    fh.seek(pos)
    return end


def _check_record(fileobj: IO[bytes], zi: zipfile.ZipInfo, file_len: int, storage: bool) -> None:
    """Refuse a record whose declared sizes the file can't back, before anything is allocated."""
    if zi.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise RuntimeError(f"corrupt checkpoint: record {zi.filename} uses compression method {zi.compress_type} "
                           "(only stored and deflated records are read)")
    end = _data_offset(fileobj, zi) + zi.compress_size
    if end > file_len:
        raise RuntimeError(f"corrupt checkpoint: record {zi.filename} declares {zi.compress_size} bytes "
                           f"but the file ends {end - file_len} bytes short of them")
    if zi.compress_type == zipfile.ZIP_STORED:
        if zi.file_size != zi.compress_size:
            raise RuntimeError(f"corrupt checkpoint: stored record {zi.filename} declares {zi.file_size} bytes "
                               f"but holds {zi.compress_size}")
        return
    limit = _MAX_DEFLATE_RATIO if storage else _MAX_META_RATIO
    if zi.file_size > max(_SMALL_RECORD, limit * zi.compress_size):
        raise RuntimeError(f"corrupt checkpoint: record {zi.filename} declares {zi.file_size} bytes from "
                           f"{zi.compress_size} compressed bytes (a ratio no real checkpoint has)")


_BYTEORDERS = ("little", "big")


def _load_zip(zf: zipfile.ZipFile, fileobj: IO[bytes], map_location, weights_only: bool, mmap_path, pickle_kw) -> Any:
    names = zf.namelist()
    prefix = _find_prefix(names)
    file_len = _file_length(fileobj)
    byteorder = "little"
    if f"{prefix}/byteorder" in names:
        zi = zf.getinfo(f"{prefix}/byteorder")
        _check_record(fileobj, zi, file_len, storage=False)
        if zi.file_size > 16:
            raise ValueError(f"Unknown endianness type: a byteorder record of {zi.file_size} bytes")
        byteorder = zf.read(zi).decode("ascii", "replace")
        if byteorder not in _BYTEORDERS:  # exactly torch's two words: "Little" must not byte-swap
            raise ValueError(f"Unknown endianness type: {byteorder}")
    loaded: dict[str, Any] = {}
    raw = open(mmap_path, "rb") if mmap_path else None

    def load_storage(pid):
        _, stype, key, location, numel = pid[:5]
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unknown storage type in checkpoint: {stype!r}")
        if stype.name == _BFLOAT16:
            _bf16(stype)
        if type(key) is not str or type(location) is not str or type(numel) is not int or numel < 0:
            raise TypeError(f"invalid storage reference in checkpoint: key {key!r}, location {location!r}, numel {numel!r}")
        if key in loaded:
            return loaded[key]
        name = f"{prefix}/data/{key}"
        try:
            zi = zf.getinfo(name)
        except KeyError:
            raise RuntimeError(f"PytorchStreamReader failed locating file data/{key}: file not found") from None
        dt = stype.np
        if zi.file_size != numel * dt.itemsize:
            raise pickle.UnpicklingError(f"storage {key}: record holds {zi.file_size} bytes, expected {numel} x {dt.itemsize}")
        _check_record(fileobj, zi, file_len, storage=True)
        if raw is not None and numel and byteorder == sys.byteorder:
            if zi.compress_type != zipfile.ZIP_STORED:
                raise RuntimeError("mmap=True needs an uncompressed checkpoint")
            mm = np.memmap(mmap_path, dtype=dt, mode="c", offset=_data_offset(raw, zi), shape=(numel,))
            arr = mm.view(np.ndarray)  # a plain ndarray (nnbox dispatches on the exact type) over the map
        else:
            arr = np.empty(numel, dt)
            buf = memoryview(arr.view(np.uint8))
            if zi.compress_type == zipfile.ZIP_STORED:
                # straight from the file into the array: no zipfile buffering, no CRC pass (as torch)
                fileobj.seek(_data_offset(fileobj, zi))
                got = fileobj.readinto(buf)
            else:
                with zf.open(zi) as fh:
                    got = fh.readinto(buf)
            if got != arr.nbytes:
                raise pickle.UnpicklingError(f"storage {key} is truncated ({got} of {arr.nbytes} bytes)")
            if byteorder != sys.byteorder:
                arr.byteswap(inplace=True)
        arr = _target_location(arr, location, map_location)
        loaded[key] = arr
        return arr

    try:
        zi = zf.getinfo(f"{prefix}/data.pkl")
        _check_record(fileobj, zi, file_len, storage=False)
        with zf.open(zi) as fh:
            # a big one is streamed, so the unpickler inflates only as far as the pickle goes
            src = io.BytesIO(fh.read()) if zi.file_size <= _STREAM_PICKLE_OVER else fh
            # (both readers stop at the record's declared size, checked against the file above)
            return _Unpickler(src, load_storage, weights_only, **pickle_kw).load()
    finally:
        if raw is not None:
            raw.close()


def _load_legacy(fh: IO[bytes], map_location, weights_only: bool, pickle_kw) -> Any:
    """torch's pre-1.6 format: pickles for magic, version, sys info, the object, the storage keys,
    then each storage as an int64 element count followed by its raw bytes."""
    storages: dict[str, np.ndarray] = {}
    file_len = _file_length(fh)
    declared = [0]  # bytes the storages declared so far: all of them must follow in the file

    def load_storage(pid):
        _, stype, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("legacy checkpoints with storage views are not supported")
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unknown storage type in checkpoint: {stype!r}")
        if stype.name == _BFLOAT16:
            _bf16(stype)
        if type(key) is not str or type(numel) is not int or numel < 0:
            raise TypeError(f"invalid storage reference in checkpoint: key {key!r}, numel {numel!r}")
        if key not in storages:
            nbytes = numel * stype.np.itemsize
            # compare with what the file still holds before allocating anything
            if declared[0] + nbytes + 8 > file_len - fh.tell():
                raise pickle.UnpicklingError(
                    f"legacy checkpoint truncated: storage {key} declares {numel} elements ({nbytes} bytes) "
                    f"but the file holds only {file_len} bytes"
                )
            declared[0] += nbytes + 8
            storages[key] = np.empty(numel, stype.np)
        return storages[key]  # filled in place below; tensors are views of it

    def unpickle():
        # a file on disk would allocate a declared length before reading it: bound what it reads
        limit = None if isinstance(fh, io.BytesIO) else file_len - fh.tell()
        return _Unpickler(fh, load_storage, weights_only, limit=limit, **pickle_kw).load()

    try:
        magic = unpickle()
    except _Refused:
        raise  # a bare pickle that tries something forbidden says so, not "corrupt file"
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, IndexError, TypeError):
        magic = None
    if magic != _MAGIC_LEGACY:
        raise pickle.UnpicklingError("Invalid magic number; corrupt file? (neither a zip nor a legacy PyTorch checkpoint)")
    try:
        unpickle()  # protocol version
        unpickle()  # sys info
        result = unpickle()
        keys = unpickle()
    except EOFError:
        raise pickle.UnpicklingError("legacy checkpoint is truncated or corrupt: ran out of input") from None
    if not isinstance(keys, list) or any(type(k) is not str or k not in storages for k in keys):
        raise pickle.UnpicklingError("legacy checkpoint: its storage key list doesn't match its storages")
    for key in keys:
        arr = storages[key]
        (n,) = struct.unpack("<q", fh.read(8).ljust(8, b"\xff"))
        buf = memoryview(arr.view(np.uint8))
        if n != arr.size or fh.readinto(buf) != arr.nbytes:
            raise pickle.UnpicklingError("legacy checkpoint truncated")
    if map_location not in (None, "cpu") and not (isinstance(map_location, device) and map_location.type == "cpu"):
        raise NotImplementedError("map_location for legacy-format checkpoints (only CPU is supported)")
    return result


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Load an object saved by ``nnbox.save`` or ``torch.save`` (torch need not be installed).

    ``weights_only=True`` (the default, as in torch) refuses any global other than the tensor,
    container and dtype names checkpoints need, raising ``pickle.UnpicklingError`` before running
    anything.  ``map_location`` is a device string/``nnbox.device``, a dict ``{saved: target}`` or a
    callable ``(storage, location) -> tensor or None``.  ``mmap=True`` maps storages from the file
    instead of reading them (copy-on-write).

    >>> import io, nnbox
    >>> buf = io.BytesIO(); nnbox.save([nnbox.tensor(1.5)], buf); _ = buf.seek(0)
    >>> nnbox.load(buf, map_location="cpu")
    [tensor(1.5000)]
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if _forced_weights_only():  # TORCH_/NNBOX_FORCE_WEIGHTS_ONLY_LOAD=1 wins over the call site
        weights_only, pickle_module = True, None
    if weights_only and pickle_module is not None:
        raise RuntimeError(
            "Can not safely load weights when explicit pickle_module is specified"
        )
    if pickle_module not in (None, pickle):
        raise NotImplementedError("nnbox.load: only the standard pickle module is supported (pickle_module)")
    pickle_kw = {k: v for k, v in pickle_load_args.items() if k in ("encoding", "errors", "fix_imports")}
    unknown = set(pickle_load_args) - set(pickle_kw)
    if unknown:
        raise TypeError(f"load() got unexpected keyword arguments: {sorted(unknown)}")
    is_path = isinstance(f, (str, os.PathLike))
    if mmap and not is_path:
        raise ValueError("f must be a file path in order to use the mmap argument")
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(open(f, "rb")) if is_path else f
        if not (hasattr(fh, "seek") and hasattr(fh, "seekable") and fh.seekable()):
            fh = io.BytesIO(fh.read())
        start = fh.tell()
        if zipfile.is_zipfile(fh):
            fh.seek(start)
            zf = stack.enter_context(zipfile.ZipFile(fh))
            return _load_zip(zf, fh, map_location, weights_only, os.fspath(f) if (mmap and is_path) else None, pickle_kw)
        fh.seek(start)
        if mmap:
            raise RuntimeError("mmap can only be used with files saved with `torch.save(_use_new_zipfile_serialization=True)`")
        if not fh.read(1):
            raise EOFError("Ran out of input")
        fh.seek(start)
        return _load_legacy(fh, map_location, weights_only, pickle_kw)


__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals", "atomic_write"]
