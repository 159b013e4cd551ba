"""Activation functions (``F.*``) against torch: values and gradients, kinks, in-place, errors."""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check, check_error, fd_check

# (name, kwargs) applied as F.name(x, **kwargs)
CASES = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 2.0}), ("selu", {}), ("celu", {}), ("celu", {"alpha": 0.5}),
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("sigmoid", {}),
    ("tanh", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardsigmoid", {}), ("hardswish", {}), ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("softsign", {}), ("threshold", {"threshold": 0.3, "value": -2.0}), ("logsigmoid", {}),
    ("tanhshrink", {}), ("softshrink", {}), ("softshrink", {"lambd": 1.0}), ("hardshrink", {}),
    ("hardshrink", {"lambd": 1.2}), ("softmax", {"dim": 1}), ("log_softmax", {"dim": -1}),
    ("softmin", {"dim": 0}), ("glu", {}), ("glu", {"dim": 0}),
]
# values exactly on every kink of the piecewise functions, plus large magnitudes
KINKS = np.array([-30.0, -6.0, -3.0, -1.2, -1.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.2, 2.0, 3.0, 6.0, 10.0, 30.0])


def _fn(name, kw):
    return lambda m, x: getattr(m.nn.functional, name)(x, **kw)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_float64_random(name, kw):
    check(_fn(name, kw), [arr(4, 6, low=-5, high=5)])


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_float32(name, kw):
    check(_fn(name, kw), [arr(4, 4, 2, dtype=np.float32, low=-4, high=4)], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] not in ("softmax", "log_softmax", "softmin", "glu")])
def test_kinks_and_extremes(name, kw):
    check(_fn(name, kw), [KINKS.copy()])


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4, 2)])
def test_shapes(shape):
    for name in ("gelu", "elu", "softplus", "hardswish", "mish"):
        check(_fn(name, {}), [arr(*shape)])


def test_gelu_wide_range_float64():
    x = np.concatenate([np.linspace(-12, 12, 2001), [-40.0, 40.0]])
    check(_fn("gelu", {}), [x])


def test_erf_against_math():
    import math

    from nnbox.ops._erf import erf

    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1e-300, -1e-20, 1.0, 3.0, 6.0, np.inf, -np.inf]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), ref, rtol=4e-16, atol=2.3e-16)
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert erf(np.float32(0.5) * np.ones(3, np.float32)).dtype == np.float32
    # float32 uses shorter tables: still within 2 float32 ulps of 1
    x32 = x.astype(np.float32)
    ref32 = np.array([math.erf(v) for v in x32.astype(np.float64)])
    np.testing.assert_allclose(erf(x32).astype(np.float64), ref32, rtol=1.2e-7, atol=1.2e-7)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 3, 2, 2)])
def test_prelu(shape, channels):
    check(lambda m, x, w: m.nn.functional.prelu(x, w), [arr(*shape), arr(channels, positive=True)])


def test_prelu_errors():
    check_error(lambda m, x, w: m.nn.functional.prelu(x, w), [arr(2, 4, 3), arr(3)],
                match="Found parameter numbers = 3 and channel size = 4")
    check_error(lambda m, x, w: m.nn.functional.prelu(x, w), [arr(4), arr(4)])


INPLACE = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardsigmoid",
           "hardswish"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_on_intermediate(name):
    def f(m, x):
        y = x * 1.5
        z = getattr(m.nn.functional, name)(y, inplace=True)
        assert z is y
        return z
    check(f, [arr(3, 5)])


def test_inplace_underscore_variants():
    for name in ("relu_", "elu_", "leaky_relu_", "hardtanh_", "selu_", "celu_"):
        check(lambda m, x: getattr(m.nn.functional, name)(x * 2), [arr(3, 4)])
    check(lambda m, x: m.nn.functional.threshold_(x * 2, 0.5, 7.0), [arr(3, 4)])


def test_inplace_on_leaf_raises():
    check_error(lambda m, x: m.nn.functional.relu(x.requires_grad_(), inplace=True), [arr(3)])


def test_inplace_saved_input_detected():
    # sigmoid saves its output; relu_ on that output must invalidate sigmoid's backward
    for m in (torch, nnbox):
        x = m.tensor([1.0, -2.0], requires_grad=True)
        y = x.sigmoid()
        m.nn.functional.relu(y, inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_integer_inputs():
    check(lambda m, x: m.nn.functional.relu(x), [np.array([-2, 0, 3])], grad=False)
    check(lambda m, x: m.nn.functional.threshold(x, 1, 5), [np.array([1, 2, 3])], grad=False)
    for name in ("gelu", "elu", "silu", "softplus", "leaky_relu", "hardswish"):
        check_error(lambda m, x: getattr(m.nn.functional, name)(x), [np.array([1, 2])], match="not implemented for 'Long'")


def test_bad_arguments():
    check_error(lambda m, x: m.nn.functional.gelu(x, approximate="foo"), [arr(3)])
    check_error(lambda m, x: m.nn.functional.hardtanh(x, 2.0, 1.0), [arr(3)], match="min_val cannot be greater")
    check_error(lambda m, x: m.nn.functional.softshrink(x, -1.0), [arr(3, dtype=np.float32)],
                match=r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float, but found -1")
    check_error(lambda m, x: m.nn.functional.celu(x, 0.0), [arr(3)], match="alpha cannot be 0")
    check_error(lambda m, x: m.nn.functional.glu(x), [arr(3, 5)], match="Halving dimension must be even")


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] not in ("softmax", "log_softmax", "softmin")])
def test_finite_differences(name, kw):
    # away from the kinks, where a finite difference is meaningful
    x = arr(4, 4, low=-3, high=3)
    x[np.abs(np.abs(x) - np.round(np.abs(x) * 2) / 2) < 0.05] += 0.1
    f = getattr(NF, name)
    fd_check(lambda t: f(t, **kw), [x])
    fd_check(lambda t, w: NF.prelu(t, w), [arr(2, 3, 2), arr(3)])


def test_rrelu_eval_matches_torch_and_training_draws_slopes():
    check(lambda m, x: m.nn.functional.rrelu(x, 0.1, 0.3), [arr(4, 5)])
    check(lambda m, x: m.nn.RReLU(0.2, 0.4).eval()(x), [arr(4, 5)])
    assert repr(nnbox.nn.RReLU(0.1, 0.2, True)) == repr(torch.nn.RReLU(0.1, 0.2, True))
    x = nnbox.tensor(arr(200, 50), requires_grad=True)
    y = nnbox.nn.functional.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    xn, yn, g = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    neg = xn < 0
    slopes = yn[neg] / xn[neg]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.04
    np.testing.assert_allclose(g[neg], slopes)
    np.testing.assert_array_equal(yn[~neg], xn[~neg])
    np.testing.assert_array_equal(g[~neg], 1.0)


def test_gumbel_softmax():
    F = nnbox.nn.functional
    x = nnbox.tensor(arr(64, 5), requires_grad=True)
    y = F.gumbel_softmax(x, tau=0.5)
    np.testing.assert_allclose(y.detach().numpy().sum(1), 1.0, rtol=1e-12)
    h = F.gumbel_softmax(x, hard=True, dim=1)
    hn = h.detach().numpy()
    assert set(np.unique(hn)) <= {0.0, 1.0} and (hn.sum(1) == 1).all()
    (h * nnbox.tensor(arr(64, 5))).sum().backward()  # straight-through: the soft sample's gradient
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0
    # the hard sample's frequencies follow softmax(logits)
    logits = nnbox.tensor(np.log(np.array([[0.7, 0.2, 0.1]])).repeat(20000, 0))
    freq = F.gumbel_softmax(logits, hard=True).numpy().mean(0)
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.02)
    from nnbox.nn.modules.activation import MultiheadAttention  # where torch defines it
    assert MultiheadAttention is nnbox.nn.MultiheadAttention


# --- second order (create_graph=True) --------------------------------------------------------------

TWICE = [c for c in CASES if c[0] != "hardsigmoid"]  # torch has no double backward for hardsigmoid


@pytest.mark.parametrize("name,kw", TWICE, ids=[f"{n}-{k}" for n, k in TWICE])
def test_second_order(name, kw):
    check(_fn(name, kw), [arr(4, 6, low=-5, high=5)], order=2, rtol=1e-8)


def test_hardsigmoid_has_no_double_backward_as_in_torch():
    for m in (torch, nnbox):
        x = m.tensor(arr(5), requires_grad=True)
        (g,) = m.autograd.grad(m.nn.functional.hardsigmoid(x).sum(), x, create_graph=True)
        with pytest.raises(RuntimeError, match="derivative for aten::hardsigmoid_backward is not implemented"):
            g.sum().backward()


@pytest.mark.parametrize("name,kw", [c for c in TWICE if c[0] not in ("softmax", "log_softmax", "softmin", "glu")])
def test_second_order_at_kinks(name, kw):
    check(_fn(name, kw), [KINKS.copy()], order=2, rtol=1e-8)


def test_prelu_second_order():
    check(lambda m, x, w: m.nn.functional.prelu(x, w) * x, [arr(2, 3, 4), arr(3)], order=2, rtol=1e-8)
    check(lambda m, x, w: m.nn.functional.prelu(x * x, w) * w, [arr(2, 3), arr(1)], order=2, rtol=1e-8)


@pytest.mark.parametrize("name,kw", [("gelu", {}), ("gelu", {"approximate": "tanh"}), ("elu", {}), ("selu", {}),
                                     ("softplus", {"beta": 2.0}), ("silu", {}), ("mish", {}), ("logsigmoid", {}),
                                     ("softsign", {}), ("tanhshrink", {}), ("hardswish", {}), ("glu", {})])
def test_double_backward_gradcheck(name, kw):
    f = getattr(nnbox.nn.functional, name)
    x = nnbox.tensor(arr(3, 4, low=-2.5, high=2.5), requires_grad=True)
    g = nnbox.tensor(arr(*f(x, **kw).shape), requires_grad=True)

    def first(x, g):
        with nnbox.enable_grad():
            return nnbox.autograd.grad(f(x, **kw), x, g, create_graph=True)[0]

    assert nnbox.autograd.gradcheck(first, (x, g))


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "mish", "softplus"])
def test_third_derivative(name):
    res = []
    for m in (torch, nnbox):
        x = m.tensor(np.array([-1.7, -0.3, 0.4, 2.2]), requires_grad=True)
        (g1,) = m.autograd.grad(getattr(m.nn.functional, name)(x).sum(), x, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), x)
        res.append(g3.numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-8, atol=1e-12)


def test_inplace_activation_second_order():
    def f(m, x):
        y = x * 1.5
        m.nn.functional.elu(y, inplace=True)
        r = x * 2 - 0.3
        m.nn.functional.relu(r, inplace=True)
        z = x * 1.0
        m.nn.functional.leaky_relu(z, 0.1, inplace=True)
        w = x * 1.0
        m.nn.functional.silu(w, inplace=True)
        return y * x + r * x + z * z + w * x

    check(f, [arr(3, 4)], order=2, rtol=1e-8)


def test_second_derivative_formulas_follow_the_rules():
    """``_d1``/``_d2`` run on arrays and on Tensors, like any ``_twice`` backward formula."""
    import ast
    import inspect
    import textwrap

    from nnbox.ops import activation
    from test_formula_rules import _module_defs, _violations

    defs = _module_defs(activation)
    checked = 0
    for cls in vars(activation).values():
        if inspect.isclass(cls) and issubclass(cls, activation._Pointwise):
            for name in ("_d1", "_d2"):
                f = cls.__dict__.get(name)
                if f is not None:
                    fn = ast.parse(textwrap.dedent(inspect.getsource(f.__func__))).body[0]
                    assert not _violations(fn, defs, set()), f"{cls.__name__}.{name}"
                    checked += 1
    assert checked >= 18


def test_celu_input_gradient_uses_torchs_formula():
    # torch differentiates celu with input scale 1 / float32(alpha): 2e-8 relative from 1 / alpha
    import torch

    x = -np.linspace(0.01, 3, 50)
    for alpha in (0.3, 1.7, 1.0):
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.celu(t, alpha).sum().backward()
        n = nnbox.tensor(x, requires_grad=True)
        nnbox.nn.functional.celu(n, alpha).sum().backward()
        np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-15, atol=0)
