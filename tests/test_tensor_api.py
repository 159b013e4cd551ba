"""The Tensor API against torch: conversions, .data/detach/clone, to/type casts, item/tolist/numpy,
properties, devices and CUDA errors without a GPU."""
import copy
import pickle

import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error

LIBS = [torch, nnbox]


@pytest.mark.cpu_only(reason="numpy() shares the tensor's memory only on the CPU")
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch's own __array__
@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_item_tolist_numpy(m):
    x = m.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert m.tensor(2.5).item() == 2.5 and isinstance(m.tensor(2.5).item(), float)
    assert m.tensor(3).item() == 3 and isinstance(m.tensor(3).item(), int)
    assert m.tensor(True).item() is True
    assert m.tensor([7]).item() == 7
    with pytest.raises(RuntimeError, match="a Tensor with 4 elements cannot be converted to Scalar"):
        x.item()
    a = x.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 2)
    a[0, 0] = 9.0  # numpy() shares memory
    assert x[0, 0].item() == 9.0
    assert np.asarray(x).dtype == np.float32
    assert np.array(x, dtype=np.float64).dtype == np.float64
    y = m.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        y.numpy()
    assert y.detach().numpy().tolist() == [1.0, 1.0]
    assert float(m.tensor([2.5])) == 2.5 and int(m.tensor(3.7)) == 3 and bool(m.tensor([1]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(m.ones(2))
    with pytest.raises(TypeError):
        len(m.tensor(1.0))
    assert len(x) == 2 and [r.tolist() for r in x] == [[9.0, 2.0], [3.0, 4.0]]
    assert list(range(10))[m.tensor(3)] == 3


@pytest.mark.cpu_only(reason="asserts that a new tensor is on the CPU")
@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_properties(m):
    x = m.zeros(2, 3)
    assert x.dtype == m.float32 and x.device == m.device("cpu") and str(x.device) == "cpu"
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.grad_fn is None
    assert x.is_floating_point() and not m.zeros(2, dtype=m.int64).is_floating_point()
    assert x.is_contiguous() and x.stride() == (3, 1) and x.t().stride() == (1, 3)
    assert x.element_size() == 4 and x.nelement() == 6 and x.ndimension() == 2
    assert not x.is_cuda and x.get_device() == -1
    assert m.is_tensor(x) and not m.is_tensor(np.zeros(2))
    assert m.is_floating_point(x) and m.numel(x) == 6
    assert x.type() == "torch.FloatTensor" and m.zeros(1, dtype=m.int64).type() == "torch.LongTensor"


@pytest.mark.cpu_only(reason="asserts that .to('cpu') of a new tensor is a no-op")
@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_casts(m):
    x = m.tensor([1.7, -2.2, 0.0])
    for name, dt in [("float", m.float32), ("double", m.float64), ("half", m.float16), ("long", m.int64),
                     ("int", m.int32), ("bool", m.bool), ("byte", m.uint8), ("short", m.int16), ("char", m.int8)]:
        y = getattr(x, name)()
        assert y.dtype == dt
    assert x.long().tolist() == [1, -2, 0]
    assert x.bool().tolist() == [True, True, False]
    assert x.to(m.float64).dtype == m.float64
    assert x.to("cpu") is x and x.to(m.float32) is x and x.float() is x
    assert x.to("cpu", m.float64).dtype == m.float64
    assert x.to(dtype=m.int32, device="cpu").dtype == m.int32
    assert x.to(m.zeros(1, dtype=m.float64)).dtype == m.float64
    assert x.to(m.float32, copy=True) is not x
    assert x.type(m.float64).dtype == m.float64 and x.type("torch.LongTensor").dtype == m.int64
    assert x.type_as(m.zeros(1, dtype=m.int64)).dtype == m.int64
    assert x.cpu() is x


def test_cast_grads():
    check(lambda m, x: x.float() * 2, [arr(3)])
    check(lambda m, x: x.double().sum(), [arr(3, dtype=np.float32)])
    check(lambda m, x: x.to(m.float16).float(), [arr(3, dtype=np.float32)])
    check(lambda m, x: (x.long() * 2.0), [arr(3)])  # int cast cuts the graph


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_detach_clone_requires_grad(m):
    x = m.ones(3, requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.grad_fn.name() == "CloneBackward0"
    c.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    d[0] = 4.0
    assert x[0].item() == 4.0
    y = m.ones(2)
    assert y.requires_grad_() is y and y.requires_grad
    y.requires_grad = False
    assert not y.requires_grad
    z = (x * 2).detach_()
    assert not z.requires_grad and z.grad_fn is None


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_grad_assignment_checks(m):
    x = m.ones(3, requires_grad=True)
    x.grad = m.full((3,), 2.0)
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError):
        x.grad = m.ones(4)
    with pytest.raises(RuntimeError):
        x.grad = m.ones(3, dtype=m.float64)
    x.grad = None
    assert x.grad is None


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_new_methods(m):
    x = m.ones(2, dtype=m.float64)
    assert x.new_zeros(3).dtype == m.float64 and x.new_zeros(3).shape == (3,)
    assert x.new_ones((2, 2)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_tensor([1, 2]).dtype == m.float64
    assert x.new_empty(2, 3).shape == (2, 3)


def test_pickle_and_deepcopy():
    x = nnbox.tensor([[1.0, 2.0]], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and y.requires_grad
    z = copy.deepcopy(x)
    assert z.tolist() == x.tolist() and z.requires_grad and z._data is not x._data
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(x * 2)


def test_device_objects():
    for m in LIBS:
        assert repr(m.device("cpu")) == "device(type='cpu')"
        assert repr(m.device("cuda", 1)) == "device(type='cuda', index=1)"
        assert repr(m.device("cuda:0")) == "device(type='cuda', index=0)"
        assert str(m.device("cuda:1")) == "cuda:1"
        assert m.device("cpu") == m.device("cpu") and m.device("cpu") != m.device("cuda:0")
        assert m.device("cuda:0").type == "cuda" and m.device("cuda:0").index == 0
        with pytest.raises(RuntimeError):
            m.device("tpu")
        with pytest.raises(RuntimeError):
            m.device("cuda:x")


def test_cuda_unavailable_here():
    if nnbox.cuda.is_available():
        pytest.skip("a GPU is present")
    assert nnbox.cuda.device_count() == 0
    nnbox.cuda.synchronize()  # a no-op without a GPU
    x = nnbox.ones(2)
    # issue 16: torch built without CUDA raises AssertionError here (nnbox without CuPy is that case;
    # CuPy without a GPU is torch-with-CUDA-but-no-driver: RuntimeError)
    from nnbox._backend import device as dev  # what nnbox found: no CuPy at all, or CuPy without a GPU

    dev.cupy_or_none()
    err = AssertionError if dev._cupy[2] == "missing" else RuntimeError
    with pytest.raises(err, match="CuPy|GPU"):
        x.cuda()
    with pytest.raises(err, match="CuPy|GPU"):
        x.to("cuda")
    with pytest.raises(err, match="CuPy|GPU"):
        nnbox.zeros(2, device="cuda")
    with pytest.raises(err, match="CuPy|GPU"):
        nnbox.tensor([1.0], device="cuda:0")


@pytest.mark.cpu_only(reason="stands a fake CuPy in for nnbox's real one")
def test_mixed_device_message(monkeypatch):
    # Without a GPU, stand a fake CuPy in: an array type that reports device 0.  The op must refuse
    # to mix it with a CPU tensor, with torch's message (a CPU 0-d tensor is allowed, as in torch).
    import nnbox._backend.device as dev

    class FakeGpuArray:
        ndim = 1
        shape = (2,)
        dtype = np.dtype(np.float32)

        class device:  # noqa: N801 - mimics cupy.ndarray.device
            id = 0

    class FakeCupy:
        ndarray = FakeGpuArray

    monkeypatch.setattr(dev, "_cupy", [FakeCupy, True])
    gpu = nnbox.Tensor._make(FakeGpuArray())
    assert gpu.device == nnbox.device("cuda:0")
    with pytest.raises(RuntimeError) as e:
        nnbox.ones(2) + gpu
    assert str(e.value) == "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    with pytest.raises(RuntimeError, match="but found at least two devices, cuda:0 and cpu!"):
        nnbox.ones(2, 2) @ gpu


def test_iteration_and_hash():
    x = nnbox.tensor([1, 2, 3])
    assert [int(v) for v in x] == [1, 2, 3]
    assert len({x, x}) == 1
    d = {x: 1}
    assert d[x] == 1


@pytest.mark.cpu_only(reason="torch.zeros on cuda is a torch.cuda.FloatTensor, not a FloatTensor")
def test_legacy_constructors():
    for m in LIBS:
        assert m.FloatTensor([1, 2]).dtype == m.float32
        assert m.LongTensor([1, 2]).dtype == m.int64
        assert isinstance(m.zeros(2), m.FloatTensor) and not isinstance(m.zeros(2), m.LongTensor)
        assert m.Tensor([1, 2]).dtype == m.float32
        assert m.Tensor(2, 3).shape == (2, 3)
        assert m.Tensor().shape == (0,) and m.Tensor(m.Size([2, 3])).shape == (2, 3)
        assert m.Tensor((2, 3)).tolist() == [2.0, 3.0]


def test_inplace_methods_match_torch():
    def fn(m, x, y):
        z = x.clone()
        z.add_(y).sub_(y, alpha=0.5).mul_(2).div_(3).clamp_(-1, 1).neg_()
        return z

    check(fn, [arr(3, 4), arr(4)])
    for name, args in [("pow_", (2,)), ("sqrt_", ()), ("abs_", ()), ("exp_", ()), ("log_", ()), ("tanh_", ()),
                       ("sigmoid_", ()), ("relu_", ()), ("clamp_min_", (0.2,)), ("reciprocal_", ()), ("sin_", ())]:
        check(lambda m, x: getattr(x * 1.0, name)(*args) * 2, [arr(3, 4, positive=True)])

    def fn2(m, x):
        z = x.clone()
        z += 1
        z -= 0.5
        z *= 2
        z /= 4
        z **= 2
        return z

    check(fn2, [arr(3, 4)])

    def fn3(m, x):
        z = x.clone()
        z.zero_()
        z.fill_(3.0)
        return z + x

    check(fn3, [arr(3)])

    def fn4(m, x, y):
        z = x.clone()
        z.copy_(y)
        return z * x

    check(fn4, [arr(2, 3), arr(3)])


def test_inplace_dtype_errors():
    check_error(lambda m, x: x.add_(1.5), [arr(3, dtype=np.int64)], match="result type Float can't be cast to the desired output type Long")
    check_error(lambda m, x, y: x.add_(y), [arr(3), arr(2, 3)], match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]")
    check(lambda m, x: x.clone().mul_(2.0), [arr(3, dtype=np.float32)])
    check(lambda m, x: x.clone().add_(True), [arr(3, dtype=np.int64)], grad=False)


def test_random_inplace_fills():
    nnbox.manual_seed(0)
    x = nnbox.empty(1000).uniform_(-2, 3)
    assert -2 <= x.min().item() and x.max().item() < 3 and abs(x.mean().item() - 0.5) < 0.2
    y = nnbox.empty(2000, dtype=nnbox.float64).normal_(1.0, 2.0)
    assert y.dtype == nnbox.float64 and abs(y.mean().item() - 1.0) < 0.2 and abs(y.std().item() - 2.0) < 0.2
    z = nnbox.zeros(1000).bernoulli_(0.3)
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    r = nnbox.zeros(100, dtype=nnbox.int64).random_(0, 5)
    assert r.min().item() >= 0 and r.max().item() < 5
    e = nnbox.zeros(1000).exponential_(2.0)
    assert e.min().item() >= 0 and abs(e.mean().item() - 0.5) < 0.1
