"""Complex ops and FFTs differentiated twice, as torch (its complex convention: a real loss's
gradient w.r.t. z = x + iy is dL/dx + i dL/dy).

Each case builds a real scalar loss that is nonlinear in the inputs, takes its first gradients
with ``create_graph=True``, contracts them with fixed weights (the real inner product, so complex
gradients count both parts) and differentiates again: a Hessian-vector product that runs every
op's backward on Tensors and then that backward's backward.  Values are float64/complex128 and
must match torch at rtol 1e-8.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox

RNG = np.random.default_rng(11)


def _sample(shape, cplx):
    a = RNG.standard_normal(shape)
    return a + 1j * RNG.standard_normal(shape) if cplx else a


def _np(t):
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().numpy()


def _loss(m, y):
    """A real scalar, nonlinear in y (complex or real)."""
    y = m.view_as_real(y.resolve_conj()) if y.is_complex() else y
    return (y * y * y).sum() + (y.sin()).sum()


def hvp_matches(fn, *arrays):
    results = []
    for m in (torch, nnbox):
        xs = [m.tensor(a.copy(), requires_grad=True) for a in arrays]
        loss = _loss(m, fn(m, *xs))
        gs = m.autograd.grad(loss, xs, create_graph=True)
        second = 0
        for g, a in zip(gs, arrays):
            w = m.tensor(np.cos(np.arange(a.size).reshape(a.shape) * 1.7) * (1 + 0.5j if a.dtype.kind == "c" else 1))
            prod = g * w.conj() if g.is_complex() else g * w
            second = second + (prod.real if prod.is_complex() else prod).sum()
        firsts = [_np(g) for g in gs]
        seconds = m.autograd.grad(second, xs, allow_unused=True)
        results.append((float(loss.detach()), firsts, [None if s is None else _np(s) for s in seconds]))
    (lt, ft, st), (ln, fn_, sn) = results
    np.testing.assert_allclose(ln, lt, rtol=1e-10)
    for a, b in zip(fn_, ft):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    for a, b in zip(sn, st):
        if b is None:
            assert a is None or not np.any(a)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


# --- complex ops ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda m, z: m.real(z) * m.imag(z),
    lambda m, z: m.view_as_real(z * z),
    lambda m, z: m.view_as_complex(m.view_as_real(z) ** 2) * z,
    lambda m, z: m.conj(z) * z * z,
    lambda m, z: m.angle(z) * m.real(z),
    lambda m, z: z.conj().resolve_conj() * z.abs(),
], ids=["real_imag", "view_as_real", "view_as_complex", "conj", "angle", "resolve_conj"])
def test_complex_ops_twice(fn):
    hvp_matches(fn, _sample((3, 4), True))


def test_complex_and_polar_twice():
    r, t = np.abs(_sample((5,), False)) + 0.5, _sample((5,), False)
    hvp_matches(lambda m, a, b: m.complex(a * b, b * b), r, t)
    hvp_matches(lambda m, a, b: m.polar(a * a, b * a), r, t)


def test_angle_of_a_real_tensor_twice():
    hvp_matches(lambda m, x: m.angle(x) + x, _sample((6,), False))


# --- FFTs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
@pytest.mark.parametrize("n,norm", [(None, None), (5, "ortho"), (8, "forward"), (13, "backward")])
def test_one_dim_fft_twice(name, n, norm):
    for cplx in (False, True):
        if name in ("rfft", "ihfft") and cplx:
            continue
        hvp_matches(lambda m, x: getattr(m.fft, name)(x * x, n=n, norm=norm, dim=1), _sample((3, 6, 2), cplx))


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"])
@pytest.mark.parametrize("s,norm", [(None, None), ((5, 7), "ortho"), ((4, 6), "forward")])
def test_multi_dim_fft_twice(name, s, norm):
    for cplx in (False, True):
        if name.startswith("rfft") and cplx:
            continue
        hvp_matches(lambda m, x: getattr(m.fft, name)(x * x, s=s, norm=norm), _sample((2, 5, 6), cplx))


def test_fft_double_backward_gradgradcheck():
    from oracle import gradgrad_fd

    x = nnbox.tensor(_sample((6,), False), requires_grad=True)
    assert gradgrad_fd(lambda t: nnbox.fft.rfft(t * t).abs() ** 2, [x])
    assert gradgrad_fd(lambda t: nnbox.fft.irfft(nnbox.fft.fft(t * t), n=7), [x])
    assert gradgrad_fd(lambda t: nnbox.angle(nnbox.polar(t * t + 1, t)) * t, [x])
