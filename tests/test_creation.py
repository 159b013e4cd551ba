"""Factories against torch: dtypes inferred, shapes, values, errors; random ones for
reproducibility and distribution."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import assert_same, check_error

FACTORIES = [
    lambda m: m.zeros(2, 3), lambda m: m.zeros((2, 3)), lambda m: m.zeros([4]), lambda m: m.zeros(()),
    lambda m: m.zeros(0, 2), lambda m: m.ones(3, dtype=m.int64), lambda m: m.ones(2, 2, dtype=m.bool),
    lambda m: m.full((2, 2), 7), lambda m: m.full((2,), 7.5), lambda m: m.full((2,), True),
    lambda m: m.full((2,), 3, dtype=m.float64), lambda m: m.empty(2, 3).zero_(), lambda m: m.empty(0),
    lambda m: m.zeros_like(m.ones(2, 3, dtype=m.int32)), lambda m: m.ones_like(m.ones(2, dtype=m.float64)),
    lambda m: m.full_like(m.ones(2), 4), lambda m: m.empty_like(m.ones(2, dtype=m.int64)).zero_(),
    lambda m: m.zeros_like(m.ones(2), dtype=m.float64),
    lambda m: m.arange(5), lambda m: m.arange(2, 9), lambda m: m.arange(2, 9, 3), lambda m: m.arange(9, 2, -2),
    lambda m: m.arange(0, 1, 0.1), lambda m: m.arange(1.5), lambda m: m.arange(0.0, 3.0), lambda m: m.arange(-1, 1, 0.25),
    lambda m: m.arange(5, dtype=m.float32), lambda m: m.arange(0, 10, 3, dtype=m.float64), lambda m: m.arange(0),
    lambda m: m.arange(m.tensor(4)), lambda m: m.arange(1, 3.5, 0.5),
    lambda m: m.linspace(0, 1, 5), lambda m: m.linspace(-3, 7, 11), lambda m: m.linspace(0, 1, 1),
    lambda m: m.linspace(0, 1, 0), lambda m: m.linspace(2, -2, 7, dtype=m.float64), lambda m: m.linspace(0, 10, 4, dtype=m.int64),
    lambda m: m.logspace(0, 2, 3), lambda m: m.eye(3), lambda m: m.eye(2, 4), lambda m: m.eye(3, dtype=m.int64),
    lambda m: m.tensor([[1, 2], [3, 4]]), lambda m: m.tensor([1.0, 2]), lambda m: m.tensor([True, False]),
    lambda m: m.tensor([]), lambda m: m.tensor(5), lambda m: m.tensor(5.0), lambda m: m.tensor([[1.0], [2.0]], dtype=m.float64),
    lambda m: m.tensor(np.arange(6, dtype=np.int32).reshape(2, 3)), lambda m: m.tensor(np.float64(2.5)),
    lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]), lambda m: m.tensor(np.array([1, 2], dtype=np.uint8)),
    lambda m: m.as_tensor([1, 2, 3]), lambda m: m.as_tensor(np.ones(3)), lambda m: m.as_tensor([1, 2], dtype=m.float32),
    lambda m: m.from_numpy(np.arange(4.0)), lambda m: m.tensor([[1, 2], [3, 4]]).T.contiguous(),
    lambda m: m.tril_indices(3, 3), lambda m: m.triu_indices(3, 4, 1),
]


@pytest.mark.parametrize("k", range(len(FACTORIES)))
def test_factories(k):
    assert_same(FACTORIES[k](torch), FACTORIES[k](nnbox))


@pytest.mark.cpu_only(reason="as_tensor shares a NumPy array's memory only on the CPU")
def test_from_numpy_shares_memory_and_as_tensor():
    a = np.zeros(3)
    t = nnbox.from_numpy(a)
    a[1] = 4.0
    assert t.tolist() == [0.0, 4.0, 0.0] and t.dtype == nnbox.float64
    b = np.ones(2, dtype=np.float32)
    assert nnbox.as_tensor(b).numpy() is b or np.shares_memory(nnbox.as_tensor(b).numpy(), b)
    c = nnbox.tensor(b)
    b[0] = 9
    assert c[0].item() == 1.0  # tensor() copies
    x = nnbox.ones(2)
    assert nnbox.as_tensor(x) is x


def test_requires_grad_and_device_kwargs():
    for m in (torch, nnbox):
        assert m.zeros(2, requires_grad=True).requires_grad
        assert m.tensor([1.0], requires_grad=True).is_leaf
        assert m.ones(2, device="cpu").device == m.device("cpu")
        assert m.arange(3.0, requires_grad=True).requires_grad
        with pytest.raises(RuntimeError):
            m.tensor([1, 2], requires_grad=True)


def test_creation_errors():
    check_error(lambda m: m.zeros(-1, 2), [])
    check_error(lambda m: m.arange(0, 5, 0), [])
    check_error(lambda m: m.arange(5, 0, 1), [])
    check_error(lambda m: m.linspace(0, 1, -1), [])
    check_error(lambda m: m.tensor([[1, 2], [3]]), [])
    check_error(lambda m: m.tensor("abc"), [])
    check_error(lambda m: m.randint(5, 2, (3,)), [])
    check_error(lambda m: m.randperm(-1), [])
    check_error(lambda m: m.from_numpy(np.array(["a"])), [])
    check_error(lambda m: m.normal(0.0, -1.0, (2,)), [])
    check_error(lambda m: m.rand(2, dtype=m.int64), [], match="check_uniform_bounds")
    check_error(lambda m: m.randn(2, dtype=m.int64), [], match="normal_kernel_cpu")


RANDOM = [
    (lambda m, g: m.rand(3, 4, generator=g), m_dtype := None),
    (lambda m, g: m.randn(5, generator=g), None),
    (lambda m, g: m.randint(0, 10, (3, 3), generator=g), None),
    (lambda m, g: m.randint(5, (4,), generator=g), None),
    (lambda m, g: m.randperm(6, generator=g), None),
    (lambda m, g: m.normal(2.0, 3.0, (4,), generator=g), None),
    (lambda m, g: m.rand(2, dtype=m.float64, generator=g), None),
    (lambda m, g: m.randn(2, 2, dtype=m.float64, generator=g), None),
]


@pytest.mark.parametrize("k", range(len(RANDOM)))
def test_random_shapes_dtypes_and_seed_reproducibility(k):
    f = RANDOM[k][0]
    t = f(torch, torch.Generator().manual_seed(0))
    nnbox.manual_seed(123)
    a = f(nnbox, None)
    nnbox.manual_seed(123)
    b = f(nnbox, None)
    c = f(nnbox, None)
    assert tuple(a.shape) == tuple(t.shape) and repr(a.dtype) == str(t.dtype)
    assert a.tolist() == b.tolist()
    assert a.numel() < 3 or a.tolist() != c.tolist()
    g = nnbox.Generator().manual_seed(7)
    d = f(nnbox, g)
    g.manual_seed(7)
    assert f(nnbox, g).tolist() == d.tolist()


def test_random_distributions():
    nnbox.manual_seed(0)
    u = nnbox.rand(20000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.01
    n = nnbox.randn(20000)
    assert abs(n.mean().item()) < 0.03 and abs(n.std().item() - 1) < 0.03
    r = nnbox.randint(3, 7, (5000,))
    assert r.dtype == nnbox.int64 and set(r.unique().tolist()) == {3, 4, 5, 6}
    p = nnbox.randperm(50)
    assert sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    nm = nnbox.normal(nnbox.zeros(5000) + 3.0, 2.0)
    assert abs(nm.mean().item() - 3) < 0.1 and abs(nm.std().item() - 2) < 0.1
    nm2 = nnbox.normal(1.0, nnbox.full((5000,), 0.5))
    assert abs(nm2.mean().item() - 1) < 0.05
    assert nnbox.rand_like(nnbox.ones(2, 3, dtype=nnbox.float64)).dtype == nnbox.float64
    assert nnbox.randn_like(nnbox.ones(2, 3)).shape == (2, 3)
    assert nnbox.randint_like(nnbox.ones(4), 10).max().item() < 10


@pytest.mark.cpu_only(reason="get_rng_state is the CPU generator's state; cuda draws come from the device's")
def test_rng_state_roundtrip():
    nnbox.manual_seed(5)
    st = nnbox.get_rng_state()
    a = nnbox.rand(4)
    nnbox.set_rng_state(st)
    assert nnbox.rand(4).tolist() == a.tolist()
    assert nnbox.initial_seed() == 5


def test_bernoulli_multinomial():
    nnbox.manual_seed(0)
    b = nnbox.bernoulli(nnbox.full((5000,), 0.3))
    assert abs(b.mean().item() - 0.3) < 0.03
    idx = nnbox.multinomial(nnbox.tensor([0.0, 1.0, 3.0]), 1000, replacement=True)
    counts = nnbox.bincount(idx, minlength=3).tolist()
    assert counts[0] == 0 and 600 < counts[2] < 900
    nr = nnbox.multinomial(nnbox.tensor([1.0, 1.0, 1.0, 0.0]), 3)
    assert sorted(nr.tolist()) == [0, 1, 2]
