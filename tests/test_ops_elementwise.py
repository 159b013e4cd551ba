"""Elementwise ops against torch: arithmetic (broadcasting, scalars, promotion), comparisons,
logical/bitwise ops and unary math; values, dtypes and gradients."""
import math

import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error

SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((2, 2), ()), ((0, 3), (3,)),
          ((1,), (2, 3, 1)), ((), ())]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2", "remainder", "fmod"]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("op", BINARY)
def test_binary_float64_broadcast(op, sa, sb):
    pos = op in ("div", "pow", "remainder", "fmod")
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(*sa, positive=pos), arr(*sb, positive=pos)])


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
@pytest.mark.parametrize("dt", [np.float32, np.int64, np.int32, np.uint8, np.bool_])
def test_binary_dtypes(op, dt):
    a, b = arr(2, 3, dtype=dt, positive=True), arr(3, dtype=dt, positive=True)
    if op == "sub" and dt == np.bool_:
        check_error(lambda m, x, y: m.sub(x, y), [a, b], match="Subtraction")
        return
    if op == "div" and dt != np.float32:
        b = b + 1 if dt != np.bool_ else np.ones(3, bool)
    check(lambda m, x, y: getattr(m, op)(x, y), [a, b])


@pytest.mark.parametrize("da", [np.float32, np.float64, np.int64, np.int32, np.uint8, np.int8, np.bool_, np.float16])
@pytest.mark.parametrize("db", [np.float32, np.float64, np.int64, np.int32, np.uint8, np.int8, np.bool_, np.float16])
@pytest.mark.parametrize("zero_dim", ["none", "a", "b"])
def test_promotion_tensor_tensor(da, db, zero_dim):
    sa = () if zero_dim == "a" else (2, 3)
    sb = () if zero_dim == "b" else (3,)
    check(lambda m, x, y: x + y, [arr(*sa, dtype=da, positive=True), arr(*sb, dtype=db, positive=True)], grad=False)
    check(lambda m, x, y: x * y, [arr(*sa, dtype=da, positive=True), arr(*sb, dtype=db, positive=True)], grad=False)


SCALARS = [2, -3, 2.5, True, False, 0.0]


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, np.float16])
@pytest.mark.parametrize("s", SCALARS)
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "r+", "r-", "r*", "r/"])
def test_scalar_both_sides(dt, s, op):
    a = arr(2, 3, dtype=dt, positive=True)
    if "-" in op and (dt == np.bool_ or isinstance(s, bool)):
        check_error(lambda m, x: x - s if op == "-" else s - x, [a])
        return
    if dt == np.uint8 and op in ("-", "r-") and isinstance(s, int) and not isinstance(s, bool):
        a = a.astype(np.int64).clip(0, 5).astype(np.uint8) + 5  # stay away from wrap-around
    ops = {
        "+": lambda m, x: x + s, "-": lambda m, x: x - s, "*": lambda m, x: x * s, "/": lambda m, x: x / s,
        "r+": lambda m, x: s + x, "r-": lambda m, x: s - x, "r*": lambda m, x: s * x, "r/": lambda m, x: s / x,
    }
    if op == "/" and s in (0, 0.0, False):
        s_ok = 1.5
        ops["/"] = lambda m, x: x / s_ok
    # float16: torch rounds once from float32 internally, NumPy after each step: allow ~2 half ulps
    tol = dict(rtol=5e-3, atol=5e-3) if dt == np.float16 else {}
    check(ops[op], [a], **tol)


def test_zero_dim_promotion_examples():
    # float32 tensor + 0-d float64 tensor -> float32; int tensor + 0-d float tensor -> float (default)
    check(lambda m, x, y: x + y, [arr(3, dtype=np.float32), arr(dtype=np.float64)])
    check(lambda m, x, y: x + y, [arr(3, dtype=np.int64), arr(dtype=np.float64)], grad=False)
    check(lambda m, x, y: x / y, [arr(3, dtype=np.int64, positive=True), arr(3, dtype=np.int64, positive=True) + 1])
    check(lambda m, x: x / 2, [arr(3, dtype=np.int32)])
    check(lambda m, x: x + 1.5, [arr(3, dtype=np.int64)])
    check(lambda m, x: x * 2, [arr(3, dtype=np.bool_)])
    check(lambda m, x: x + True, [arr(3, dtype=np.bool_)])


def test_python_scalar_float32_stays():
    check(lambda m, x: x * 1e-3 + 7, [arr(4, dtype=np.float32)])
    check(lambda m, x: 2 ** x, [arr(4, dtype=np.float32)])
    check(lambda m, x: x ** 2, [arr(4, dtype=np.float32)])
    check(lambda m, x: x ** 0.5, [arr(4, dtype=np.float32, positive=True)])
    check(lambda m, x: x ** -1, [arr(4, dtype=np.float64, positive=True)])


@pytest.mark.parametrize("dt", [np.int64, np.float64, np.float32])
def test_pow_variants(dt):
    check(lambda m, x: x ** 2, [arr(2, 3, dtype=dt)])
    check(lambda m, x: x ** 3, [arr(2, 3, dtype=dt)])
    check(lambda m, x: x ** 0, [arr(2, 3, dtype=dt)])
    check(lambda m, x: 2 ** x, [arr(2, 3, dtype=dt)])
    check(lambda m, x: 2.5 ** x, [arr(2, 3, dtype=dt)])
    check(lambda m, x: m.pow(x, 2.0), [arr(2, 3, dtype=dt)])


def test_pow_zero_base_grad():
    a = np.array([0.0, 1.0, 2.0, 0.0])
    check(lambda m, x: x ** 2, [a])
    check(lambda m, x: x ** 0.0, [a])
    check(lambda m, x, y: x ** y, [a, np.array([0.0, 2.0, 0.5, 1.0])])
    check(lambda m, x: m.pow(2.0, x), [a])


def test_pow_int_negative_error():
    check_error(lambda m, x: x ** -1, [arr(3, dtype=np.int64)], match="negative integer powers")


def test_div_rounding_modes():
    for mode in ("trunc", "floor"):
        check(lambda m, x, y: m.div(x, y, rounding_mode=mode), [arr(3, 4), arr(4, positive=True)], grad=False)
        check(lambda m, x, y: m.div(x, y, rounding_mode=mode),
              [np.array([-7, 7, -8, 9]), np.array([2, -2, 3, 3])], grad=False)
        check(lambda m, x: m.div(x, 2, rounding_mode=mode), [np.array([-7, 7, -8, 9])], grad=False)
    check(lambda m, x, y: x // y, [np.array([-7, 7, -8, 9]), np.array([2, -2, 3, 3])], grad=False)
    check(lambda m, x, y: x % y, [np.array([-7, 7, -8, 9]), np.array([2, -2, 3, 3])], grad=False)
    check(lambda m, x: m.fmod(x, 3), [np.array([-7, 7, -8, 9])], grad=False)
    check(lambda m, x: x // 0.7, [arr(5)], grad=False)
    check_error(lambda m, x: m.div(x, 2, rounding_mode="bad"), [arr(3)])


def test_max_min_ties_split_grad():
    a = np.array([1.0, 2.0, 3.0, 2.0])
    b = np.array([1.0, 3.0, 2.0, 2.0])
    check(lambda m, x, y: m.maximum(x, y), [a, b])
    check(lambda m, x, y: m.minimum(x, y), [a, b])


def test_nan_propagation():
    a = np.array([1.0, np.nan, 3.0])
    b = np.array([np.nan, 2.0, 1.0])
    check(lambda m, x, y: m.maximum(x, y), [a, b], grad=False)
    check(lambda m, x, y: m.minimum(x, y), [a, b], grad=False)
    check(lambda m, x, y: x + y, [a, b], grad=False)


# --- comparisons, logical, bitwise -------------------------------------------------------------------

CMP = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("op", CMP)
@pytest.mark.parametrize("da,db", [(np.float32, np.float32), (np.int64, np.float64), (np.bool_, np.int64),
                                   (np.float64, np.float32)])
def test_comparisons(op, da, db):
    a = arr(2, 3, dtype=da)
    b = a[0].copy().astype(db)  # plenty of equal elements
    check(lambda m, x, y: getattr(m, op)(x, y), [a, b], grad=False)
    check(lambda m, x: getattr(m, op)(x, 1), [a], grad=False)
    check(lambda m, x: getattr(m, op)(x, 0.5), [a], grad=False)


def test_comparison_operators():
    a, b = arr(3, 4), arr(4)
    for f in (lambda m, x, y: x == y, lambda m, x, y: x != y, lambda m, x, y: x < y, lambda m, x, y: x <= y,
              lambda m, x, y: x > y, lambda m, x, y: x >= y, lambda m, x, y: x > 0, lambda m, x, y: 0 < x,
              lambda m, x, y: 0.5 == x):
        check(f, [a, b], grad=False)


@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor"])
def test_logical(op):
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(2, 3, dtype=np.bool_), arr(3, dtype=np.bool_)], grad=False)
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(2, 3), arr(3, dtype=np.int64)], grad=False)
    check(lambda m, x: m.logical_not(x), [arr(2, 3, dtype=np.int64)], grad=False)


@pytest.mark.parametrize("dt", [np.bool_, np.int64, np.uint8])
def test_bitwise(dt):
    a, b = arr(2, 3, dtype=dt, positive=True), arr(3, dtype=dt, positive=True)
    for f in (lambda m, x, y: x & y, lambda m, x, y: x | y, lambda m, x, y: x ^ y, lambda m, x, y: ~x):
        check(f, [a, b], grad=False)
    check_error(lambda m, x: x & x, [arr(3)])


def test_isnan_isinf_isfinite_isclose():
    a = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
    for op in ("isnan", "isinf", "isfinite"):
        check(lambda m, x: getattr(m, op)(x), [a], grad=False)
    check(lambda m, x, y: m.isclose(x, y), [a, a + 1e-9], grad=False)
    assert nnbox.allclose(nnbox.tensor([1.0]), nnbox.tensor([1.0 + 1e-9]))
    assert nnbox.equal(nnbox.tensor([1, 2]), nnbox.tensor([1, 2]))
    assert not nnbox.equal(nnbox.tensor([1, 2]), nnbox.tensor([1, 3]))


# --- unary math --------------------------------------------------------------------------------------

UNARY_ANY = ["exp", "sin", "cos", "tanh", "sigmoid", "atan", "sinh", "cosh", "neg", "abs", "sign",
             "expm1", "square", "relu", "floor", "ceil", "round", "trunc", "frac", "exp2"]
UNARY_POS = ["log", "log1p", "sqrt", "rsqrt", "log2", "log10", "reciprocal"]
UNARY_UNIT = ["asin", "acos", "tan"]


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (0, 2)])
@pytest.mark.parametrize("op", UNARY_ANY + UNARY_POS + UNARY_UNIT)
def test_unary_float64(op, shape):
    if op in UNARY_POS:
        a = arr(*shape, positive=True)
    elif op in UNARY_UNIT:
        a = arr(*shape, low=-0.9, high=0.9)
    else:
        a = arr(*shape, low=-3, high=3)
    check(lambda m, x: getattr(m, op)(x), [a])
    check(lambda m, x: getattr(x, op)(), [a])


@pytest.mark.parametrize("op", UNARY_ANY + UNARY_POS)
@pytest.mark.parametrize("dt", [np.float32, np.int64, np.int32, np.bool_])
def test_unary_dtypes(op, dt):
    a = arr(2, 3, dtype=dt, positive=op in UNARY_POS)
    try:
        getattr(torch, op)(torch.tensor(a))
    except Exception:  # torch has no kernel for this dtype: nnbox must raise the same error
        _, e = check_error(lambda m, x: getattr(m, op)(x), [a])
        assert "not" in str(e)
        return
    check(lambda m, x: getattr(m, op)(x), [a])


def test_unary_special_values():
    a = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 50.0, -50.0, 100.0, -800.0])
    for op in ("exp", "tanh", "sigmoid", "abs", "sign", "relu", "floor", "expm1", "atan"):
        check(lambda m, x: getattr(m, op)(x), [a], grad=False)
    b = np.array([0.0, 1.0, 4.0, np.inf, -1.0])
    with np.errstate(all="ignore"):
        for op in ("log", "sqrt", "rsqrt", "log1p", "reciprocal", "log2"):
            check(lambda m, x: getattr(m, op)(x), [b], grad=False)


def test_relu_sigmoid_grad_at_zero():
    a = np.array([-1.0, 0.0, 1.0])
    check(lambda m, x: m.relu(x), [a])
    check(lambda m, x: m.abs(x), [a])
    check(lambda m, x: m.sqrt(x), [np.array([0.0, 1.0])])


def test_round_half_even_and_decimals():
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2345, 2.675])
    check(lambda m, x: m.round(x), [a])
    check(lambda m, x: m.round(x, decimals=2), [a])
    check(lambda m, x: m.round(x), [np.array([1, 2, 3])])


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.0), (0.0, None), (0.5, -0.5), (-1, 1)])
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64])
def test_clamp(lo, hi, dt):
    a = arr(3, 4, dtype=dt)
    check(lambda m, x: m.clamp(x, lo, hi), [a])
    check(lambda m, x: x.clamp(min=lo, max=hi), [a])
    check(lambda m, x: m.clip(x, lo, hi), [a])


def test_clamp_bounds_inclusive_grad():
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    check(lambda m, x: m.clamp(x, -0.5, 0.5), [a])
    check(lambda m, x: m.clamp_min(x, 0.0), [a])
    check(lambda m, x: m.clamp_max(x, 0.0), [a])


def test_clamp_tensor_bounds():
    check(lambda m, x, lo, hi: m.clamp(x, lo, hi), [arr(3, 4), arr(4, low=-2, high=-0.5), arr(3, 1, low=0.5, high=2)])
    check(lambda m, x, lo: m.clamp(x, min=lo), [arr(3, 4), arr(4)])


def test_clamp_errors():
    check_error(lambda m, x: m.clamp(x), [arr(3)])
    check_error(lambda m, x, lo: m.clamp(x, min=lo, max=1.0), [arr(3), arr(3)])


def test_lerp():
    check(lambda m, x, y: m.lerp(x, y, 0.3), [arr(3, 4), arr(4)])
    check(lambda m, x, y, w: m.lerp(x, y, w), [arr(3, 4), arr(4), arr(3, 4)])


def test_chain_float32():
    check(lambda m, x, y: ((x * y).exp() - m.sigmoid(y) / (x.abs() + 1)).tanh().sum(), [arr(5, 3, dtype=np.float32),
                                                                                       arr(3, dtype=np.float32)])


def test_numpy_scalar_operands():
    check(lambda m, x: x * np.float32(2.0), [arr(3, dtype=np.float32)])
    check(lambda m, x: x + np.int64(2), [arr(3, dtype=np.int32)])
    check(lambda m, x: x * np.float64(2.0), [arr(3, dtype=np.float32)])


def test_out_argument():
    out_t, out_n = torch.empty(3), nnbox.empty(3)
    a = arr(3, dtype=np.float32)
    torch.add(torch.tensor(a), 1, out=out_t)
    nnbox.add(nnbox.tensor(a), 1, out=out_n)
    np.testing.assert_allclose(out_n.numpy(), out_t.numpy())


def test_inf_nan_math():
    assert math.isnan(nnbox.tensor(float("nan")).item())


# --- second order (create_graph=True) --------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3), ()])  # 0-d: NumPy returns scalars, the saved output must stay the output
@pytest.mark.parametrize("op", UNARY_ANY + UNARY_POS + UNARY_UNIT)
def test_unary_second_order(op, shape):
    if op in UNARY_POS:
        a = arr(*shape, positive=True)
    elif op in UNARY_UNIT:
        a = arr(*shape, low=-0.9, high=0.9)
    else:
        a = arr(*shape, low=-3, high=3)
    check(lambda m, x: getattr(m, op)(x), [a], order=2, rtol=1e-8)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2))])
@pytest.mark.parametrize("op", BINARY)
def test_binary_second_order(op, sa, sb):
    pos = op in ("div", "pow", "remainder", "fmod")
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(*sa, positive=pos), arr(*sb, positive=pos)], order=2, rtol=1e-8)


@pytest.mark.parametrize("f", [
    lambda m, x: x ** 3, lambda m, x: x ** 0.5, lambda m, x: 2.5 ** x, lambda m, x: x ** 1, lambda m, x: x * 3 - 1 / x,
    lambda m, x: m.clamp(x, -0.5, 0.5), lambda m, x: m.round(x, decimals=1), lambda m, x: m.lerp(x, x * x, 0.3),
    lambda m, x: m.float_power(x, 2), lambda m, x: (x * 2).sigmoid().tanh().exp(), lambda m, x: x.relu() ** 2,
])
def test_expressions_second_order(f):
    check(f, [arr(3, 4, positive=True)], order=2, rtol=1e-8)


def test_rounded_div_is_a_zero_gradient_node_as_in_torch():
    for mode in ("floor", "trunc"):
        check(lambda m, x, y: m.div(x * x, y, rounding_mode=mode) + x * y, [arr(3, 4), arr(4, positive=True)])
        check(lambda m, x, y: m.div(x * x, y, rounding_mode=mode) * x + x * y, [arr(3, 4), arr(4, positive=True)],
              order=2, rtol=1e-8)
    t, n = (m.div(m.tensor([3.0, -4.0], requires_grad=True), 2, rounding_mode="floor") for m in (torch, nnbox))
    assert n.grad_fn.name() == t.grad_fn.name() == "DivBackward2"
    assert (nnbox.tensor([3.0], requires_grad=True) // 2).grad_fn is None  # floor_divide: no derivative


def test_inplace_unary_second_order():
    def f(m, x):
        y = x * 1.5
        y.tanh_()  # saves its result, which is y now
        z = x * 0.5
        z.sin_()  # saves its input: the in-place op keeps a private copy of it
        return y * x + z * y

    check(f, [arr(3, 4)], order=2, rtol=1e-8)


def test_max_min_ties_second_order():
    a, b = np.array([1.0, 2.0, 3.0, 2.0]), np.array([1.0, 3.0, 2.0, 2.0])
    check(lambda m, x, y: m.maximum(x, y) * x, [a, b], order=2, rtol=1e-8)
    check(lambda m, x, y: m.minimum(x, y) * y, [a, b], order=2, rtol=1e-8)


def _double_backward(f):
    """The gradient of ``f`` w.r.t. its input as a function of the input and the upstream gradient:
    gradcheck on it checks the double backward against finite differences (what gradgradcheck does)."""
    def first(x, g):
        with nnbox.enable_grad():  # gradcheck evaluates the function under no_grad for finite differences
            return nnbox.autograd.grad(f(x), x, g, create_graph=True)[0]

    return first


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "asin", "atan", "reciprocal",
                                "log1p", "expm1", "tan", "cosh"])
def test_unary_double_backward_gradcheck(op):
    x = nnbox.tensor(arr(5, low=0.2, high=0.8), requires_grad=True)
    g = nnbox.tensor(arr(5), requires_grad=True)
    assert nnbox.autograd.gradcheck(_double_backward(getattr(nnbox, op)), (x, g))


def test_third_derivative_of_tanh_and_x3_sin():
    for f in (lambda m, x: m.tanh(x), lambda m, x: x ** 3 * m.sin(x)):
        res = []
        for m in (torch, nnbox):
            x = m.tensor(np.array([-1.3, -0.2, 0.4, 1.7]), requires_grad=True)
            y = f(m, x).sum()
            (g1,) = m.autograd.grad(y, x, create_graph=True)
            (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
            (g3,) = m.autograd.grad(g2.sum(), x)
            res.append(g3.detach().numpy())
        np.testing.assert_allclose(res[1], res[0], rtol=1e-10)


def test_unary_table_formulas_follow_the_rules():
    """Every row's gradient formula is checked like a ``_twice`` backward (it is one)."""
    import ast
    import inspect

    from nnbox.ops import elementwise
    from test_formula_rules import _module_defs, _violations

    tree = ast.parse(inspect.getsource(elementwise))
    defs = _module_defs(elementwise)
    rows = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "_op"]
    assert len(rows) >= 29
    for row in rows:
        vjp = row.args[2]
        assert isinstance(vjp, ast.Lambda), ast.unparse(row)
        fn = ast.FunctionDef(name=row.args[0].value, args=vjp.args, body=[ast.Return(vjp.body)], decorator_list=[],
                             lineno=vjp.lineno)
        assert not _violations(fn, defs, set()), ast.unparse(vjp)


def test_unary_row_saves_only_what_its_formula_reads():
    # exp keeps its output, so changing its input in place afterwards is fine (as in torch) ...
    x = nnbox.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y.exp()
    y.add_(1)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))
    # ... sin keeps its input, so the same change raises torch's error
    y = x * 1
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
