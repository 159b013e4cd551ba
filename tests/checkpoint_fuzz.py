"""A fuzzer for ``nnbox.load`` (and the safetensors header reader): random mutations of valid
checkpoints and crafted pickle programs, with a fixed seed.  ``tests/test_checkpoint_fuzz.py``
runs it in CI in a few seconds; ``python tests/checkpoint_fuzz.py [cases-per-area]`` prints the
table (tried / behaved well / failed, per area).

"Behaved well" means: the load returned, or raised one of the clear errors below; it took less
than a second; and it changed nothing outside itself (dtypes, ``Tensor``, ``collections``, the
allowlist).  Anything else -- another exception type, a slow case, a changed process -- fails.
"""
from __future__ import annotations

import collections
import io
import pickle
import random
import struct
import sys
import time
import zipfile

import nnbox

CLEAR_ERRORS = (pickle.UnpicklingError, RuntimeError, ValueError, TypeError, EOFError, zipfile.BadZipFile,
                NotImplementedError)
TIME_LIMIT_S = 1.0


# -- valid seeds ----------------------------------------------------------------------------------
def _seed_objects():
    return [
        {"w": nnbox.arange(12.0).reshape(3, 4), "b": nnbox.zeros(4, dtype=nnbox.float64)},
        collections.OrderedDict(a=nnbox.arange(6), v=nnbox.arange(12.0).reshape(3, 4).t()),
        [nnbox.tensor([True, False]), nnbox.tensor(1.5), {"n": 3, "s": "x", "t": (1, 2.5)}, b"bytes", {1, 2}],
        nnbox.nn.Linear(3, 2).state_dict(),
    ]


def _save(obj) -> bytes:
    buf = io.BytesIO()
    nnbox.save(obj, buf)
    return buf.getvalue()


def _torch_files(legacy: bool) -> list[bytes]:
    """Files torch writes (torch is the tests' oracle): its zip format, or its pre-1.6 one."""
    import torch

    out = []
    for obj in ({"w": torch.arange(12.0).reshape(3, 4), "i": torch.arange(3)}, torch.nn.Linear(3, 2).state_dict(),
                [torch.ones(2, dtype=torch.float64), torch.tensor([True])]):
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
        out.append(buf.getvalue())
    return out


def _safetensors() -> list[bytes]:
    from nnbox.utils import safetensors as nst

    return [nst.save({"a": nnbox.arange(6.0).reshape(2, 3), "b": nnbox.tensor([1, 2])}, metadata={"k": "v"})]


# -- mutations ------------------------------------------------------------------------------------
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, ord("("), ord("b"), ord("R"), ord("c"), ord("s"), ord("."), ord("J")]


def _mutate_bytes(rng: random.Random, data: bytes, n: int | None = None) -> bytes:
    b = bytearray(data)
    for _ in range(n or rng.randint(1, 8)):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:  # flip a bit
            i = min(i, len(b) - 1)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # an interesting byte
            b[min(i, len(b) - 1)] = rng.choice(_INTERESTING)
        elif op == 2:  # insert
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == 3 and b:  # delete a run
            del b[i:i + rng.randint(1, 8)]
        elif op == 4 and len(b) > 4:  # a large or negative 32-bit number
            i = min(i, len(b) - 4)
            b[i:i + 4] = struct.pack("<i", rng.choice([-1, -(2**31), 2**31 - 1, 2**30, 0x7FFFFFF0]))
        elif op == 5 and b:  # truncate
            del b[rng.randrange(len(b)):]
    return bytes(b)


def _rezip(data: bytes, change) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zo:
        for info in zin.infolist():
            zo.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return out.getvalue()


def _mutate_records(rng: random.Random, data: bytes) -> bytes:
    """Structured: mutate one record (data.pkl, byteorder, a storage) and rebuild a valid zip."""
    kind = rng.randrange(5)
    if kind == 0:
        return _rezip(data, lambda n, d: _mutate_bytes(rng, d) if n.endswith("data.pkl") else d)
    if kind == 1:
        word = rng.choice([b"Little", b"big", b"", b"\xff\xfe", b"little\n", b"middle" * 1000])
        return _rezip(data, lambda n, d: word if n.endswith("byteorder") else d)
    if kind == 2:
        return _rezip(data, lambda n, d: d[: rng.randrange(len(d) + 1)] if "/data/" in n else d)
    if kind == 3:  # numbers inside the pickle: sizes, strides, offsets, numel
        def ints(n, d):
            if not n.endswith("data.pkl"):
                return d
            b = bytearray(d)
            for _ in range(rng.randint(1, 3)):
                hits = [i for i in range(len(b) - 1) if b[i] == ord("K")]
                if hits:
                    i = rng.choice(hits)
                    b[i + 1] = rng.choice([0, 1, 2, 100, 255])
            return bytes(b)
        return _rezip(data, ints)
    # kind 4: declared sizes in the central directory
    b = bytearray(data)
    pos = b.rfind(b"PK\x01\x02")
    if pos >= 0:
        struct.pack_into("<I", b, pos + 24, rng.choice([0, 1, 2**31, 0xFFFFFFF0]))
    return bytes(b)


# crafted pickle programs: opcodes over allowed and forbidden globals
_GLOBALS = [b"ctorch\nfloat32\n", b"ctorch\nTensor\n", b"ccollections\nCounter\n", b"ccollections\nOrderedDict\n",
            b"c__builtin__\nbytes\n", b"c__builtin__\nlist\n", b"c__builtin__\nrange\n", b"c__builtin__\nset\n",
            b"ctorch._utils\n_rebuild_tensor_v2\n", b"ctorch\nFloatStorage\n", b"ctorch\nSize\n", b"ctorch\ndevice\n",
            b"cos\nsystem\n", b"cbuiltins\neval\n", b"cbuiltins\ngetattr\n", b"c__builtin__\nobject\n",
            b"ctorch.nn.parameter\nParameter\n", b"c_codecs\nencode\n", b"cbuiltins\nbytearray\n",
            b"ctorch._tensor\n_rebuild_from_type_v2\n", b"ctorch._utils\n_rebuild_parameter_with_state\n",
            b"ctorch._utils\n_rebuild_parameter\n", b"ctorch\nbfloat16\n"]
_VALUES = [b"N", b"\x88", b"\x89", b"K\x05", b"J\xff\xff\xff\x7f", b"\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x01",
           b"X\x02\x00\x00\x00np", b"X\x04\x00\x00\x00int8", b"X\x08\x00\x00\x00backward", b"}", b"]", b")",
           b"G@\x04\x00\x00\x00\x00\x00\x00", b"C\x03abc", b"X\x03\x00\x00\x00cpu"]
_OPS = [b"(", b"t", b"\x85", b"\x86", b"R", b"b", b"s", b"u", b"a", b"e", b"\x81", b"\x90", b"Q", b"0", b"2",
        b"q\x00", b"h\x00", b"\x94", b"\x92", b"\x95\x00\x00\x00\x00\x00\x00\x00\x00"]


def _crafted(rng: random.Random) -> bytes:
    parts = [b"\x80\x02"]
    for _ in range(rng.randint(2, 14)):
        r = rng.random()
        parts.append(rng.choice(_GLOBALS) if r < 0.3 else rng.choice(_VALUES) if r < 0.65 else rng.choice(_OPS))
    parts.append(b".")
    return b"".join(parts)


def _in_zip(archive: bytes, pkl: bytes) -> bytes:
    return _rezip(archive, lambda n, d: pkl if n.endswith("data.pkl") else d)


# -- running one case -----------------------------------------------------------------------------
def _process_fingerprint():
    return (nnbox.float32.np, nnbox.int64.np, nnbox.float32.name, dict(vars(nnbox.Tensor)).keys(),
            collections.Counter.update, collections.OrderedDict.__init__, len(nnbox.serialization.get_safe_globals()),
            nnbox.ones(2).dtype)


def _load_zip_or_pickle(data: bytes):
    return nnbox.load(io.BytesIO(data))


def _load_safetensors(data: bytes):
    import os
    import tempfile

    from nnbox.utils import safetensors as nst

    fd, path = tempfile.mkstemp(suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        nst.load_metadata(path)
        return nst.load_file(path)
    finally:
        os.unlink(path)


def run_case(loader, data: bytes) -> str | None:
    """None if the load behaved well, else what went wrong."""
    before = _process_fingerprint()
    t0 = time.perf_counter()
    try:
        loader(data)
        outcome = None
    except CLEAR_ERRORS:
        outcome = None
    except Exception as e:  # noqa: BLE001 - any other type is a finding
        if type(e).__name__ == "SafetensorError":
            outcome = None
        else:
            outcome = f"{type(e).__name__}: {str(e)[:120]}"
    took = time.perf_counter() - t0
    if outcome is None and took > TIME_LIMIT_S:
        outcome = f"slow: {took:.2f} s"
    if _process_fingerprint() != before:
        outcome = "changed the process"
    return outcome


def run_fuzz(seed: int = 0, per_area: int = 200) -> dict[str, dict]:
    """Counts per area: {"tried": n, "well": n, "failed": [(case description, what)]}."""
    rng = random.Random(seed)
    zips = [_save(o) for o in _seed_objects()] + _torch_files(legacy=False)
    legacy = _torch_files(legacy=True)
    st = _safetensors()
    areas = {
        "zip: random byte mutations": (_load_zip_or_pickle, lambda: _mutate_bytes(rng, rng.choice(zips))),
        "zip: record mutations (pickle, byteorder, storages, sizes)": (
            _load_zip_or_pickle, lambda: _mutate_records(rng, rng.choice(zips))),
        "legacy format: byte mutations": (_load_zip_or_pickle, lambda: _mutate_bytes(rng, rng.choice(legacy))),
        "crafted pickle opcodes (bare)": (_load_zip_or_pickle, lambda: _crafted(rng)),
        "crafted pickle opcodes (in a zip)": (_load_zip_or_pickle, lambda: _in_zip(zips[0], _crafted(rng))),
        "safetensors: byte mutations": (_load_safetensors, lambda: _mutate_bytes(rng, rng.choice(st))),
    }
    report = {}
    for name, (loader, make) in areas.items():
        tried, failed = 0, []
        for _ in range(per_area):
            data = make()
            tried += 1
            what = run_case(loader, data)
            if what is not None:
                failed.append((data, what))
        report[name] = {"tried": tried, "well": tried - len(failed), "failed": failed}
    return report


def table(report: dict) -> str:
    lines = ["| area | tried | behaved well | failed |", "|---|---|---|---|"]
    for name, r in report.items():
        lines.append(f"| {name} | {r['tried']} | {r['well']} | {len(r['failed'])} |")
    total = [sum(r[k] if k != "failed" else len(r[k]) for r in report.values()) for k in ("tried", "well", "failed")]
    lines.append(f"| **all** | {total[0]} | {total[1]} | {total[2]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    t0 = time.perf_counter()
    rep = run_fuzz(0, n)
    print(table(rep))
    print(f"({time.perf_counter() - t0:.1f} s)")
    for name, r in rep.items():
        for data, what in r["failed"][:5]:
            print(name, "|", what, "|", data[:80])
