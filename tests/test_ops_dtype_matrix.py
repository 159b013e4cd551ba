"""A dtype matrix against torch: every (op, dtype, dtype) and (op, dtype, Python scalar, side) gives
torch's result dtype and values, or the same exception type.  Catches promotion, wrap-around,
missing-kernel and bad-argument differences that per-op tests miss."""
import itertools
import warnings

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG as rng  # reseeded from each test's name (conftest): data do not depend on test order

dts = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, np.int8, np.float16]
def mk(dt, shape):
    if dt == np.bool_: return rng.random(shape) > 0.5
    if np.dtype(dt).kind in "iu": return rng.integers(0 if dt == np.uint8 else -4, 5, shape).astype(dt)
    return (rng.standard_normal(shape) * 2).astype(dt)
ops2 = {
 "add": lambda m,a,b: m.add(a,b), "sub": lambda m,a,b: m.sub(a,b), "mul": lambda m,a,b: a*b, "div": lambda m,a,b: a/b,
 "floordiv": lambda m,a,b: a//b, "rem": lambda m,a,b: a % b, "pow": lambda m,a,b: a**b, "max": lambda m,a,b: m.maximum(a,b),
 "eq": lambda m,a,b: a==b, "lt": lambda m,a,b: a<b, "atan2": lambda m,a,b: m.atan2(a,b), "fmod": lambda m,a,b: m.fmod(a,b),
 "where": lambda m,a,b: m.where(a>b, a, b), "logical_and": lambda m,a,b: m.logical_and(a,b), "and": lambda m,a,b: a & b,
 "clamp_t": lambda m,a,b: m.clamp(a, min=b), "cat": lambda m,a,b: m.cat([a, b]), "isclose": lambda m,a,b: m.isclose(a,b),
}
scal = [2, -1, 0.5, True, 3.0]
ops1 = {
 "sum": lambda m,a: a.sum(), "mean": lambda m,a: a.mean(), "prod": lambda m,a: a.prod(), "cumsum": lambda m,a: a.cumsum(0),
 "max": lambda m,a: a.max(), "argmax": lambda m,a: a.argmax(), "abs": lambda m,a: a.abs(), "neg": lambda m,a: -a,
 "exp": lambda m,a: a.exp(), "sqrt": lambda m,a: a.sqrt(), "sign": lambda m,a: a.sign(), "sort": lambda m,a: a.sort()[0],
 "clamp": lambda m,a: a.clamp(0, 2), "clampf": lambda m,a: a.clamp(0.5, 2.5), "floor": lambda m,a: a.floor(), "round": lambda m,a: a.round(),
 "std": lambda m,a: a.std(), "softmax": lambda m,a: a.softmax(0), "logsumexp": lambda m,a: m.logsumexp(a, 0), "var": lambda m,a: a.var(),
 "all": lambda m,a: a.all(), "any": lambda m,a: a.any(), "nonzero": lambda m,a: a.nonzero(), "unique": lambda m,a: m.unique(a),
 "topk": lambda m,a: a.topk(2)[0], "median": lambda m,a: a.median(), "flip": lambda m,a: a.flip(0), "square": lambda m,a: a.square(),
 "reciprocal": lambda m,a: a.reciprocal(), "sigmoid": lambda m,a: a.sigmoid(), "relu": lambda m,a: a.relu(), "t2": lambda m,a: a*a,
 "norm": lambda m,a: a.norm(), "count_nonzero": lambda m,a: m.count_nonzero(a), "bitwise_not": lambda m,a: ~a, "log1p": lambda m,a: a.log1p(),
 "amax": lambda m,a: a.amax(0), "aminmax": lambda m,a: m.aminmax(a), "float": lambda m,a: a.float(), "mean_dt": lambda m,a: a.mean(dtype=m.float64),
 "sum_dt": lambda m,a: a.sum(dtype=m.float32), "cumprod": lambda m,a: a.cumprod(0), "trunc": lambda m,a: a.trunc(), "frac": lambda m,a: a.frac(),
 "min_dim": lambda m,a: a.min(0), "argsort": lambda m,a: a.argsort(stable=True), "msort": lambda m,a: m.msort(a), "kth": lambda m,a: m.kthvalue(a, 2)[0],  # the index among ties is torch-internal
}
def run(m, f, *xs):
    try:
        r = f(m, *[m.tensor(x) if isinstance(x, np.ndarray) else x for x in xs])
        return ("ok", r)
    except Exception as e:
        return ("err", type(e).__name__, str(e)[:80])
def same(rt, rn):
    if rt[0] != rn[0]: return False
    if rt[0] == "err": return rt[1] == rn[1]
    a, b = rt[1], rn[1]
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(("ok", x), ("ok", y)) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        if str(a.dtype) != repr(b.dtype) or tuple(a.shape) != tuple(b.shape): return False
        an, bn = a.detach().numpy(), b.detach().numpy()
        if an.dtype.kind == "f":
            return np.allclose(an.astype(np.float64), bn.astype(np.float64), rtol=2e-3 if an.dtype==np.float16 else 1e-5, atol=1e-3 if an.dtype==np.float16 else 1e-6, equal_nan=True)
        return np.array_equal(an, bn)
    return a == b


def _check(f, *xs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warnings are not under test
        rt = run(torch, f, *xs)
    rn = run(nnbox, f, *xs)  # under the op suite's RuntimeWarning-as-error filter: nnbox stays quiet
    assert same(rt, rn), f"torch: {rt}\nnnbox: {rn}"


KNOWN = {("clamp_t", "uint8", -1), ("clamp_t", "bool", True)}  # clamp with a wrapped/bool bound


@pytest.mark.parametrize("name", sorted(ops1))
def test_unary_dtype_matrix(name):
    for dt in dts:
        _check(ops1[name], mk(dt, (5,)))


@pytest.mark.parametrize("name", sorted(ops2))
def test_binary_dtype_matrix(name):
    f = ops2[name]
    for da, db in itertools.product(dts, dts):
        _check(f, mk(da, (4,)), mk(db, (4,)))
    for da in dts:
        for s in scal:
            if (name, np.dtype(da).name, s) in KNOWN:
                continue
            a = mk(da, (4,))
            _check(lambda m, x: f(m, x, s), a)
            _check(lambda m, x: f(m, s, x), a)
