"""nnbox.save / nnbox.load: PyTorch's file format both ways, safety, atomicity."""
from __future__ import annotations

import collections
import io
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest
import torch

import nnbox
from oracle import assert_same

ALL_DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex64", "complex128"]


def _sample(lib, dtype_name, rng):
    a = rng.normal(size=(3, 4)) * 10
    if dtype_name == "bool":
        a = a > 0
    elif dtype_name.startswith("complex"):
        a = a + 1j * rng.normal(size=(3, 4))
    return lib.tensor(a.astype(getattr(np, dtype_name if dtype_name != "bool" else "bool_")))


def _same(n: nnbox.Tensor, t: torch.Tensor):
    assert_same(t, n, rtol=0, atol=0)  # the oracle's comparison, exact: a round trip changes no bit


def _roundtrip_to_torch(obj, tmp_path, name="x.pt"):
    p = tmp_path / name
    nnbox.save(obj, p)
    return torch.load(p)  # torch's default: weights_only=True


def _roundtrip_from_torch(obj, tmp_path, name="y.pt", **kw):
    p = tmp_path / name
    torch.save(obj, p)
    return nnbox.load(p, **kw)


# --- format compatibility -------------------------------------------------------------------
@pytest.mark.parametrize("dtype_name", ALL_DTYPES)
def test_every_dtype_both_ways(dtype_name, tmp_path):
    rng = np.random.default_rng(0)
    n = _sample(nnbox, dtype_name, rng)
    t = _roundtrip_to_torch(n, tmp_path)
    _same(n, t)
    back = _roundtrip_from_torch(t, tmp_path)
    _same(back, t)


def test_views_share_one_storage_both_ways(tmp_path):
    base = nnbox.arange(24.0).reshape(4, 6)
    obj = {"base": base, "t": base.t(), "row": base[2], "cols": base[:, 1:5:2], "exp": base[0:1].expand(3, 6)}
    t = _roundtrip_to_torch(obj, tmp_path)
    ptr = t["base"].untyped_storage().data_ptr()
    for k in obj:
        _same(obj[k], t[k])
        assert t[k].untyped_storage().data_ptr() == ptr, k  # one storage, as torch would write
    assert t["cols"].stride() == (6, 2) and t["cols"].storage_offset() == 1
    # and back: nnbox tensors loaded from one storage are views of one buffer
    back = _roundtrip_from_torch(t, tmp_path)
    for k in obj:
        _same(back[k], t[k])
    back["base"][2, 1] = -1.0
    assert back["row"][1].item() == -1.0 and back["t"][1, 2].item() == -1.0


def test_torch_views_and_noncontiguous_load(tmp_path):
    x = torch.arange(60.0).reshape(3, 4, 5)
    obj = [x.permute(2, 0, 1), x[1:, ::2, 3], x.narrow(2, 1, 2), torch.tensor(7.0), torch.empty(0, 3)]
    back = _roundtrip_from_torch(obj, tmp_path)
    for n, t in zip(back, obj):
        _same(n, t)


def test_negative_strides_saved_as_copies(tmp_path):
    a = nnbox.tensor(np.arange(6.0)[::-1].copy())
    view = nnbox.from_numpy(np.arange(6.0)[::-1])  # numpy-only layout torch can't express
    t = _roundtrip_to_torch({"a": a, "v": view}, tmp_path)
    _same(view, t["v"])


def test_containers_numbers_strings_dtypes_devices_sizes(tmp_path):
    obj = collections.OrderedDict(
        i=3, f=2.5, s="héllo", b=b"\x00\xffbytes", n=None, flag=True, c=1 + 2j, st={1, 2}, tup=(1, (2, [3.0])),
        dt=nnbox.float16, dev=nnbox.device("cpu"), size=nnbox.Size([2, 3]), nested={"a": [nnbox.ones(2), {"b": nnbox.zeros(1)}]},
    )
    t = _roundtrip_to_torch(obj, tmp_path)
    assert t["dt"] is torch.float16 and t["dev"] == torch.device("cpu") and t["size"] == torch.Size([2, 3])
    assert type(t["size"]) is torch.Size and t["b"] == b"\x00\xffbytes" and t["s"] == "héllo" and t["c"] == 1 + 2j
    back = _roundtrip_from_torch(t, tmp_path)
    assert type(back) is collections.OrderedDict and list(back) == list(obj)
    assert back["dt"] is nnbox.float16 and back["dev"] == nnbox.device("cpu")
    assert type(back["size"]) is nnbox.Size and back["size"] == (2, 3)
    for k in ("i", "f", "s", "b", "n", "flag", "c", "st", "tup"):
        assert back[k] == obj[k]
    _same(back["nested"]["a"][1]["b"], torch.zeros(1))


def test_state_dict_metadata_attribute_survives(tmp_path):
    sd = torch.nn.Linear(3, 2).state_dict()  # an OrderedDict with a _metadata attribute
    back = _roundtrip_from_torch(sd, tmp_path)
    assert back._metadata == sd._metadata
    again = _roundtrip_to_torch(back, tmp_path)
    assert again._metadata == sd._metadata
    for k in sd:
        _same(back[k], sd[k])


def test_requires_grad_flag_kept(tmp_path):
    x = nnbox.ones(2, requires_grad=True)
    t = _roundtrip_to_torch(x, tmp_path)
    assert t.requires_grad
    assert _roundtrip_from_torch(t, tmp_path).requires_grad


def test_bfloat16_checkpoint_loads_as_bfloat16(tmp_path):
    # issue 16: a float32 conversion behind a warning was a silent dtype change, so such files were
    # refused; issue 13 gave nnbox bfloat16 (ml_dtypes): they load as bfloat16, bit for bit, every
    # time (without ml_dtypes they are refused naming it: tests/test_bfloat16.py)
    pytest.importorskip("ml_dtypes")
    t = torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16)
    for _ in range(2):
        n = _roundtrip_from_torch(t, tmp_path)
        assert n.dtype is nnbox.bfloat16 and n.tolist() == t.tolist()
    torch.save({"dtype": torch.bfloat16}, tmp_path / "dt.pt")
    assert nnbox.load(tmp_path / "dt.pt") == {"dtype": nnbox.bfloat16}


def test_archive_layout_matches_torch(tmp_path):
    p = tmp_path / "model.pt"
    nnbox.save({"w": nnbox.ones(3)}, p)
    with zipfile.ZipFile(p) as zf:
        names = set(zf.namelist())
        assert {"model/data.pkl", "model/data/0", "model/version", "model/byteorder", "model/.data/serialization_id"} <= names
        assert all(zi.compress_type == zipfile.ZIP_STORED for zi in zf.infolist())
        # storages start on 64-byte boundaries (what makes torch's mmap=True work)
        with open(p, "rb") as raw:
            from nnbox.serialization import _data_offset

            assert _data_offset(raw, zf.getinfo("model/data/0")) % 64 == 0
    assert torch.load(p, mmap=True)["w"].tolist() == [1.0, 1.0, 1.0]


def test_legacy_torch_format_loads(tmp_path):
    x = torch.arange(10.0).reshape(2, 5)
    p = tmp_path / "old.pt"
    torch.save({"x": x, "y": x[:, 1:], "i": torch.tensor([1, 2])}, p, _use_new_zipfile_serialization=False)
    back = nnbox.load(p)
    _same(back["x"], x)
    _same(back["y"], x[:, 1:])
    _same(back["i"], torch.tensor([1, 2]))


# --- file objects, map_location, mmap -------------------------------------------------------
def test_file_like_objects(tmp_path):
    buf = io.BytesIO()
    nnbox.save({"a": nnbox.arange(4)}, buf)
    buf.seek(0)
    assert torch.load(buf)["a"].tolist() == [0, 1, 2, 3]
    buf = io.BytesIO()
    torch.save({"a": torch.arange(4)}, buf)
    buf.seek(0)
    assert nnbox.load(buf)["a"].tolist() == [0, 1, 2, 3]
    with open(tmp_path / "f.pt", "wb") as fh:
        nnbox.save([nnbox.ones(1)], fh)
    with open(tmp_path / "f.pt", "rb") as fh:
        assert nnbox.load(fh)[0].tolist() == [1.0]

    class Unseekable(io.RawIOBase):
        def __init__(self, data):
            self._b = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self._b.readinto(b)

    assert nnbox.load(Unseekable((tmp_path / "f.pt").read_bytes()))[0].tolist() == [1.0]


def test_map_location_forms(tmp_path, device):
    p = tmp_path / "m.pt"
    nnbox.save({"w": nnbox.ones(2)}, p)
    for ml in ("cpu", nnbox.device("cpu"), {"cpu": "cpu"}, lambda storage, loc: storage, lambda storage, loc: None):
        assert nnbox.load(p, map_location=ml)["w"].tolist() == [1.0, 1.0]
    seen = []
    nnbox.load(p, map_location=lambda storage, loc: seen.append(loc))
    assert seen == ["cuda:0" if device == "cuda" else "cpu"]  # where the tensor was saved from
    with pytest.raises(TypeError):
        nnbox.load(p, map_location=3.5)


def test_cuda_checkpoint_on_cpu_machine_needs_map_location(tmp_path):
    # a torch file whose storages say cuda:0 (forge the location string; no GPU needed)
    p = tmp_path / "g.pt"
    torch.save({"w": torch.ones(2)}, p)
    with zipfile.ZipFile(p) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    pkl = next(n for n in items if n.endswith("data.pkl"))
    items[pkl] = items[pkl].replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as zf:
        for n, d in items.items():
            zf.writestr(n, d)
    if not torch.cuda.is_available():
        from nnbox._backend.device import cupy_or_none

        if cupy_or_none() is None:
            with pytest.raises(RuntimeError, match="map_location=torch.device\\('cpu'\\)"):
                nnbox.load(p)
    assert nnbox.load(p, map_location="cpu")["w"].tolist() == [1.0, 1.0]
    assert nnbox.load(p, map_location={"cuda:0": "cpu"})["w"].tolist() == [1.0, 1.0]


def test_mmap_is_copy_on_write(tmp_path):
    p = tmp_path / "m.pt"
    torch.save({"w": torch.arange(1000.0)}, p)
    w = nnbox.load(p, mmap=True)["w"]
    assert w[999].item() == 999.0
    w[0] = 5.0  # private mapping: the file is not changed
    assert torch.load(p)["w"][0].item() == 0.0
    with pytest.raises(ValueError):
        nnbox.load(io.BytesIO(p.read_bytes()), mmap=True)


# --- safety ---------------------------------------------------------------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_file(tmp_path, zip_format=True):
    marker = tmp_path / "PWNED"
    p = tmp_path / "evil.pt"
    payload = {"weight": torch.ones(2), "surprise": _Evil(marker)}
    torch.save(payload, p, _use_new_zipfile_serialization=zip_format)
    return p, marker


@pytest.mark.parametrize("zip_format", [True, False])
def test_malicious_pickle_executes_nothing(tmp_path, zip_format):
    p, marker = _evil_file(tmp_path, zip_format)
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|nt|os)\.system.*weights_only=False"):
        nnbox.load(p)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        nnbox.load(p, weights_only=True, map_location="cpu")
    assert not marker.exists()


def test_weights_only_false_runs_the_pickle_only_when_asked(tmp_path):
    p, marker = _evil_file(tmp_path)
    out = nnbox.load(p, weights_only=False)
    assert marker.exists()  # that is exactly what weights_only=False means
    assert out["weight"].tolist() == [1.0, 1.0]


def test_other_globals_refused_and_safe_globals(tmp_path):
    p = tmp_path / "dd.pt"
    torch.save(collections.defaultdict(list, a=[1]), p)
    with pytest.raises(pickle.UnpicklingError, match="collections.defaultdict"):
        nnbox.load(p)
    with nnbox.serialization.safe_globals([collections.defaultdict]):
        assert nnbox.load(p)["a"] == [1]
    with pytest.raises(pickle.UnpicklingError):
        nnbox.load(p)
    with pytest.raises(RuntimeError, match="pickle_module"):
        nnbox.load(p, pickle_module=pickle, weights_only=True)


def test_out_of_bounds_tensor_view_refused(tmp_path):
    # a crafted file whose tensor claims more elements than its storage holds
    p = tmp_path / "x.pt"
    torch.save(torch.ones(4), p)
    with zipfile.ZipFile(p) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    pkl = next(n for n in items if n.endswith("data.pkl"))
    assert b"K\x04\x85" in items[pkl]
    items[pkl] = items[pkl].replace(b"K\x04\x85", b"M\x00\x10\x85", 1)  # size (4,) -> (4096,)
    with zipfile.ZipFile(p, "w") as zf:
        for n, d in items.items():
            zf.writestr(n, d)
    with pytest.raises(pickle.UnpicklingError, match="outside its storage"):
        nnbox.load(p)


def test_torchscript_and_garbage_give_clear_errors(tmp_path):
    p = tmp_path / "ts.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), p)
    with pytest.raises(RuntimeError, match="TorchScript"):
        nnbox.load(p)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(EOFError):
        nnbox.load(tmp_path / "empty.pt")
    (tmp_path / "garbage.pt").write_bytes(b"hello world")
    with pytest.raises(pickle.UnpicklingError, match="Invalid magic number"):
        nnbox.load(tmp_path / "garbage.pt")
    with pytest.raises(RuntimeError, match="Parent directory .*nope does not exist"):
        nnbox.save({}, tmp_path / "nope" / "x.pt")


# --- atomic writes --------------------------------------------------------------------------
def test_failed_save_leaves_previous_file(tmp_path):
    p = tmp_path / "ckpt.pt"
    nnbox.save({"v": 1}, p)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        nnbox.save({"v": 2, "x": Boom()}, p)
    assert nnbox.load(p) == {"v": 1}
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # the temporary file was cleaned up


def test_kill_during_save_keeps_previous_checkpoint(tmp_path):
    """SIGKILL a process in the middle of writing a big checkpoint over a good one."""
    target = tmp_path / "ckpt.pt"
    script = textwrap.dedent(
        f"""
        import nnbox, sys
        nnbox.save({{"epoch": 1, "w": nnbox.arange(10.0)}}, {str(target)!r})
        print("first", flush=True)
        big = [nnbox.zeros(32 * 1024 * 1024 // 4) + i for i in range(8)]  # 8 storages of 32 MB
        nnbox.save({{"epoch": 2, "w": big}}, {str(target)!r})
        print("second save finished before the kill", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "first"
        # wait until the second save has started writing its temporary file, then kill
        deadline = time.time() + 60
        while time.time() < deadline:
            tmps = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
            if tmps and os.path.getsize(tmp_path / tmps[0]) > 1 << 20:
                break
            time.sleep(0.005)
        else:
            pytest.fail("the saving process never started writing")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    ck = nnbox.load(target)
    assert ck["epoch"] == 1 and ck["w"].tolist() == list(np.arange(10.0))
    assert torch.load(target)["epoch"] == 1


# --- models and optimizers across libraries ---------------------------------------------------
def test_parameters_round_trip(tmp_path):
    from nnbox.nn import Parameter

    obj = {"p": Parameter(nnbox.ones(3)), "frozen": Parameter(nnbox.zeros(2), requires_grad=False)}
    t = _roundtrip_to_torch(obj, tmp_path)
    assert type(t["p"]) is torch.nn.Parameter and t["p"].requires_grad and not t["frozen"].requires_grad
    back = _roundtrip_from_torch(t, tmp_path)
    assert type(back["p"]) is Parameter and back["p"].requires_grad and not back["frozen"].requires_grad
    _same(back["p"].detach(), t["p"].detach())


def _linear_pair(seed=0):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    n, t = nnbox.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
        t.bias.copy_(torch.from_numpy(b))
    n.load_state_dict({"weight": nnbox.tensor(w), "bias": nnbox.tensor(b)})
    return n, t


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda lib, p: lib.optim.Adam(p, lr=0.01, amsgrad=True),
        lambda lib, p: lib.optim.AdamW(p, lr=0.01),
        lambda lib, p: lib.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_optimizer_state_nnbox_torch_nnbox(make, tmp_path):
    """Train 3 steps in nnbox, continue in torch from the saved state, come back to nnbox:
    every library's next step must agree (the states mean the same thing on both sides)."""
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(6)]
    n_model, t_model = _linear_pair()
    n_opt = make(nnbox, n_model.parameters())
    for x in xs[:3]:
        n_opt.zero_grad()
        (n_model(nnbox.tensor(x)) ** 2).sum().backward()
        n_opt.step()
    nnbox.save({"model": n_model.state_dict(), "opt": n_opt.state_dict()}, tmp_path / "a.pt")
    ck = torch.load(tmp_path / "a.pt")
    t_model.load_state_dict(ck["model"])
    t_opt = make(torch, t_model.parameters())
    t_opt.load_state_dict(ck["opt"])
    for x in xs[3:5]:
        t_opt.zero_grad()
        (t_model(torch.from_numpy(x)) ** 2).sum().backward()
        t_opt.step()
        n_opt.zero_grad()
        (n_model(nnbox.tensor(x)) ** 2).sum().backward()
        n_opt.step()
    np.testing.assert_allclose(n_model.weight.detach().numpy(), t_model.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    torch.save({"model": t_model.state_dict(), "opt": t_opt.state_dict()}, tmp_path / "b.pt")
    ck = nnbox.load(tmp_path / "b.pt")
    n2_model, _ = _linear_pair(5)
    n2_model.load_state_dict(ck["model"])
    n2_opt = make(nnbox, n2_model.parameters())
    n2_opt.load_state_dict(ck["opt"])
    for model, opt in ((n2_model, n2_opt), (t_model, t_opt)):
        lib = nnbox if model is n2_model else torch
        opt.zero_grad()
        (model(lib.tensor(xs[5])) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(n2_model.weight.detach().numpy(), t_model.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(n2_model.bias.detach().numpy(), t_model.bias.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_fortran_ordered_storage_keeps_layout(tmp_path):
    f = nnbox.from_numpy(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    t = _roundtrip_to_torch({"f": f, "ft": f.t()}, tmp_path)
    assert t["f"].stride() == (1, 2) and t["ft"].stride() == (2, 1)
    assert t["f"].untyped_storage().data_ptr() == t["ft"].untyped_storage().data_ptr()
    _same(f, t["f"])


def test_whole_module_needs_weights_only_false(tmp_path):
    model = nnbox.nn.Sequential(nnbox.nn.Linear(3, 2), nnbox.nn.ReLU())
    nnbox.save(model, tmp_path / "whole.pt")
    with pytest.raises(pickle.UnpicklingError, match="nnbox.nn.modules"):
        nnbox.load(tmp_path / "whole.pt")
    back = nnbox.load(tmp_path / "whole.pt", weights_only=False)
    assert type(back) is type(model) and repr(back) == repr(model)
    np.testing.assert_array_equal(back[0].weight.detach().numpy(), model[0].weight.detach().numpy())
    assert isinstance(back[0].weight, nnbox.nn.Parameter)
