"""A torch name nnbox has not built says so; a name torch lacks keeps Python's message."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

import nnbox
from nnbox._torch_names import NAMES


@pytest.mark.parametrize("space, mod, name", [
    ("torch", "nnbox", "hub"),
    ("torch.nn", "nnbox.nn", "CrossMapLRN2d"),
    ("torch.nn.functional", "nnbox.nn.functional", "conv_tbc"),
    ("torch.optim", "nnbox.optim", "Muon"),
    ("torch.utils.data", "nnbox.utils.data", "IterDataPipe"),
])
def test_torch_name_nnbox_lacks(space, mod, name):
    assert hasattr(importlib.import_module(space), name)  # torch has it
    with pytest.raises(AttributeError, match=f"^nnbox does not implement {space}.{name} yet"):
        getattr(importlib.import_module(mod), name)
    assert not hasattr(importlib.import_module(mod), name)


def test_torchvision_names():
    import nnbox.vision as vision

    with pytest.raises(AttributeError, match="^nnbox does not implement torchvision.transforms.AutoAugment yet"):
        vision.transforms.AutoAugment
    with pytest.raises(AttributeError, match="^nnbox does not implement torchvision.datasets.CelebA yet"):
        vision.datasets.CelebA
    with pytest.raises(AttributeError, match="^module 'nnbox.vision.transforms' has no attribute 'Foo'$"):
        vision.transforms.Foo


def test_tensor_class_attribute():
    with pytest.raises(AttributeError, match="^nnbox does not implement torch.Tensor.index_reduce_ yet"):
        nnbox.Tensor.index_reduce_
    with pytest.raises(AttributeError) as n:
        nnbox.Tensor.xyz
    with pytest.raises(AttributeError) as t:
        torch.Tensor.xyz
    assert str(n.value) == str(t.value)
    assert isinstance(nnbox.nn.Parameter(nnbox.ones(1)), nnbox.Tensor)


def test_message_lists_nearest_names():
    with pytest.raises(AttributeError) as e:
        nnbox.ones(1).index_reduce_
    assert str(e.value).startswith("nnbox does not implement torch.Tensor.index_reduce_ yet (nearest names nnbox has: ")
    assert "index_add_" in str(e.value)
    assert hasattr(torch.ones(1), "index_reduce_")


@pytest.mark.parametrize("get, torch_get", [
    (lambda: nnbox.xyz, lambda: torch.xyz),
    (lambda: nnbox.nn.Xyz, lambda: torch.nn.Xyz),
    (lambda: nnbox.nn.functional.xyz, lambda: torch.nn.functional.xyz),
    (lambda: nnbox.optim.Xyz, lambda: torch.optim.Xyz),
    (lambda: nnbox.ones(1).xyz, lambda: torch.ones(1).xyz),
    (lambda: nnbox.ones(1)._xyz, lambda: torch.ones(1)._xyz),
])
def test_names_torch_lacks_keep_pythons_message(get, torch_get):
    with pytest.raises(AttributeError) as n:
        get()
    with pytest.raises(AttributeError) as t:
        torch_get()
    assert "does not implement" not in str(n.value)
    # the same message as torch's, with the module's own name
    assert str(n.value).replace("nnbox", "torch") == str(t.value)


def test_implemented_names_are_not_in_the_way():
    assert nnbox.compile is not None and nnbox.ones(1).shape == (1,)
    assert set(NAMES) == {"torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim", "torch.utils.data"}
    for space, names in NAMES.items():  # the shipped lists are torch's own names
        target = importlib.import_module(space) if space != "torch.Tensor" else torch.Tensor
        some = names.split()[::50]
        assert all(hasattr(target, n) for n in some), space


def test_dir_lists_lazy_subpackages_that_exist():
    d = dir(nnbox)
    assert "nn" in d and "compile" in d and "accelerator" in d and "backends" in d
    assert "hub" not in d or importlib.util.find_spec("nnbox.hub") is not None


def test_missing_name_does_not_slow_import():
    code = "import sys, nnbox; print('nnbox._torch_names' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # the name lists load only when an error is worded
