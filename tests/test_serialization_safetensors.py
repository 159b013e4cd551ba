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
