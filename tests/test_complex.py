"""Complex tensors against torch: real/imag/view_as_real/view_as_complex/conj/angle/complex/polar/abs,
arithmetic gradients in torch's convention (z.grad = dL/dx + i dL/dy), mixed real/complex graphs,
printing and errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import torch_repr

RNG = np.random.default_rng(7)


def _c(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _np(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def run_both(fn, *arrays):
    """``fn(m, *tensors)`` -> real scalar loss in both libraries; compare it and every gradient."""
    out = []
    for m in (torch, nnbox):
        ts = [m.tensor(a, requires_grad=True) for a in arrays]
        loss = fn(m, *ts)
        loss.backward()
        out.append((loss.item(), [_np(t.grad) for t in ts], [str(t.grad.dtype).replace("torch.", "") for t in ts]))
    (lt, gt, dt), (ln, gn, dn) = out
    np.testing.assert_allclose(ln, lt, rtol=1e-12)
    assert dn == dt
    for a, b in zip(gn, gt):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda m, z: z.abs().sum(),
    lambda m, z: (z.real * 2 + z.imag ** 2).sum(),
    lambda m, z: (m.real(z) - m.imag(z)).sum(),
    lambda m, z: (m.view_as_real(z) ** 3).sum(),
    lambda m, z: m.view_as_complex(m.view_as_real(z) * 2).abs().sum(),
    lambda m, z: z.angle().sum(),
    lambda m, z: (z.conj() * z).real.sum(),
    lambda m, z: (z * z).imag.sum(),
    lambda m, z: (z / (z + 3)).abs().sum(),
    lambda m, z: (1 / z).real.sum(),
    lambda m, z: (z * 2.5 - 1j).abs().mean(),
    lambda m, z: (z.sum(0) * z[1]).real.sum(),
    lambda m, z: (z @ z.T).abs().sum(),
    lambda m, z: (z ** 2 + z ** 0.5 + 2 ** z).real.sum(),
    lambda m, z: (z.pow(3) * 1j).imag.sum(),
    lambda m, z: (z[0] @ z[1] + (z.T @ z[:, :2]).sum()).imag,
])
def test_unary_complex_gradients(fn):
    run_both(fn, _c(3, 4))


@pytest.mark.parametrize("fn", [
    lambda m, z, r: (z * r).abs().sum(),                 # real input of a complex op: real gradient
    lambda m, z, r: (z / r + r / z).real.sum(),
    lambda m, z, r: (z + r).angle().sum(),
    lambda m, z, r: m.complex(r, r * 2).mul(z).imag.sum(),
    lambda m, z, r: m.polar(r.abs() + 1, r).mul(z).real.sum(),
    lambda m, z, r: m.view_as_complex(m.stack([r, r.exp()], -1)).mul(z).abs().sum(),
])
def test_mixed_real_complex_gradients(fn):
    run_both(fn, _c(2, 5), RNG.standard_normal((2, 5)))


def test_angle_of_reals_and_dtypes():
    x = np.array([-2.0, 0.0, 3.0, -0.0])
    np.testing.assert_array_equal(nnbox.tensor(x).angle().numpy(), torch.tensor(x).angle().numpy())
    assert repr(nnbox.tensor([1 + 1j]).abs().dtype) == "torch.float32"
    assert repr(nnbox.tensor(_c(2)).real.dtype) == "torch.float64"
    assert nnbox.tensor([1.0]).real.dtype == nnbox.float32 and nnbox.is_complex(nnbox.tensor([1j]))


@pytest.mark.parametrize("name", ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                                  "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                                  "sigmoid", "square", "neg", "abs", "angle"])
def test_elementwise_functions_of_complex(name):
    """Holomorphic f backpropagate grad * conj(f'(z)) (torch's convention); abs/angle are real-valued."""
    g = _c(3, 4)
    run_both(lambda m, z: (getattr(m, name)(z) * m.tensor(g)).real.sum(), _c(3, 4) * 0.8)
    run_both(lambda m, z: getattr(z, name)().abs().sum() if name != "angle" else z.angle().sum(), _c(2, 2))


def test_randn_complex():
    for dt in ("complex64", "complex128"):
        x = nnbox.randn(40000, dtype=getattr(nnbox, dt))
        assert repr(x.dtype) == repr(torch.randn(1, dtype=getattr(torch, dt)).dtype)
        assert abs(x.real.var().item() - 0.5) < 0.02 and abs(x.imag.var().item() - 0.5) < 0.02  # torch: E|z|^2 = 1
    assert nnbox.randn(2, 3, dtype=nnbox.cdouble, requires_grad=True).requires_grad


def test_views_share_storage():
    z = nnbox.tensor([1 + 2j, 3 - 1j])
    v = nnbox.view_as_real(z)
    v[0, 1] = 5.0
    assert z.tolist() == [1 + 5j, 3 - 1j]
    r = nnbox.zeros(2, 2)
    c = nnbox.view_as_complex(r)
    r[1, 0] = 7.0
    assert c.tolist() == [0j, 7 + 0j]
    z.real.mul_(10)
    assert z.tolist() == [10 + 5j, 30 - 1j]


@pytest.mark.parametrize("values,dtype", [
    ([1 + 2j, 3 - 1j], None), ([0.5 + 1.25j, -3 - 10j, 0j], None), ([[1e-5 + 2j, 3 - 1j]], "complex128"),
    (1 + 2j, None), ([float("nan") + 1j, 1 + float("inf") * 1j], None), ([[1.5 - 2j] * 9] * 2, None),
])
def test_repr(values, dtype):
    t = torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)
    n = nnbox.tensor(values, dtype=getattr(nnbox, dtype) if dtype else None)
    assert repr(n) == torch_repr(t)
    with np.errstate(invalid="ignore"):  # inf * 0 inside NumPy's complex product (torch gives the same nan)
        assert repr(n * 2) == torch_repr(t * 2)


@pytest.mark.parametrize("fn", [
    lambda m: m.view_as_complex(m.zeros(3, 3)),
    lambda m: m.view_as_real(m.zeros(3)),
    lambda m: m.view_as_complex(m.zeros(3, 2, dtype=m.float64).t().contiguous().t()),
    lambda m: m.view_as_complex(m.zeros(3, 2, dtype=m.int32)),
    lambda m: m.zeros(3).imag,
    lambda m: m.complex(m.zeros(2), m.zeros(2, dtype=m.float64)),
    lambda m: m.complex(m.zeros(2, dtype=m.int32), m.zeros(2, dtype=m.int32)),
])
def test_errors(fn):
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)) as ne:
        fn(nnbox)
    assert str(ne.value) == str(te.value)
