"""issue 16: torch's exception types at the call sites the probe checked, and the missing
``Tensor.inverse``, ``cdist``, ``xlogy``, ``finfo``/``iinfo``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
from nnbox.autograd import gradcheck


def _outcome(f):
    try:
        return "ok", f()
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return type(e), str(e)


CASES = {
    "zeros(device=cuda)": lambda L: L.zeros(2, device="cuda"),
    "tensor(device=cuda)": lambda L: L.tensor([1.0], device="cuda"),
    "randn(device=cuda)": lambda L: L.randn(2, device="cuda"),
    ".cuda()": lambda L: L.ones(2).cuda(),
    ".to('cuda')": lambda L: L.ones(2).to("cuda"),
    "Module.cuda()": lambda L: L.nn.Linear(2, 2).cuda(),
    "Module.to('cuda')": lambda L: L.nn.Linear(2, 2).to("cuda"),
    "cuda.current_device()": lambda L: L.cuda.current_device(),
    "cuda.get_device_name()": lambda L: L.cuda.get_device_name(0),
    "empty(2**40)": lambda L: L.empty(2**40),
    "zeros(2**40)": lambda L: L.zeros(2**40),
    "ones(2**62, 2**62)": lambda L: L.ones(2**62, 2**62),
    "ones(2**40, 2**30)": lambda L: L.ones(2**40, 2**30),
    "Linear(-1, 3)": lambda L: L.nn.Linear(-1, 3),
    "Linear(3, -1)": lambda L: L.nn.Linear(3, -1),
    "Conv2d(-1, 3, 3)": lambda L: L.nn.Conv2d(-1, 3, 3),
    "repeat(-1)": lambda L: L.ones(2).repeat(-1),
    "repeat(2, -1)": lambda L: L.ones(2).repeat(2, -1),
    "tensor(['a'])": lambda L: L.tensor(["a"]),
    "tensor('a')": lambda L: L.tensor("a"),
    "tensor([[1, 'a']])": lambda L: L.tensor([[1, "a"]]),
    "tensor([None])": lambda L: L.tensor([None]),
    "tensor(None)": lambda L: L.tensor(None),
    "tensor([{}])": lambda L: L.tensor([{}]),
    "tensor([b'a'])": lambda L: L.tensor([b"a"]),
}
# the messages nnbox words its own way (it adds how to get CUDA)
_OWN_WORDS = {k for k in CASES if "cuda" in k}


# torch's CPU allocator refuses these; on cuda torch's caching allocator raises its OutOfMemoryError
_CPU_ALLOC = pytest.mark.cpu_only(reason="asserts torch's CPU allocator error; on cuda torch raises torch.OutOfMemoryError")


@pytest.mark.parametrize("case", [pytest.param(k, marks=_CPU_ALLOC) if k in ("empty(2**40)", "zeros(2**40)") else k
                                  for k in CASES])
def test_exception_types_like_torch(case):
    want = _outcome(lambda: CASES[case](torch))
    got = _outcome(lambda: CASES[case](nnbox))
    if case in _OWN_WORDS and nnbox.cuda.is_available():
        pytest.skip("a GPU is present: 'cuda' works")
    assert want[0] != "ok" and got[0] is want[0], (got, want)
    if case in _OWN_WORDS:
        assert got[1].startswith(want[1]), (got, want)
    else:
        assert got[1] == want[1], (got, want)


# -- Tensor.inverse ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_inverse_matches_torch(shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape) + 3 * np.eye(shape[-1])
    t = torch.tensor(a, requires_grad=True)
    n = nnbox.tensor(a, requires_grad=True)
    np.testing.assert_allclose(n.inverse().detach().numpy(), t.inverse().detach().numpy(), rtol=1e-10)
    w = rng.normal(size=shape)
    (t.inverse() * torch.tensor(w)).sum().backward()
    (n.inverse() * nnbox.tensor(w)).sum().backward()
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert gradcheck(lambda x: x.inverse(), (nnbox.tensor(a, requires_grad=True),))
    np.testing.assert_allclose(nnbox.linalg.inv(nnbox.tensor(a)).numpy(), np.linalg.inv(a))


@pytest.mark.parametrize("a", [np.ones((2, 3)), np.zeros((2, 2)), np.eye(2, dtype=np.int64), np.ones(3)])
def test_inverse_errors_like_torch(a):
    with pytest.raises(RuntimeError) as want:
        torch.tensor(a).inverse()
    with pytest.raises(RuntimeError) as got:
        nnbox.tensor(a).inverse()
    if "singular" in str(want.value):
        assert "singular" in str(got.value) and isinstance(got.value, nnbox.linalg.LinAlgError)
    else:
        assert str(got.value) == str(want.value)


# -- cdist ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, float("inf")])
@pytest.mark.parametrize("shapes", [((4, 3), (5, 3)), ((2, 4, 3), (2, 6, 3)), ((2, 1, 3), (1, 3))])
def test_cdist_matches_torch(p, shapes):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    b.reshape(-1, b.shape[-1])[0] = a.reshape(-1, a.shape[-1])[0]  # a zero distance: its gradient is 0
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    na, nb = nnbox.tensor(a, requires_grad=True), nnbox.tensor(b, requires_grad=True)
    if len(shapes[1]) < len(shapes[0]):
        tb_, nb_ = tb.expand(shapes[0][0], *shapes[1]), nb.expand(shapes[0][0], *shapes[1])
    else:
        tb_, nb_ = tb, nb
    t, n = torch.cdist(ta, tb_, p=p), nnbox.cdist(na, nb_, p=p)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=1e-10)
    w = rng.normal(size=t.shape)
    (t * torch.tensor(w)).sum().backward()
    (n * nnbox.tensor(w)).sum().backward()
    np.testing.assert_allclose(na.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nb.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_cdist_errors_like_torch():
    for a, b, kw in [((3,), (2, 3), {}), ((2, 3), (2, 4), {}), ((2, 3), (2, 3), {"p": -1})]:
        with pytest.raises(RuntimeError) as want:
            torch.cdist(torch.ones(*a), torch.ones(*b), **kw)
        with pytest.raises(RuntimeError, match=str(want.value)):
            nnbox.cdist(nnbox.ones(*a), nnbox.ones(*b), **kw)
    with pytest.raises(RuntimeError, match="floating-point dtypes, X1 got: Long"):
        nnbox.cdist(nnbox.ones(2, 3, dtype=nnbox.int64), nnbox.ones(2, 3, dtype=nnbox.int64))


# -- xlogy ---------------------------------------------------------------------------------------
def test_xlogy_matches_torch_values_and_grads():
    x = [0.0, 0.0, 1.0, 2.0, -1.5, 0.0, 3.0]
    y = [0.0, 2.0, 0.0, 4.0, 0.5, float("nan"), float("inf")]
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    nx, ny = nnbox.tensor(x, requires_grad=True), nnbox.tensor(y, requires_grad=True)
    t, n = torch.xlogy(tx, ty), nnbox.xlogy(nx, ny)
    assert n.dtype == nnbox.float32
    np.testing.assert_array_equal(n.detach().numpy(), t.detach().numpy())
    t.sum().backward()
    n.sum().backward()
    np.testing.assert_array_equal(nx.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(ny.grad.numpy(), ty.grad.numpy())
    # scalars, broadcasting, integer promotion, the method
    np.testing.assert_allclose(nnbox.xlogy(2, nnbox.tensor([1.0, 3.0])).numpy(), torch.xlogy(2, torch.tensor([1.0, 3.0])).numpy())
    np.testing.assert_allclose(nnbox.tensor([[1], [2]]).xlogy(3.0).numpy(), torch.tensor([[1], [2]]).xlogy(3.0).numpy())
    a = np.random.default_rng(2).uniform(0.5, 2, size=(3, 1))
    b = np.random.default_rng(3).uniform(0.5, 2, size=(4,))
    assert gradcheck(nnbox.xlogy, (nnbox.tensor(a, requires_grad=True), nnbox.tensor(b, requires_grad=True)))


# -- finfo / iinfo -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["float32", "float64", "float16", "complex64", "complex128"])
def test_finfo_like_torch(name):
    t, n = torch.finfo(getattr(torch, name)), nnbox.finfo(getattr(nnbox, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(n, attr) == getattr(t, attr), attr
        assert type(getattr(n, attr)) is type(getattr(t, attr)), attr
    assert repr(n) == repr(t)
    assert nnbox.finfo().dtype == torch.finfo().dtype


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo_like_torch(name):
    t, n = torch.iinfo(getattr(torch, name)), nnbox.iinfo(getattr(nnbox, name))
    assert (n.bits, n.min, n.max, n.dtype) == (t.bits, t.min, t.max, t.dtype)
    assert repr(n) == repr(t)


def test_finfo_iinfo_errors_like_torch():
    for fn, d in (("iinfo", "float32"), ("finfo", "int32"), ("iinfo", "bool")):
        with pytest.raises(TypeError) as want:
            getattr(torch, fn)(getattr(torch, d))
        with pytest.raises(TypeError) as got:
            getattr(nnbox, fn)(getattr(nnbox, d))
        assert str(got.value) == str(want.value)
