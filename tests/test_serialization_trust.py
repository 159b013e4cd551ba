"""issue 16, Security: a checkpoint can't touch the process, and can't demand memory it doesn't hold.

Each case is one of the outside probe's findings; each failed on the code before the fix."""
from __future__ import annotations

import collections
import io
import pickle
import struct
import time
import zipfile

import numpy as np
import pytest
import torch

import nnbox


def _zip_with(pkl: bytes, records: dict[str, bytes] | None = None, compress=zipfile.ZIP_STORED) -> bytes:
    """A checkpoint archive holding ``pkl`` as data.pkl (plus extra records)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        for name, data in (records or {}).items():
            zf.writestr(f"archive/{name}", data)
        zf.writestr("archive/version", "3\n")
    return out.getvalue()


def _load(blob: bytes, **kw):
    return nnbox.load(io.BytesIO(blob), **kw)


# -- BUILD: state only on fresh objects of the allowed kinds ------------------------------------
_COUNTER_UPDATE = collections.Counter.update
SET_DTYPE = b"\x80\x02ctorch\nfloat32\n(N}X\x02\x00\x00\x00npX\x04\x00\x00\x00int8stb."
SET_TENSOR_ATTR = b"\x80\x02ctorch\nTensor\n(N}X\x08\x00\x00\x00backwardNstb."
SET_TENSOR_DICT = b"\x80\x02ctorch\nTensor\n}X\x08\x00\x00\x00backwardNsb."
SET_COUNTER = b"\x80\x02ccollections\nCounter\n(N}X\x06\x00\x00\x00updateNstb."
SETITEM_ON_DICT_GLOBAL = b"\x80\x02c__builtin__\ndict\nX\x01\x00\x00\x00aX\x01\x00\x00\x00bs."


@pytest.mark.parametrize("payload", [SET_DTYPE, SET_TENSOR_ATTR, SET_TENSOR_DICT, SET_COUNTER, SETITEM_ON_DICT_GLOBAL])
@pytest.mark.parametrize("wrap", ["zip", "bare"])
def test_build_on_globals_refused_and_process_untouched(payload, wrap):
    blob = _zip_with(payload) if wrap == "zip" else payload
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        _load(blob)
    assert nnbox.ones(2).dtype == nnbox.float32
    assert nnbox.float32.np == np.float32
    x = nnbox.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert collections.Counter.update is _COUNTER_UPDATE and collections.Counter("aab")["a"] == 2


def test_build_on_fresh_objects_still_works(tmp_path):
    # torch writes a state_dict's _metadata with BUILD on a fresh OrderedDict
    sd = torch.nn.Linear(2, 3).state_dict()
    torch.save(sd, tmp_path / "l.pt")
    assert nnbox.load(tmp_path / "l.pt")._metadata == sd._metadata
    # reference-only names: defaultdict(list) names list, but list(...) may not be called
    call_list = b"\x80\x02c__builtin__\nlist\nX\x03\x00\x00\x00abc\x85R."
    with pytest.raises(pickle.UnpicklingError, match="calls a `type`"):
        _load(_zip_with(call_list))
    assert _load(_zip_with(call_list), weights_only=False) == ["a", "b", "c"]


@pytest.mark.parametrize("var", ["TORCH_FORCE_WEIGHTS_ONLY_LOAD", "NNBOX_FORCE_WEIGHTS_ONLY_LOAD"])
def test_force_weights_only_env(var, tmp_path, monkeypatch):
    p = tmp_path / "dd.pt"
    torch.save(collections.OrderedDict(a=collections.deque([1])), p)
    assert list(nnbox.load(p, weights_only=False)["a"]) == [1]
    monkeypatch.setenv(var, "1")
    with pytest.raises(pickle.UnpicklingError, match="collections.deque"):
        nnbox.load(p, weights_only=False)
    with pytest.raises(pickle.UnpicklingError, match="collections.deque"):
        nnbox.load(p, pickle_module=pickle)
    monkeypatch.setenv(var, "0")
    assert list(nnbox.load(p, weights_only=False)["a"]) == [1]


# -- declared sizes against what the file holds ----------------------------------------------
def _fast(fn, exc, match):
    t = time.perf_counter()
    with pytest.raises(exc, match=match):
        fn()
    assert time.perf_counter() - t < 0.5


def test_tiny_pickles_cannot_allocate():
    big_bytes = b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x7f\x85R."  # bytes(2**31 - 128)
    big_bytes8 = b"\x80\x02c__builtin__\nbytes\nL8589934592L\n\x85R."  # bytes(8 << 30)
    big_array = b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x7f\x85R."
    big_range = b"\x80\x02c__builtin__\nlist\nc__builtin__\nrange\nJ\x00\x00\x00\x7f\x85R\x85R."
    big_tensor = b"\x80\x02ctorch\nTensor\nJ\x00\x00\x00\x7f\x85R."
    # torch._tensor._rebuild_from_type_v2(torch.Tensor, torch.Tensor, (2**31 - 128,), None)
    via_rebuild = (b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ctorch\nTensor\nctorch\nTensor\n"
                   b"J\x00\x00\x00\x7f\x85NtR.")
    for pkl in (big_bytes, big_bytes8, big_array, big_range, big_tensor, via_rebuild):
        _fast(lambda pkl=pkl: _load(_zip_with(pkl)), pickle.UnpicklingError, "bytes|bytearray|range|calls|only rebuild")
    assert _load(_zip_with(b"\x80\x02c__builtin__\nbytes\n)R.")) == b""  # protocol 2's b""


def _legacy_file(x: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    torch.save(x, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def test_legacy_numel_checked_before_allocating():
    blob = _legacy_file(torch.arange(4.0))
    # the storage reference's numel (BININT1 4) becomes 2**40 (LONG1)
    i = blob.index(b"X\x03\x00\x00\x00cpuq")
    j = blob.index(b"K\x04", i)
    bad = blob[:j] + b"\x8a\x06\x00\x00\x00\x00\x00\x01" + blob[j + 2 :]
    _fast(lambda: _load(bad), pickle.UnpicklingError, "declares 1099511627776 elements")
    assert _load(blob).tolist() == [0.0, 1.0, 2.0, 3.0]


def _patch_sizes(blob: bytes, name: str, size: int) -> bytes:
    """Rewrite a record's sizes in the zip's central directory (and its local header)."""
    b = bytearray(blob)
    raw = name.encode()
    pos = 0
    while True:
        pos = b.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        n = struct.unpack("<H", b[pos + 28 : pos + 30])[0]
        if bytes(b[pos + 46 : pos + 46 + n]) == raw:
            struct.pack_into("<II", b, pos + 20, min(size, 0xFFFFFFFF), min(size, 0xFFFFFFFF))
        pos += 4
    return bytes(b)


def test_zip_directory_declaring_more_than_the_file_holds():
    buf = io.BytesIO()
    torch.save(torch.arange(4.0), buf)
    blob = buf.getvalue()
    bad = _patch_sizes(blob, "archive/data/0", 0xFFFFFFF0)
    _fast(lambda: _load(bad), (RuntimeError, pickle.UnpicklingError), "declares|holds")


def test_deflate_bomb_fails_fast():
    # the probe's 3 MB bomb inflated to 3 GiB in 66 s; this one is 128 MiB of zeros in ~130 KB,
    # honest sizes in the directory: refused from the ratio before inflating anything
    chunk = bytes(1 << 24)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("archive/data.pkl", "w", force_zip64=True) as fh:
            for _ in range(8):
                fh.write(chunk)
        zf.writestr("archive/byteorder", "little")
    assert len(out.getvalue()) < 1 << 20
    _fast(lambda: _load(out.getvalue()), RuntimeError, "ratio")
    # the same for a byteorder record
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}.")
        with zf.open("archive/byteorder", "w", force_zip64=True) as fh:
            fh.write(chunk)
    _fast(lambda: _load(out.getvalue()), (RuntimeError, ValueError), "ratio|endianness")


# -- metadata types -------------------------------------------------------------------------
def _torch_file(mutate) -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf)
    zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zo:
        for n in zin.namelist():
            zo.writestr(n, mutate(n, zin.read(n)))
    return out.getvalue()


def _both(blob: bytes, exc, match):
    with pytest.raises(exc, match=match):
        torch.load(io.BytesIO(blob))
    with pytest.raises(exc, match=match):
        _load(blob)


def test_byteorder_must_be_little_or_big():
    _both(_torch_file(lambda n, d: b"Little" if n.endswith("byteorder") else d), ValueError,
          "Unknown endianness type")
    big = _torch_file(lambda n, d: b"big" if n.endswith("byteorder") else d)
    assert _load(big)["w"].tolist() == torch.load(io.BytesIO(big))["w"].tolist()


@pytest.mark.parametrize("old,new", [
    (b"K\x04\x85", b"G@\x04\x00\x00\x00\x00\x00\x00\x85"),  # size (2.5,)
    (b"K\x01\x85", b"X\x01\x00\x00\x001\x85"),  # stride ('1',)
    (b"K\x00K\x04", b"G\x00\x00\x00\x00\x00\x00\x00\x00K\x04"),  # storage_offset 0.0
])
def test_float_or_string_layout_is_a_type_error(old, new):
    blob = _torch_file(lambda n, d: d.replace(old, new, 1) if n.endswith("data.pkl") else d)
    _both(blob, TypeError, ".")


def test_declared_pickle_lengths_cannot_allocate(tmp_path):
    # found by the fuzz test: BYTEARRAY8 (protocol 5) allocated its declared length before reading
    huge = struct.pack("<Q", 1 << 40)
    _fast(lambda: _load(_zip_with(b"\x80\x05\x96" + huge + b"abc.")), pickle.UnpicklingError, "BYTEARRAY8")
    # a legacy file on disk: a buffered file allocates a read's declared length up front
    legacy = _legacy_file(torch.arange(4.0))
    cut = legacy.index(b"\x80\x02", legacy.index(b"\x80\x02", legacy.index(b"\x80\x02", 2) + 2) + 2)
    p = tmp_path / "legacy.pt"
    p.write_bytes(legacy[:cut] + b"\x80\x04\x8e" + huge + b"xyz.")
    _fast(lambda: nnbox.load(p), pickle.UnpicklingError, "truncated or corrupt")
