"""Activation functions: one fused ``Function`` per activation, forward and backward side by side.

Each backward is the closed-form derivative, with torch's choice at the kinks (e.g. hardtanh passes
no gradient exactly at its bounds, leaky_relu uses the negative slope at 0).  ``inplace=True``
writes the result into the input with torch's autograd rules (``ops.inplace.apply_inplace``).
``softmax``/``log_softmax``/``softmin`` live in ``ops/softmax.py``; ``relu``/``sigmoid``/``tanh``
in ``ops/elementwise.py``; they are re-exported here so ``nn.functional`` has them all.
"""
from __future__ import annotations

import math

import numpy as np

from .._backend import dtype as _dt
from .._backend.threads import parallel_for
from .._tensor import Tensor
from ..autograd.function import Function
from . import elementwise as _ew
from ._erf import gelu_f32 as _gelu_f32
from ._erf import normal_cdf as _normal_cdf
from ._parallel import MIN_SIZE, par_ufunc
from ._util import unbroadcast, wrap_dim, xp_of
from .inplace import apply_inplace
from .softmax import log_softmax, softmax, softmin

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh", "hardtanh_",
    "hardsigmoid", "hardswish", "softplus", "softsign", "softmax", "log_softmax", "softmin",
    "threshold", "threshold_", "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "glu", "rrelu", "rrelu_",
    "gumbel_softmax",
]

sigmoid = _ew.sigmoid
tanh = _ew.tanh
_Erf = _ew.Erf  # erf as a Function (a row of the elementwise table): differentiable to any order

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_float(x: Tensor, kernel: str) -> None:
    if x._data.dtype.kind not in "fcV":
        name = _dt.from_numpy_dtype(x._data.dtype).name
        legacy = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        raise NotImplementedError(f'"{kernel}" not implemented for \'{legacy.get(name, name)}\'')


def _run(cls, input: Tensor, inplace: bool, *args) -> Tensor:
    """Apply ``cls`` out of place, or in place with torch's semantics."""
    if inplace:
        return apply_inplace(input, lambda x, *a: cls.apply(x, *a), *args)
    return cls.apply(input, *args)


# --- pointwise activations ---------------------------------------------------------------------------
# Each forward also computes the local derivative d = f'(x) (only when a gradient is wanted) and
# saves it: first-order backward is then one multiply (``PointwiseGrad``).  The input is saved too
# (as torch does; ``inplace=True`` gets a private copy of it, see ``ops.inplace``), for a second
# backward: the class's ``_d1``/``_d2`` give f' and f'' as formulas in ``xp`` (None for the
# piecewise-linear ones, whose f' is the saved d and f'' is zero).


class _Pointwise(Function):
    _array_api = True
    _twice = True
    _d1 = _d2 = None  # f'(x) and f''(x) as ``(xp, x, *params)`` formulas, for a second backward
    params = ()

    @staticmethod
    def backward(ctx, grad):
        d, x = ctx.saved_tensors
        return (PointwiseGrad.run(grad, x, d, ctx),) + (None,) * ctx.n_args


def _save(ctx, d, n_args: int, x, params: tuple = ()) -> None:
    ctx.save_for_backward(d, x)
    ctx.n_args, ctx.params = n_args, params


class PointwiseGrad(Function):
    """``grad * d`` (d = f'(x), kept by the activation's forward): the activation's first-order
    backward, one multiply.  As a node of a ``create_graph`` backward it is differentiated again:
    w.r.t. ``grad`` by f'(x), w.r.t. ``x`` by ``grad * f''(x)``, both formulas in ``xp`` (so the
    result is differentiable once more)."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, grad, x, d, op):
        ctx.save_for_backward(grad, x, d)
        ctx.d1, ctx.d2, ctx.params = op._d1, op._d2, op.params
        if type(grad) is np.ndarray and grad.size >= MIN_SIZE:
            r = par_ufunc(np.multiply, grad, d)  # large: on all threads
            if r is not None:
                return r
        return grad * d

    @staticmethod
    def backward(ctx, gg):
        grad, x, d = ctx.saved_tensors
        xp = xp_of(gg)
        if ctx.d2 is None:  # piecewise linear: f' is the (piecewise constant) d, f'' is zero
            return gg * d, xp.zeros_like(x), None, None
        return gg * ctx.d1(xp, x, *ctx.params), gg * grad * ctx.d2(xp, x, *ctx.params), None, None


class Hardtanh(_Pointwise):
    """clip(x, lo, hi); gradient 1 strictly inside (lo, hi) (relu6 is hardtanh(0, 6))."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        if ctx.needs_input_grad[0]:
            _save(ctx, (x > lo) & (x < hi), 2, x)
        return xp_of(x).clip(x, lo, hi)


class LeakyRelu(_Pointwise):
    @staticmethod
    def forward(ctx, x, slope):
        xp = xp_of(x)
        if ctx.needs_input_grad[0]:
            d = (x > 0).astype(x.dtype)  # 1 or slope, by arithmetic: np.where is ~10x slower
            d *= 1 - slope
            d += slope
            _save(ctx, d, 1, x)
        out = xp.minimum(x, 0)
        out *= slope
        out += xp.maximum(x, 0)
        return out


class RandomSlopeRelu(_Pointwise):
    """x where x >= 0, a * x elsewhere, with one slope a ~ U(lower, upper) drawn per element (rrelu training)."""

    @staticmethod
    def forward(ctx, x, slopes):
        d = slopes * (x < 0)
        d += x >= 0
        if ctx.needs_input_grad[0]:
            _save(ctx, d, 1, x)
        return x * d


class Threshold(_Pointwise):
    @staticmethod
    def forward(ctx, x, threshold, value):
        mask = x > threshold
        if ctx.needs_input_grad[0]:
            _save(ctx, mask, 2, x)
        out = x * mask
        if value != 0:
            out += (~mask) * x.dtype.type(value)
        return out


class Shrink(_Pointwise):
    """softshrink (``soft=True``: shift towards 0 by lambd) and hardshrink: zero on [-lambd, lambd]."""

    @staticmethod
    def forward(ctx, x, lambd, soft):
        xp = xp_of(x)
        mask = xp.abs(x) > lambd
        if ctx.needs_input_grad[0]:
            _save(ctx, mask, 2, x)
        if soft:
            out = x - xp.sign(x) * x.dtype.type(lambd)
            out *= mask
            return out
        return x * mask


class Prelu(Function):
    """max(0, x) + w * min(0, x), with one learnable slope per channel (dim 1) or a single one."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, w):
        ctx.wb_shape = (1, -1) + (1,) * (x.ndim - 2) if x.ndim >= 2 and w.size > 1 else ()
        wb = w.reshape(ctx.wb_shape)
        ctx.save_for_backward(x, w)  # w itself (not its reshaped view): a second backward reaches it
        ctx.wshape = w.shape
        xp = xp_of(x)
        return xp.maximum(x, 0) + wb * xp.minimum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        xp = xp_of(grad)
        wb = xp.reshape(w, ctx.wb_shape)
        pos = x > 0
        gx = grad * (pos + (~pos) * wb) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = xp.reshape(unbroadcast(grad * xp.minimum(x, 0), tuple(wb.shape)), ctx.wshape)
        return gx, gw


# --- exponential family -----------------------------------------------------------------------------


class Elu(_Pointwise):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)); elu, selu and celu."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale, grad_input_scale=None):
        xp = xp_of(x)
        neg_x = xp.minimum(x, 0)
        neg_x *= input_scale  # min() keeps exp from overflowing on the unused side
        if ctx.needs_input_grad[0]:
            # celu's gradient uses its own input scale (torch: 1 / alpha with alpha rounded to float32)
            gis = input_scale if grad_input_scale is None else grad_input_scale
            d = xp.exp(neg_x) if gis == input_scale else xp.exp(xp.minimum(x, 0) * gis)
            d *= alpha * scale * gis
            # torch takes the x <= 0 branch only where that holds: NaN gets `scale`, as x > 0 does
            d = xp.where(x <= 0, d, x.dtype.type(scale))
            _save(ctx, d, 3 if grad_input_scale is None else 4, x, (alpha, scale, gis))
        out = xp.expm1(neg_x)  # 0 where x > 0, so adding max(x, 0) selects without np.where
        out *= alpha
        out += xp.maximum(x, 0)
        if scale != 1:
            out *= scale
        return out

    @staticmethod
    def _d1(xp, x, alpha, scale, input_scale):
        e = xp.exp(xp.minimum(x, 0) * input_scale)
        return xp.where(x > 0, scale, e * (alpha * scale * input_scale))

    @staticmethod
    def _d2(xp, x, alpha, scale, input_scale):
        e = xp.exp(xp.minimum(x, 0) * input_scale)
        # 0 at x == 0 too (torch's choice there, though f' takes the exponential side)
        return xp.where(x < 0, e * (alpha * scale * input_scale * input_scale), 0.0)


class Softplus(_Pointwise):
    """log(1 + exp(beta x)) / beta, linear where beta * x > threshold (as torch)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = xp_of(x)
        bx = x * beta
        linear = bx > threshold
        any_linear = bool(linear.any())  # usually none: then no selection is needed at all
        if ctx.needs_input_grad[0]:
            d = _sigmoid(bx)
            if any_linear:
                xp.copyto(d, 1, where=linear)
            _save(ctx, d, 2, x, (beta, threshold))
        soft = softplus_array(bx)
        if beta != 1:
            soft /= beta
        if any_linear:
            xp.copyto(soft, x, where=linear)
        return soft

    @staticmethod
    def _d1(xp, x, beta, threshold):
        return xp.where(x * beta > threshold, 1.0, _sigmoid_xp(xp, x * beta))

    @staticmethod
    def _d2(xp, x, beta, threshold):
        s = _sigmoid_xp(xp, x * beta)
        return xp.where(x * beta > threshold, 0.0, s * (1 - s) * beta)


class LogSigmoid(_Pointwise):
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""

    @staticmethod
    def forward(ctx, x):
        if ctx.needs_input_grad[0]:
            _save(ctx, _sigmoid(-x), 0, x)
        return -softplus_array(-x)

    @staticmethod
    def _d1(xp, x):
        return _sigmoid_xp(xp, -x)

    @staticmethod
    def _d2(xp, x):
        s = _sigmoid_xp(xp, -x)
        return s * (s - 1)


def softplus_array(x):
    """log(1 + exp(x)) on a raw array, stable and branch-free: max(x, 0) + log1p(exp(-|x|))
    (np.logaddexp gives the same values ~10x slower)."""
    xp = xp_of(x)
    flat = x.reshape(-1)  # 1-d, so the in-place ufuncs below get arrays even for 0-d input
    r = xp.abs(flat)
    xp.negative(r, out=r)
    xp.exp(r, out=r)
    xp.log1p(r, out=r)
    r += xp.maximum(flat, 0)
    return r.reshape(x.shape)


def _sigmoid_xp(xp, x):
    """The logistic function as a formula in ``xp`` (the tanh form, as ``_sigmoid``)."""
    return xp.tanh(x * 0.5) * 0.5 + 0.5


def _sigmoid(x):
    """Stable logistic function on a raw array (the tanh form never overflows)."""
    s = xp_of(x).tanh(x * 0.5)
    s *= 0.5
    s += 0.5
    return s


# --- smooth gated family -----------------------------------------------------------------------------

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2 / math.pi)
_GELU_CHUNK_BYTES = 1 << 18  # 256 KiB per chunk buffer: measured fastest on 256x1024 float32 (2.8 -> 1.8 ms)
_SIXTH = float(np.float32(1 / 6))  # torch's hardsigmoid backward uses 1/6 rounded to float32, even in float64


class Gelu(_Pointwise):
    """x * Phi(x) with Phi the normal CDF (exact, via erf), or the tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = xp_of(x)
        x0 = x
        # Every full-size pass below works in place on a few buffers: on large activations a fresh
        # temporary costs about as much (page faults) as the arithmetic it holds.  The work is on
        # a flat view, so 0-d inputs still give arrays (ufuncs turn 0-d results into scalars).
        shape = x.shape
        x = x.reshape(-1)
        if approximate == "tanh":
            x2 = x * x
            t = x2 * 0.044715
            t += 1
            t *= x
            t *= _GELU_K
            xp.tanh(t, out=t)  # the single transcendental pass
            half = t + 1
            half *= 0.5  # 0.5 (1 + t)
            if ctx.needs_input_grad[0]:
                # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3 * 0.044715 x^2)
                t *= t
                xp.subtract(1, t, out=t)
                t *= x
                x2 *= 3 * 0.044715
                x2 += 1
                t *= x2
                t *= 0.5 * _GELU_K
                t += half
                _save(ctx, t.reshape(shape), 1, x0, (approximate,))
            half *= x
            return half.reshape(shape)
        # exact form in cache-sized chunks on the CPU: its ~21 passes then stay in L2 and the
        # temporaries are small (reused by malloc, not faulted in afresh); the chunks run on
        # ``torch.set_num_threads`` threads (each chunk's arithmetic is the same whichever thread
        # runs it, so the result is bit-identical to one thread's)
        grad = ctx.needs_input_grad[0]
        res = xp.empty_like(x)
        d = xp.empty_like(x) if grad else None
        chunk = _GELU_CHUNK_BYTES // x.itemsize if type(x) is np.ndarray else max(x.size, 1)

        if x.dtype == np.float32:  # the tanh form: fewer passes, within float32 rounding of the erf form
            def run(i: int, worker: int) -> None:
                lo, hi = i * chunk, (i + 1) * chunk
                _gelu_f32(x[lo:hi], res[lo:hi], d[lo:hi] if grad else None)
        else:
            def run(i: int, worker: int) -> None:
                lo, hi = i * chunk, (i + 1) * chunk
                xc = x[lo:hi]
                cdf = res[lo:hi]
                u = d[lo:hi] if grad else xp.empty_like(xc)  # receives x^2; with a gradient d's own chunk
                _normal_cdf(xc, cdf, u)
                if grad:  # d/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
                    u *= -0.5
                    xp.exp(u, out=u)
                    u *= xc
                    u *= _INV_SQRT_2PI
                    u += cdf
                cdf *= xc

        parallel_for(-(-x.size // chunk), run)
        if grad:
            _save(ctx, d.reshape(shape), 1, x0, (approximate,))
        return res.reshape(shape)

    @staticmethod
    def _d1(xp, x, approximate):
        if approximate == "tanh":
            t = xp.tanh((x + x * x * x * 0.044715) * _GELU_K)
            return (1 + t) * 0.5 + x * (1 - t * t) * ((1 + x * x * (3 * 0.044715)) * (0.5 * _GELU_K))
        cdf = (_Erf.run(x * _SQRT1_2) + 1) * 0.5
        return cdf + x * xp.exp(x * x * -0.5) * _INV_SQRT_2PI

    @staticmethod
    def _d2(xp, x, approximate):
        if approximate == "tanh":
            t = xp.tanh((x + x * x * x * 0.044715) * _GELU_K)
            du = (1 + x * x * (3 * 0.044715)) * _GELU_K  # u', u = K (x + c x^3)
            return (1 - t * t) * (du + x * 0.5 * (x * (6 * 0.044715 * _GELU_K) - 2 * t * du * du))
        return xp.exp(x * x * -0.5) * _INV_SQRT_2PI * (2 - x * x)


class Silu(_Pointwise):
    """x * sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x)
        if ctx.needs_input_grad[0]:
            _save(ctx, s * (1 + x * (1 - s)), 0, x)
        return x * s

    @staticmethod
    def _d1(xp, x):
        s = _sigmoid_xp(xp, x)
        return s * (1 + x * (1 - s))

    @staticmethod
    def _d2(xp, x):
        s = _sigmoid_xp(xp, x)
        return s * (1 - s) * (2 + x * (1 - 2 * s))


class Mish(_Pointwise):
    """x * tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        t = xp.tanh(softplus_array(x))
        if ctx.needs_input_grad[0]:
            _save(ctx, t + x * _sigmoid(x) * (1 - t * t), 0, x)
        return x * t

    @staticmethod
    def _d1(xp, x):
        t = xp.tanh(xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x))))
        return t + x * _sigmoid_xp(xp, x) * (1 - t * t)

    @staticmethod
    def _d2(xp, x):
        t = xp.tanh(xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x))))
        s = _sigmoid_xp(xp, x)
        sech2 = 1 - t * t
        return 2 * s * sech2 + x * s * sech2 * ((1 - s) - 2 * t * s)


class Hardsigmoid(_Pointwise):
    """relu6(x + 3) / 6."""

    _twice = "derivative for aten::hardsigmoid_backward is not implemented"  # torch's, too

    @staticmethod
    def forward(ctx, x):
        if ctx.needs_input_grad[0]:
            _save(ctx, ((x > -3) & (x < 3)) * x.dtype.type(_SIXTH), 0, x)
        return xp_of(x).clip(x + 3, 0, 6) / 6


class Hardswish(_Pointwise):
    """x * relu6(x + 3) / 6; gradient 0 at and below -3, 1 at and above 3 (torch's choice)."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        if ctx.needs_input_grad[0]:
            d = x / 3 + 0.5
            d *= (x > -3) & (x < 3)
            d += x >= 3
            _save(ctx, d, 0, x)
        return x * xp.clip(x + 3, 0, 6) / 6

    @staticmethod
    def _d1(xp, x):
        return xp.where((x > -3) & (x < 3), x / 3 + 0.5, xp.where(x >= 3, 1.0, 0.0))

    @staticmethod
    def _d2(xp, x):
        return xp.where((x > -3) & (x < 3), 1 / 3, 0.0)


class Softsign(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        den = 1 + xp_of(x).abs(x)
        if ctx.needs_input_grad[0]:
            _save(ctx, 1 / (den * den), 0, x)
        return x / den

    @staticmethod
    def _d1(xp, x):
        den = 1 + xp.abs(x)
        return 1 / (den * den)

    @staticmethod
    def _d2(xp, x):
        den = 1 + xp.abs(x)
        return -2 * xp.sign(x) / (den * den * den)


class Tanhshrink(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        t = xp_of(x).tanh(x)
        if ctx.needs_input_grad[0]:
            _save(ctx, t * t, 0, x)
        return x - t

    @staticmethod
    def _d1(xp, x):
        t = xp.tanh(x)
        return t * t

    @staticmethod
    def _d2(xp, x):
        t = xp.tanh(x)
        return 2 * t * (1 - t * t)


class Glu(Function):
    """a * sigmoid(b) where a, b are the two halves of ``x`` along ``axis``."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, x, axis):
        xp = xp_of(x)
        a, b = xp.split(x, 2, axis=axis)
        ctx.save_for_backward(x)  # the input: a second backward needs a and sigmoid(b) in the graph
        ctx.axis, ctx.half = axis, x.shape[axis] // 2
        return a * _sigmoid(b)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = xp_of(grad)
        a, b = xp.split(x, [ctx.half], axis=ctx.axis)
        s = _sigmoid_xp(xp, b)
        ga = grad * s
        gb = ga * a * (1 - s)
        return xp.concatenate([ga, gb], axis=ctx.axis), None


# --- the functional API ------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.relu(nnbox.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _run(_ew.Relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clip(x, min_val, max_val); no gradient outside the open interval."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run(Hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    _check_float(input, "leaky_relu_cpu")
    return _run(LeakyRelu, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: random negative slopes in [lower, upper] while training, their mean otherwise."""
    _check_float(input, "rrelu_with_noise_cpu")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from .._backend.random import cpu_generator, draw_uniform

    xp = xp_of(input._data)
    # torch draws a slope only for each non-positive element, in order: ``u * (upper - lower) +
    # lower`` from a float64 uniform u (two roundings here, no FMA), with the bounds first rounded
    # to the input's dtype, and the slope kept in that dtype
    neg = input._data <= 0
    dt = input._data.dtype
    slopes = xp.ones(input._data.shape, dtype=dt)
    lo, hi = float(dt.type(lower)), float(dt.type(upper))
    n = int(neg.sum())
    if input.is_cpu:
        slopes[neg] = (cpu_generator()._unit64(n) * (hi - lo) + lo).astype(dt)
    else:
        slopes[neg] = draw_uniform(input.device, None, (n,), np.float64, lo, hi).astype(dt)
    return _run(RandomSlopeRelu, input, inplace, slopes)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Leaky ReLU with learnable slopes ``weight`` (one, or one per channel of dim 1)."""
    channels = input._data.shape[1] if input._data.ndim >= 2 else 1
    n = weight._data.size
    if n != 1 and n != channels:
        raise RuntimeError(
            f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} and "
            f"channel size = {channels}."
        )
    if weight._data.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight._data.ndim}")
    return Prelu.apply(input, weight)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    _check_float(input, "elu_cpu")
    return _run(Elu, input, inplace, alpha, 1.0, 1.0)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    _check_float(input, "elu_cpu")
    return _run(Elu, input, inplace, _SELU_ALPHA, _SELU_SCALE, 1.0)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    _check_float(input, "elu_cpu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _run(Elu, input, inplace, alpha, 1.0, 1.0 / alpha, 1.0 / float(np.float32(alpha)))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (``approximate='tanh'`` for the tanh formula).

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.gelu(nnbox.tensor([1.0]))
    tensor([0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _check_float(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish)."""
    _check_float(input, "silu_cpu")
    return _run(Silu, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    _check_float(input, "mish_cpu")
    return _run(Mish, input, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    _check_float(input, "hardsigmoid_cpu")
    return _run(Hardsigmoid, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    _check_float(input, "hardswish_cpu")
    return _run(Hardswish, input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta; reverts to x where beta * x > threshold."""
    _check_float(input, "softplus_cpu")
    return Softplus.apply(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return Softsign.apply(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    return _run(Threshold, input, inplace, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _run(Threshold, input, True, threshold, value)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x|."""
    _check_float(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return Tanhshrink.apply(input)


def _check_lambd(input: Tensor, lambd: float) -> None:
    if lambd < 0:
        name = _dt.from_numpy_dtype(input._data.dtype).name
        raise RuntimeError(
            f"lambda must be in range [0, 3.40282e+38] for input dtype {name.capitalize() if name != 'float32' else 'Float'}, "
            f"but found {lambd:g}"
        )


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd * sign(x) where |x| > lambd, else 0."""
    _check_lambd(input, lambd)
    return Shrink.apply(input, lambd, True)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return Shrink.apply(input, lambd, False)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: first half of ``dim`` times sigmoid of the second half."""
    if input._data.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {n}")
    return Glu.apply(input, axis)



def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """Sample from the Gumbel-softmax distribution: softmax((logits + g) / tau) with g ~ Gumbel(0, 1);
    ``hard=True`` returns one-hot samples whose gradient is the soft sample's (straight-through)."""
    if eps != 1e-10:
        import warnings

        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    from .creation import empty

    # torch's draw: -log of exponential_() samples of the logits' shape and dtype
    xp = xp_of(logits._data)
    gumbels = -xp.log(empty(tuple(logits.shape), dtype=logits.dtype, device=logits.device).exponential_()._data)
    y_soft = softmax((logits + Tensor._make(gumbels)) / tau, dim)
    if not hard:
        return y_soft
    axis = wrap_dim(dim, logits._data.ndim)
    idx = xp.expand_dims(y_soft._data.argmax(axis=axis), axis)
    one_hot = xp.zeros_like(y_soft._data)
    xp.put_along_axis(one_hot, idx, 1.0, axis=axis)
    return Tensor._make(one_hot) - y_soft.detach() + y_soft
