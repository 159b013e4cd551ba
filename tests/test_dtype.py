"""dtypes: names, aliases, properties, the default dtype and what it changes."""
import pickle

import numpy as np
import pytest
import torch

import nnbox
from oracle import assert_same

NAMES = ["float32", "float", "float64", "double", "float16", "half", "int64", "long", "int32", "int",
         "int16", "short", "int8", "uint8", "bool", "complex64", "cfloat", "complex128", "cdouble"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_objects(name):
    t, n = getattr(torch, name), getattr(nnbox, name)
    assert repr(n) == repr(t) and str(n) == str(t)
    assert n.is_floating_point == t.is_floating_point and n.is_complex == t.is_complex
    assert n.is_signed == t.is_signed and n.itemsize == t.itemsize
    assert pickle.loads(pickle.dumps(n)) is n
    assert nnbox.zeros(1, dtype=n).dtype is n and repr(torch.zeros(1, dtype=t).dtype) == repr(n)


def test_aliases_are_identical():
    assert nnbox.float is nnbox.float32 and nnbox.double is nnbox.float64 and nnbox.long is nnbox.int64
    assert nnbox.int is nnbox.int32 and nnbox.half is nnbox.float16 and nnbox.short is nnbox.int16
    assert isinstance(nnbox.float32, nnbox.dtype)


def test_default_dtype_changes_factories_and_promotion():
    assert nnbox.get_default_dtype() is nnbox.float32
    try:
        for m in (torch, nnbox):
            m.set_default_dtype(m.float64)
        for f in (lambda m: m.tensor([1.5]), lambda m: m.zeros(2), lambda m: m.arange(0.0, 1.0, 0.5),
                  lambda m: m.tensor([1, 2]) / 2, lambda m: m.tensor([1, 2]) + 0.5, lambda m: m.linspace(0, 1, 3),
                  lambda m: m.tensor([1.0], dtype=m.float32) * 2.0, lambda m: m.full((2,), 1.5),
                  lambda m: m.eye(2), lambda m: m.tensor([1, 2]).float(), lambda m: m.tensor([1, 2]).mean(dtype=m.float64)):
            assert_same(f(torch), f(nnbox))
        assert nnbox.rand(2).dtype is nnbox.float64 and nnbox.randn(2).dtype is nnbox.float64
    finally:
        for m in (torch, nnbox):
            m.set_default_dtype(m.float32)
    assert nnbox.tensor([1.5]).dtype is nnbox.float32


def test_set_default_dtype_rejects_ints():
    for m in (torch, nnbox):
        with pytest.raises(TypeError):
            m.set_default_dtype(m.int64)


def test_python_types_as_dtypes():
    assert nnbox.zeros(2, dtype=float).dtype is nnbox.float64  # as torch: Python float is double
    assert nnbox.zeros(2, dtype=int).dtype is nnbox.int64
    assert nnbox.zeros(2, dtype=bool).dtype is nnbox.bool
    assert nnbox.ones(2).to(float).dtype == torch_name(torch.ones(2).to(float).dtype)


def torch_name(t):
    return getattr(nnbox, str(t).split(".")[1])


def test_numpy_dtype_mapping():
    for npdt, name in [(np.float32, "float32"), (np.float64, "float64"), (np.int64, "int64"), (np.int32, "int32"),
                       (np.uint8, "uint8"), (np.bool_, "bool"), (np.float16, "float16"), (np.int8, "int8")]:
        assert nnbox.from_numpy(np.zeros(2, dtype=npdt)).dtype is getattr(nnbox, name)
        assert nnbox.zeros(2, dtype=getattr(nnbox, name)).numpy().dtype == npdt
    with pytest.raises(TypeError):
        nnbox.from_numpy(np.zeros(2, dtype=np.uint32))


def test_cast_second_order():
    from oracle import arr, check

    check(lambda m, x: x.to(m.float32).to(m.float64) ** 3, [arr(3, 4)], order=2, rtol=1e-8)
    check(lambda m, x: x.float().double() * x, [arr(5)], order=2, rtol=1e-8)
    check(lambda m, x: x.to("cpu") ** 2, [arr(5)], order=2, rtol=1e-8)
