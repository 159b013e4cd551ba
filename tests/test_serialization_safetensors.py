"""nnbox.utils.safetensors: files interchangeable with safetensors.torch."""
from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch as st_torch  # in the [test] extra: missing means a broken install

import nnbox
from nnbox.utils import safetensors as nst


def _state():
    rng = np.random.default_rng(0)
    return {
        "linear.weight": nnbox.tensor(rng.normal(size=(4, 3)).astype(np.float32)),
        "linear.bias": nnbox.tensor(rng.normal(size=4).astype(np.float32)),
        "bn.num_batches_tracked": nnbox.tensor(7),
        "half": nnbox.tensor(rng.normal(size=5).astype(np.float16)),
        "mask": nnbox.tensor([True, False]),
        "view": nnbox.arange(12.0).reshape(3, 4).t(),  # non-contiguous: written contiguous
    }


def test_nnbox_to_torch_and_back(tmp_path):
    sd = _state()
    p = tmp_path / "m.safetensors"
    nst.save_file(sd, p, metadata={"epoch": "3"})
    t = st_torch.load_file(str(p))
    assert set(t) == set(sd)
    for k in sd:
        assert str(t[k].dtype) == str(sd[k].dtype)
        np.testing.assert_array_equal(t[k].numpy(), sd[k].numpy())
    assert nst.load_metadata(p) == {"epoch": "3"}
    q = tmp_path / "t.safetensors"
    st_torch.save_file(t, str(q))
    back = nst.load_file(q)
    for k in sd:
        assert back[k].dtype == sd[k].dtype
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())
    back["linear.weight"].add_(1.0)  # loaded tensors are writable, owned arrays


def test_bytes_api_and_errors():
    sd = _state()
    blob = nst.save(sd)
    assert isinstance(blob, bytes)
    back = nst.load(blob)
    np.testing.assert_array_equal(back["view"].numpy(), sd["view"].numpy())
    with pytest.raises(TypeError, match="expected a tensor"):
        nst.save({"a": [1, 2]})
    with pytest.raises(TypeError):
        nst.save([nnbox.ones(1)])


def _with_header(header: bytes, body: bytes = b"") -> bytes:
    import struct

    return struct.pack("<Q", len(header)) + header + body


@pytest.mark.parametrize("blob", [
    b"",  # empty file (was struct.error)
    b"\x05\x00\x00",  # shorter than the length field
    _with_header(b"[" * 100_000 + b"]" * 100_000),  # 100k-deep JSON (was RecursionError)
    b"\xe8\x03\x00\x00\x00\x00\x00\x00" + b'{"__metadata__":{}}',  # length past EOF (was UnicodeDecodeError)
    _with_header(b"[1]"),  # not an object
    _with_header(b'{"__metadata__": {"a": 1}}'),  # metadata values must be strings
    _with_header(b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 100]}}'),  # offsets past the data
    _with_header(b'{"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}', b"\x00" * 4),  # unknown dtype
    _with_header(b'{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}', b"\x00" * 8),  # shape vs bytes
    _with_header(b"\xff\xfe"),  # not UTF-8
])
def test_load_metadata_rejects_what_safetensors_rejects(blob, tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(blob)
    with pytest.raises(Exception) as theirs:
        st_torch.load_file(str(p))
    with pytest.raises(type(theirs.value)):
        nst.load_metadata(p)
