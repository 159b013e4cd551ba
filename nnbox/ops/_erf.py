"""erf for NumPy/CuPy arrays (NumPy has none): piecewise polynomials, accurate to ~1e-16 in float64.

The coefficient tables are Chebyshev interpolants converted to monomials on [-1, 1]; they are
derived (not copied) by ``tools/derive_erf.py``, whose docstring explains the three regions.
Evaluation is in the input's dtype, so float32 stays float32.
"""
from __future__ import annotations

import numpy as np

from ._util import xp_of

_ERF_SMALL = (
    0.9654687386698673,
    -0.1405360890227171,
    0.019852496688983708,
    -0.0022854855611440673,
    0.00021751715604160108,
    -1.7537169441492004e-05,
    1.2233827383524026e-06,
    -7.511569160710623e-08,
    4.115800597661665e-09,
    -2.03524938661036e-10,
    9.167606748998164e-12,
    -3.7910973708931526e-13,
    1.4548169783352384e-14,
    -5.16472878942302e-16,
)

_ERFCX_MID = (
    0.25539567631050575,
    -0.1067964618534896,
    0.04180275260352651,
    -0.015460637764290996,
    0.0054407385374735965,
    -0.001831664275738872,
    0.0005924699953110484,
    -0.0001847783671598635,
    5.5728315415506606e-05,
    -1.6293719294106544e-05,
    4.628174581117474e-06,
    -1.2795213913050206e-06,
    3.44857586195949e-07,
    -9.074060502886393e-08,
    2.333520312221703e-08,
    -5.873980258929147e-09,
    1.453548682628838e-09,
    -3.513441305117177e-10,
    7.959106408735742e-11,
    -1.860639592479057e-11,
    5.855885322087548e-12,
    -1.3079713217533027e-12,
)

_ERFCX_FAR = (
    0.12248480427384141,
    -0.039023892946409726,
    0.012179532227877902,
    -0.003727944394165681,
    0.0011201614260418374,
    -0.0003307141044022273,
    9.60143347758442e-05,
    -2.743142179703869e-05,
    7.717538053863509e-06,
    -2.1394021453960187e-06,
    5.847028791800302e-07,
    -1.5762533999782487e-07,
    4.192675211805192e-08,
    -1.1012856695789538e-08,
    2.868645559181467e-09,
    -7.351831401563509e-10,
    1.7650511943055457e-10,
    -4.432659616480349e-11,
    1.559131038017047e-11,
    -3.799301085465978e-12,
)

_ERF_SMALL_F32 = (
    0.9654687386698673,
    -0.14053609727754268,
    0.019852497140907616,
    -0.0022854195448728494,
    0.00021751354165582579,
    -1.7669068026125697e-05,
    1.2306054785446075e-06,
)

_ERFCX_MID_F32 = (
    0.2553956872355834,
    -0.10679646484624511,
    0.04180220714959358,
    -0.01546048833542819,
    0.00544506862437344,
    -0.001832850945655366,
    0.0005805512234898856,
    -0.00018150937938836523,
    6.883765369214591e-05,
    -1.9895764640729066e-05,
)

_ERFCX_FAR_F32 = (
    0.12248473386563143,
    -0.03902387351282205,
    0.012181780000955388,
    -0.0037285648484214787,
    0.0011090650044349773,
    -0.00032765008939374785,
    0.0001132045182781691,
    -3.218228012388213e-05,
)


def _horner(coef, s, out=None):
    """``coef[0] + coef[1] s + coef[2] s^2 + ...`` by Horner's rule, computed in ``out`` when given."""
    r = xp_of(s).multiply(s, coef[-1], out=out)
    r += coef[-2]
    for c in coef[-3::-1]:
        r *= s
        r += c
    return r


_TABLES = {8: (_ERF_SMALL, _ERFCX_MID, _ERFCX_FAR), 4: (_ERF_SMALL_F32, _ERFCX_MID_F32, _ERFCX_FAR_F32)}


def erf(x, out=None):
    """Elementwise error function of a float array (NumPy or CuPy), same dtype out.

    The small-|x| polynomial runs on every element (clipped to [-1, 1]); the tail (|x| > 1) is
    gathered once by index (and its far part, |x| > 3, once more), because boolean-mask selections
    and np.where are slow on unpredictable masks.  Every full-size pass runs in place on one buffer:
    on large arrays fresh temporaries cost page faults as much as the arithmetic.  ``out`` (same
    shape and dtype as ``x``; may be ``x`` itself) receives the result.

    >>> import numpy as np
    >>> float(erf(np.array(0.5)))
    0.5204998778130465
    """
    xp = xp_of(x)
    if x.ndim == 0:
        r = erf(x.reshape(1)).reshape(())
        if out is not None:
            out[...] = r
            return out
        return r
    small_t, mid_t, far_t = _TABLES.get(x.dtype.itemsize, _TABLES[8])  # float32 needs fewer terms
    flat = x.reshape(-1)
    xs = xp.maximum(flat, -1.0)  # clip to [-1, 1] (two ufuncs beat np.clip)
    xp.minimum(xs, 1.0, out=xs)
    # |x| > 1 exactly where clipping changed x (NaN != NaN sends NaN there too, and it stays NaN)
    idx = xp.flatnonzero(xs != flat)
    xb = flat[idx] if idx.size else None  # gathered before ``out`` (possibly ``x``) is overwritten
    s = xs * xs  # Chebyshev variable 2 x^2 - 1, then Horner in place on the same buffer
    s *= 2.0
    s -= 1.0
    # Horner in place; it runs in ``out`` when given (x itself is only read above), so the call
    # then allocates just xs and s
    res = _horner(small_t, s, None if out is None else out.reshape(-1))
    res *= xs
    if xb is None:  # the common case (e.g. GELU on normalised activations): one polynomial
        return res.reshape(x.shape)
    res[idx] = _erf_tail(xp, xb, mid_t, far_t)
    return res.reshape(x.shape)


def _erf_tail(xp, xb, mid_t, far_t):
    """erf of gathered values with |x| > 1 (a new array; NaN stays NaN)."""
    # erf = sign(x) (1 - erfc(|x|)), erfc(|x|) = exp(-x^2) erfcx(|x|); 1 beyond |x| = 6
    a = xp.minimum(xp.abs(xb), 6.0)
    tail = _horner(mid_t, xp.minimum(a, 3.0) - 2.0)
    fidx = xp.flatnonzero(a > 3.0)
    if fidx.size:
        af = a[fidx]
        tail[fidx] = _horner(far_t, (2.0 * af - 9.0) / 3.0)
    a *= a
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    tail *= a
    xp.subtract(1.0, tail, out=tail)
    return xp.copysign(tail, xb, out=tail)


# Phi(x) - 1/2 = erf(x / sqrt 2) / 2 = x q(x^2) on |x| <= sqrt 2: the small-|x| tables above with
# the scale folded in (s = 2 (x / sqrt 2)^2 - 1 = x^2 - 1, re-expanded in u = x^2, times 1 / (2 sqrt 2)),
# so the normal CDF costs no scaling, no change of variable and no final affine pass (5 fewer
# full-size passes than 0.5 (1 + erf(x / sqrt 2))); the leading term is 1 / sqrt(2 pi), as it must be.
_PHI_SMALL = (
    0.3989422804014327, -0.06649038006690544, 0.009973557010035812, -0.0011873282154803919,
    0.00011543468761573787, -9.44465625782863e-06, 6.659693472729634e-07, -4.1226666439818035e-08,
    2.2735203054420724e-09, -1.1300341251690996e-10, 5.107327736915151e-12, -2.1000104752578476e-13,
    7.517364341324611e-15, -1.8260073749952026e-16,
)
_PHI_SMALL_F32 = (
    0.39894227996049436, -0.06649035843568979, 0.0099733829240631, -0.0011867997135084477,
    0.00011466371578999978, -8.857467345792569e-06, 4.350847394221042e-07,
)
_SQRT1_2 = 0.7071067811865476


def normal_cdf(x, out, sq):
    """The standard normal CDF Phi(x) of a 1-d float array, written into ``out``; ``sq`` (same shape
    and dtype) receives ``x * x``, which GELU's derivative reuses.  Returns ``out``.

    >>> import numpy as np
    >>> x = np.array([-3.0, 0.0, 1.0])
    >>> normal_cdf(x, np.empty(3), np.empty(3)).round(6)
    array([0.00135 , 0.5     , 0.841345])
    """
    xp = xp_of(x)
    big = x.dtype.itemsize != 4
    q = _PHI_SMALL if big else _PHI_SMALL_F32
    xp.multiply(x, x, out=sq)
    idx = xp.flatnonzero(sq > 2.0)  # |x| > sqrt 2: the tail (NaN stays in the polynomial, and NaN)
    if type(x) is np.ndarray and idx.size:
        err = np.seterr(over="ignore", invalid="ignore")  # tail values overflow; they are replaced
    _horner(q, sq, out)
    out *= x
    out += 0.5
    if idx.size:
        if type(x) is np.ndarray:
            np.seterr(**err)
        _, mid_t, far_t = _TABLES[8] if big else _TABLES[4]
        t = _erf_tail(xp, x[idx] * _SQRT1_2, mid_t, far_t)
        t *= 0.5  # 0.5 (1 + erf), as torch computes it: Phi rounds to exactly 0 or 1 far out
        t += 0.5
        out[idx] = t
    return out


# float32 GELU in the tanh form: Phi(x) = (1 + tanh(x P(x^2))) / 2 with P(u) = sqrt(2 / pi) + u R(u),
# R = N / D (N of degree 2, D of degree 3) fitted to atanh(erf(x / sqrt 2)) / x by
# ``tools/derive_gelu_f32.py`` in the accuracy test's ulps.  NumPy's float32 tanh is one cheap vectorised
# pass, so there is no gathered tail.  R is evaluated as the continued fraction
#     R(u) = K1 / (u + B1 + K2 / (u + B2 + K3 / (u + B3)))
# (the same rational, converted by the tool): 8 full-size passes where Horner's rule for N and D and
# their quotient take 10, at the same measured error (no level cancels: each partial denominator stays
# above 8).  Its three divides cost about 2.5 adds each, so the whole chain gains 5% (366 against
# 386 us on 256K elements, one thread), partly from needing no denominator buffer.  The exact P(0)
# keeps the leading term free of R's rounding.  Far out tanh rounds to +-1, so Phi is exactly 0 or 1
# there, as torch's 0.5 (1 + erf).  P increases with u (to sqrt(2 / pi) + K1) and the fraction stays
# finite for every finite u, so u needs no clipping; only an overflowing x^2 (|x| > 1.8e19) or an
# infinite x (0 * inf) does (``_gelu_f32_clipped``).
_PHI_CF_F32 = (3.938721747260367, -547.2460485571357, 149.95357425487023,  # K1, K2, K3
               128.07513686965035, 9.41206228118009, 8.149683705006145)  # B1, B2, B3
_PHI_TANH_F32_P0 = 0.7978845608028654  # sqrt(2 / pi)
# where clipping is needed, u is clipped here: far beyond |x| = 5.5, where P's tanh saturates, and small
# enough that the fraction stays finite; below it the clipped chain gives the unclipped one's bits
_U_CLIP = 1e18
_LOG2E = 1.4426950408889634
# the constants as 0-d float32 arrays for NumPy inputs: NumPy rounds a Python float operand to float32
# anyway (NEP 50), so results are bit-identical, and each ufunc call skips that conversion (about
# 0.25 us of a 3 us pass over a 64K-element block; GELU makes about 20 such calls per block)
_GELU_CONSTS = (*_PHI_CF_F32, _PHI_TANH_F32_P0, 0.5, -0.5 * _LOG2E, 0.3989422804014327)  # last: 1 / sqrt(2 pi)
_GELU_CONSTS_0D = tuple(np.array(c, np.float32) for c in _GELU_CONSTS)


def gelu_f32(x, out, d=None, u=None):
    """Exact GELU ``x Phi(x)`` of a 1-d float32 block, written into ``out``; with ``d`` (same shape and
    dtype) also its derivative ``Phi(x) + x phi(x)`` into ``d``.  ``u`` is scratch for ``x * x`` when
    there is no ``d`` (``d`` holds it otherwise); ``out`` doubles as the work buffer, so a block needs
    no other memory.  A function of one block, so blocks may run on any threads.  Returns ``out``.

    21 full-size passes with ``d`` (16 without): x^2, the continued fraction (8), P and the tanh
    argument (3), tanh, Phi (2), the derivative (exp2 and 4 more), the product.

    >>> import numpy as np
    >>> x = np.array([-3.0, 0.0, 1.0], np.float32)
    >>> d = np.empty(3, np.float32)
    >>> gelu_f32(x, np.empty(3, np.float32), d).round(6), d.round(6)
    (array([-0.00405 ,  0.      ,  0.841345], dtype=float32), array([-0.011946,  0.5     ,  1.083316], dtype=float32))
    """
    if u is None:
        u = d if d is not None else xp_of(x).empty_like(x)
    if type(x) is not np.ndarray:  # CuPy: no floating-point flags to watch, so always clip
        return _gelu_f32_clipped(x, out, d, u)
    try:
        # an overflow (x^2 beyond float32) or an invalid operation (0 * inf from an infinite x)
        # anywhere in the fast chain sends the block to the clipped one; NaN inputs raise neither and
        # stay NaN.  Watching the flags costs ~1 us a block where a max-reduction of u took ~4 us.
        with np.errstate(over="raise", invalid="raise", under="ignore"):
            return _gelu_f32_chain(x, out, d, u, u, _GELU_CONSTS_0D, np.multiply, np.add, np.divide, np.tanh, np.exp2)
    except FloatingPointError:
        return _gelu_f32_clipped(x, out, d, u)


def _gelu_f32_clipped(x, out, d, u):
    """``gelu_f32`` with u = x^2 clipped at ``_U_CLIP`` for P (the derivative's exp2 still takes the true
    x^2): the same bits as the fast chain wherever that does not overflow, so a block's results do not
    depend on its neighbours."""
    xp = xp_of(x)
    if xp is np:
        f, fns = _GELU_CONSTS_0D, (np.multiply, np.add, np.divide, np.tanh, np.exp2)
    else:  # CuPy: outputs by keyword
        f = _GELU_CONSTS
        fns = (lambda a, b, o: xp.multiply(a, b, out=o), lambda a, b, o: xp.add(a, b, out=o),
               lambda a, b, o: xp.divide(a, b, out=o), lambda a, o: xp.tanh(a, out=o),
               lambda a, o: xp.exp2(a, out=o))
    with np.errstate(all="ignore"):  # inf * 0 at x = -inf gives NaN, as it did before; torch never warns
        fns[0](x, x, u)
        uc = xp.minimum(u, _U_CLIP)
        return _gelu_f32_chain(x, out, d, u, uc, f, *fns)


def _gelu_f32_chain(x, out, d, u, uc, consts, mul, add, div, tanh, exp2):
    """The passes of ``gelu_f32``: ``u`` receives x^2 (and then the derivative's terms), ``uc`` is the
    u that P sees (``u`` itself, or a clipped copy that already holds it); ufuncs take outputs
    positionally (cheaper calls)."""
    k1, k2, k3, b1, b2, b3, p0, half, c_exp, c_phi = consts
    if uc is u:
        mul(x, x, u)
    t = out
    add(uc, b3, t)  # the continued fraction R(u), from the innermost level out
    div(k3, t, t)
    add(t, uc, t)
    add(t, b2, t)
    div(k2, t, t)
    add(t, uc, t)
    add(t, b1, t)
    div(k1, t, t)
    mul(t, uc, t)  # P = sqrt(2 / pi) + u R
    add(t, p0, t)
    mul(t, x, t)  # h(x) = x P
    tanh(t, t)
    mul(t, half, t)  # Phi = (1 + tanh h) / 2
    add(t, half, t)
    if d is not None:
        # d/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi), as 2^(-x^2 log2(e) / 2):
        # NumPy's float32 exp2 takes 0.6x exp's time, within the same ulps (dense-grid test)
        mul(u, c_exp, u)
        exp2(u, u)
        mul(u, x, u)
        mul(u, c_phi, u)
        add(u, t, d)
    mul(t, x, t)
    return out
