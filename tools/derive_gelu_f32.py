"""Derive the float32 normal-CDF continued fraction ``_PHI_CF_F32`` in ``nnbox/ops/_erf.py``
(needs scipy; run once).

Phi(x) = (1 + tanh(h(x))) / 2 exactly, with h(x) = atanh(erf(x / sqrt 2)) = x P(x^2): P is smooth and
slowly varying (P(0) = sqrt(2 / pi); it grows like sqrt(u) / 4).  The fit covers u = x^2 <= 30
(|x| <= 5.48); beyond, the fitted P keeps increasing (to sqrt(2 / pi) + K1) and tanh stays at its
float32 limit, so the code needs no clipping.  NumPy's float32 tanh is one cheap vectorised pass, so
exact GELU needs no gathered tail.

P is written as P(u) = sqrt(2 / pi) + u N(u) / D(u), N of degree 2 and D of degree 3 with leading
coefficient 1 (degrees 2 / 2 leave 1.7 ulp of fitted error; 3 / 3 halve the 0.035 ulp of 2 / 3, which
float32 rounding swamps).  The exact P(0) keeps the leading term free of the rational part's rounding,
which then reaches P only through u N / D, a few percent of P where GELU's ulps are tightest (|x| < 1):
the dense-grid test measures the same float32 error as the polynomial this replaced (value 1.83 ulp,
gradient 1.26 ulp against torch's float64 GELU).

The code evaluates N / D as the continued fraction K1 / (u + B1 + K2 / (u + B2 + K3 / (u + B3))),
the same rational (``continued_fraction`` converts it by polynomial division): 8 passes instead of
Horner's 9 plus the divide, at the same measured error.

The fit minimises the error in the accuracy test's own units: the larger of the value's ulps (of
max(|gelu|, |x| / 2)) and the gradient's ulps (of max(|gelu'|, 1)), at +x and -x, per unit error in
P (dPhi/dP = x sech(h)^2 / 2).  It is a weighted rational least-squares fit linearised with the
previous denominator (Loeb / Sanathanan-Koerner) and reweighted toward minimax (Lawson), in the
scaled variable u / 30, then expanded in powers of u.  Max fitted error: 0.035 ulp.

    python tools/derive_gelu_f32.py
"""
import numpy as np
from scipy.special import erf

U, M, N = 30.0, 2, 3  # u range; degrees of the numerator and the (monic) denominator
A0 = np.sqrt(2 / np.pi)


def ulp_weight(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h(x) / x and the test's ulps per unit error in P at +-x (x >= 0)."""
    h = np.arctanh(erf(x / np.sqrt(2))) / np.where(x == 0, 1, x)
    h[x == 0] = A0
    dphi_dp = 0.5 / np.cosh(h * x) ** 2 * x
    pdf = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    w = np.zeros_like(x)
    for xs in (x, -x):
        phi = 0.5 * (1 + erf(xs / np.sqrt(2)))
        ulp_v = np.spacing(np.maximum(np.abs(xs * phi), np.abs(xs) / 2).astype(np.float32)).astype(np.float64)
        ulp_g = np.spacing(np.maximum(np.abs(phi + xs * pdf), 1).astype(np.float32)).astype(np.float64)
        w = np.maximum(w, np.maximum(np.abs(xs) * dphi_dp / ulp_v, dphi_dp / ulp_g))
    return h, w


def fit(iters: int = 80) -> tuple[np.ndarray, np.ndarray, float]:
    u = np.linspace(0, U, 60001)[1:]
    h, w = ulp_weight(np.sqrt(u))
    keep = np.isfinite(h)  # atanh(1) far out: tanh is saturated there anyway
    u, h, w = u[keep], h[keep], w[keep]
    r, w = (h - A0) / u, w * u  # the rational part and its weight (P - A0 = u r)
    s = u / U
    vn, vd = np.vander(s, M + 1, increasing=True), np.vander(s, N, increasing=True)
    den, lw = np.ones_like(s), np.ones_like(s)
    for _ in range(iters):
        ww = w * np.sqrt(lw) / np.abs(den)
        a = np.hstack([vn, -r[:, None] * vd]) * ww[:, None]
        c, *_ = np.linalg.lstsq(a, r * s ** N * ww, rcond=None)
        num, den = vn @ c[:M + 1], vd @ c[M + 1:] + s ** N
        e = np.abs((num / den - r) * w)
        lw = lw * e / (lw * e).sum()
    assert np.all(den > 0), "the denominator has a zero on [0, U]"
    # back to powers of u, the denominator monic: multiply both by U^N
    cn = c[:M + 1] / U ** np.arange(M + 1) * U ** N
    cd = np.r_[c[M + 1:] / U ** np.arange(N) * U ** N, 1.0]
    return cn, cd, float(e.max())


def continued_fraction(cn: np.ndarray, cd: np.ndarray) -> tuple[float, ...]:
    """(K1, K2, K3, B1, B2, B3) with N / D = K1 / (u + B1 + K2 / (u + B2 + K3 / (u + B3))), for N of
    degree 2 and D of degree 3 (coefficients in increasing powers): each division step D = q N + r
    leaves a linear quotient q = a (u + B), and K collects the leading factors."""
    from numpy.polynomial import polynomial as pn
    q1, r1 = pn.polydiv(cd, cn)
    q2, r2 = pn.polydiv(cn, r1)
    q3, _ = pn.polydiv(r1, r2)
    (c1, a1), (c2, a2), (c3, a3) = q1, q2, q3
    return 1 / a1, 1 / (a1 * a2), 1 / (a2 * a3), c1 / a1, c2 / a2, c3 / a3


if __name__ == "__main__":
    cn, cd, err = fit()
    print(f"# max error {err:.2g} ulp")
    print("_PHI_CF_F32 = (", ", ".join(repr(float(c)) for c in continued_fraction(cn, cd)), ")")
