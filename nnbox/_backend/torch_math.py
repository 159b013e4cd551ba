"""The floating-point arithmetic of torch's CPU random kernels, reproduced in NumPy.

torch's samplers are simple formulas, but its binaries are built by GCC, which fuses a multiply
followed by an add into one FMA (one rounding instead of two), and its float32 normal sampler
uses a Cephes-style vectorised ``log``/``sincos`` (the public "sse_mathfun" polynomials) instead
of libm.  To get the same bits we must round exactly where torch's machine code rounds.  Each
rule below was found by comparing against torch 2.13 on hundreds of thousands of draws.
"""
from __future__ import annotations

import numpy as np

_f32 = np.float32


def fma32(a, b, c) -> np.ndarray:
    """float32 ``a*b + c`` with one rounding: the product of two floats is exact in double, so
    only the final add rounds (twice, double then float; a tie at both is vanishingly rare)."""
    r = np.asarray(a).astype(np.float64)  # in-place steps on a float64 copy: the fastest order
    r *= b
    r += c
    return r.astype(np.float32)


def _split(a):
    t = 134217729.0 * a  # Veltkamp split: a = hi + lo, each with 26 significant bits
    hi = t - (t - a)
    return hi, a - hi


def fma64(a, b, c) -> np.ndarray:
    """float64 ``a*b + c`` with (almost always) one rounding, by error-free transformations:
    the product's rounding error (Dekker) and the sum's (Knuth) are added back before the last
    rounding.  NumPy has no fused multiply-add, and torch's uniform/normal kernels use one."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    c = np.asarray(c, np.float64)
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    t = (p - (s - bb)) + (c - bb)
    return s + (t + e)


def libm(fn, x: np.ndarray) -> np.ndarray:
    """Apply a ``math`` function (glibc's libm) elementwise: NumPy's SIMD float64 log/sin/cos
    differ from libm in the last bit now and then, and torch's double kernels call libm."""
    return np.array([fn(v) for v in x.tolist()], dtype=np.float64)


_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
          -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)


def log_ps(x: np.ndarray) -> np.ndarray:
    """Natural log of positive float32 values, as torch's AVX normal sampler computes it: split
    off the exponent, fold the mantissa into [sqrt(1/2), sqrt(2)), a degree-9 polynomial, and
    ln 2 added back in two parts.  The fused steps are the ones GCC chose in torch's build."""
    x = np.maximum(x, _f32(1.17549435e-38))
    xi = x.view(np.int32)
    e = ((xi >> 23) - 0x7E).astype(np.float32)  # the exponent, plus 1 for the mantissa in [1/2, 1)
    x = ((xi & ~np.int32(0x7F800000)) | np.int32(0x3F000000)).view(np.float32)
    small = x < _f32(0.707106781186547524)
    # below sqrt(1/2) use 2m - 1 with one exponent less (adding m only where small, in place)
    x = (x - _f32(1)) + x * small  # x * small is x or an exact 0 (masked ufuncs are slow)
    e -= small
    z = x * x
    x64 = x.astype(np.float64)  # float32 values, exactly: each product below is exact in double
    y = fma32(x, _f32(_LOG_P[0]), _f32(_LOG_P[1]))
    for p in _LOG_P[2:]:
        y = fma32(y, x64, _f32(p))
    y *= x
    y = fma32(y, z.astype(np.float64), e * _f32(-2.12194440e-4))
    y = fma32(z, _f32(-0.5), y)
    x += y
    return fma32(e, _f32(0.693359375), x)


def sincos_ps(x: np.ndarray, nonnegative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) of float32 values in [0, 2 pi] (the sampler's angles), as torch's AVX normal
    sampler: reduce by multiples of pi/4 (in three parts), then a sine or a cosine polynomial
    chosen by the octant.  ``nonnegative`` skips the sign handling when x >= 0 is known."""
    if nonnegative:
        neg_sin = None
    else:
        neg_sin = np.signbit(x)
        x = np.abs(x)
    j = (x * _f32(1.27323954473516)).astype(np.int32)
    j += 1
    j &= ~np.int32(1)
    y = j.astype(np.float32)
    flip = (j & 4) != 0
    neg_sin = flip if neg_sin is None else neg_sin ^ flip
    neg_cos = ((~(j - 2)) & 4) != 0
    use_sin_poly = (j & 2) == 0
    # y is an even integer <= 8 here, so y * DP1 and y * DP2 (8 and 11 significant bits) are exact
    # and the plain multiply-add equals the fused one; y * DP3 is not, so that step stays fused
    x = x + y * _f32(-0.78515625)
    x += y * _f32(-2.4187564849853515625e-4)
    x = fma32(y, _f32(-3.77489497744594108e-8), x)
    z = x * x
    z64 = z.astype(np.float64)
    yc = fma32(z, _f32(2.443315711809948e-5), _f32(-1.388731625493765e-3))
    yc = fma32(yc, z64, _f32(4.166664568298827e-2))
    yc *= z
    yc = fma32(yc, z64, z * _f32(-0.5))
    yc += _f32(1)
    ys = fma32(z, _f32(-1.9515295891e-4), _f32(8.3321608736e-3))
    ys = fma32(ys, z64, _f32(-1.6666654611e-1))
    ys *= z
    ys = fma32(ys, x.astype(np.float64), x)
    # select and negate on the bits (exact, and much faster than np.where / masked ufuncs)
    pick = -use_sin_poly.view(np.int8).astype(np.int32)  # all ones where the sine polynomial is used
    ys_b, yc_b = ys.view(np.int32), yc.view(np.int32)
    diff = ys_b ^ yc_b
    diff &= pick
    s_b = yc_b ^ diff  # ys where pick, else yc
    c_b = ys_b ^ diff  # yc where pick, else ys
    s_b ^= neg_sin.view(np.int8).astype(np.int32) << 31
    c_b ^= neg_cos.view(np.int8).astype(np.int32) << 31
    return s_b.view(np.float32), c_b.view(np.float32)


__all__ = ["fma32", "fma64", "libm", "log_ps", "sincos_ps"]
