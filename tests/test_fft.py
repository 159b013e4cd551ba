"""``nnbox.fft`` against ``torch.fft``: values, dtypes and gradients (torch's complex convention) over
even, odd and prime lengths, cropping and zero-padding ``n``/``s``, several dims and every norm."""
import itertools

import numpy as np
import pytest
import torch

import nnbox

RNG = np.random.default_rng(14)
NORMS = [None, "backward", "ortho", "forward"]


def _signal(shape, cplx, dtype=np.float64):
    x = RNG.standard_normal(shape)
    if cplx:
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(np.result_type(dtype, np.complex64) if cplx else dtype)


def _np(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def compare(name, x, tol=1e-10, **kw):
    """Run ``fft.<name>`` in both libraries; compare values, dtype and the input's gradient for a
    random real loss Re(sum(conj(g) * y))."""
    xt, xn = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    yt, yn = getattr(torch.fft, name)(xt, **kw), getattr(nnbox.fft, name)(xn, **kw)
    assert str(yt.dtype) == repr(yn.dtype) and tuple(yt.shape) == tuple(yn.shape)
    np.testing.assert_allclose(_np(yn), _np(yt), rtol=tol, atol=tol)
    g = _signal(tuple(yt.shape), yt.is_complex())
    lt = yt * torch.tensor(g).conj()
    ln = yn * nnbox.tensor(g).conj()
    (lt.real if lt.is_complex() else lt).sum().backward()
    (ln.real if ln.is_complex() else ln).sum().backward()
    assert str(xt.grad.dtype) == repr(xn.grad.dtype)
    np.testing.assert_allclose(_np(xn.grad), _np(xt.grad), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
@pytest.mark.parametrize("n,norm", [(None, None), (5, "ortho"), (8, "forward"), (13, "backward"), (13, None),
                                    (None, "forward"), (5, None), (8, "ortho")])
@pytest.mark.parametrize("shape,dim", [((7,), -1), ((3, 11), -1), ((11, 3), 0), ((2, 6, 3), 1)])
def test_one_dim(name, n, norm, shape, dim):
    for cplx in (False, True):
        if name in ("rfft", "ihfft") and cplx:
            continue
        compare(name, _signal(shape, cplx), n=n, dim=dim, norm=norm)


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"])
@pytest.mark.parametrize("s,norm", [(None, None), ((5, 7), "ortho"), ((4, 13), "forward"), ((-1, 6), None),
                                    ((4, 13), "backward"), (None, "ortho")])
def test_multi_dim(name, s, norm):
    dims = [None] if name.endswith("2") else [None, (0, -1), (2, 0)]
    for dim, cplx in itertools.product(dims, (False, True)):
        if name.startswith("rfft") and cplx:
            continue
        kw = {"s": s, "norm": norm} if dim is None else {"s": s, "norm": norm, "dim": dim}
        compare(name, _signal((3, 5, 7), cplx), **kw)


@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
def test_all_dims_by_default(name):
    compare(name, _signal((4, 3, 5), False))
    if not name.startswith("rfft"):
        compare(name, _signal((2, 7), True))


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2", "rfftn", "irfftn"])
def test_float32_gives_complex64(name):
    compare(name, _signal((6, 10), False, np.float32), tol=2e-5)
    compare(name, _signal((6, 10), False, np.float32).astype(np.complex64) if "rfft" not in name
            else _signal((6, 10), False, np.float32), tol=2e-5)


def test_integer_input_uses_the_default_dtype():
    for name in ("fft", "rfft", "ifft"):
        t = getattr(torch.fft, name)(torch.arange(6))
        n = getattr(nnbox.fft, name)(nnbox.arange(6))
        assert repr(n.dtype) == str(t.dtype)
        np.testing.assert_allclose(_np(n), _np(t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n", [4, 5, 13])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_frequencies_and_shifts(n, d):
    for f in ("fftfreq", "rfftfreq"):
        for dt in (None, "float64"):
            kw = {} if dt is None else {"dtype": getattr(torch, dt)}
            t = getattr(torch.fft, f)(n, d, **kw)
            m = getattr(nnbox.fft, f)(n, d, **({} if dt is None else {"dtype": getattr(nnbox, dt)}))
            assert repr(m.dtype) == str(t.dtype)
            np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-7)
    x = RNG.standard_normal((n, n + 1, 3))
    for f, dim in itertools.product(("fftshift", "ifftshift"), (None, 0, (1, 2), -1)):
        xt, xn = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
        yt, yn = getattr(torch.fft, f)(xt, dim=dim), getattr(nnbox.fft, f)(xn, dim=dim)
        np.testing.assert_array_equal(yn.detach().numpy(), yt.detach().numpy())
        g = RNG.standard_normal(x.shape)
        (yt * torch.tensor(g)).sum().backward()
        (yn * nnbox.tensor(g)).sum().backward()
        np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


def test_spectral_filter_end_to_end():
    """A learnable frequency-domain filter: rfft -> complex multiply -> irfft -> loss, both libraries."""
    x = RNG.standard_normal((4, 32))
    h = RNG.standard_normal(17) + 1j * RNG.standard_normal(17)
    grads = []
    for m in (torch, nnbox):
        hw = m.tensor(h, requires_grad=True)
        xs = m.tensor(x, requires_grad=True)
        y = m.fft.irfft(m.fft.rfft(xs, norm="ortho") * hw, n=32, norm="ortho")
        loss = (y ** 2).mean() + m.fft.fft(y).abs().mean()
        loss.backward()
        grads.append((loss.item(), _np(hw.grad), _np(xs.grad)))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[1][2], grads[0][2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda m: m.fft.fft(m.randn(4), n=0),
    lambda m: m.fft.fft(m.randn(4), norm="bad"),
    lambda m: m.fft.fftn(m.randn(4, 4), dim=(0, 0)),
    lambda m: m.fft.rfft(m.zeros(4, dtype=m.complex64)),
    lambda m: m.fft.fftn(m.randn(4, 4), s=(2,), dim=(0, 1)),
    lambda m: m.fft.fft(m.randn(4), dim=3),
    lambda m: m.fft.irfft(m.zeros(1, dtype=m.complex64)),
    lambda m: m.fft.fft(m.tensor(1.0)),
    lambda m: m.fft.fftn(m.randn(3), s=(2, 2)),
])
def test_errors(fn):
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)) as ne:
        fn(nnbox)
    assert str(ne.value) == str(te.value)
