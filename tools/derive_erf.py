"""Derive the erf coefficient tables in ``nnbox/ops/_erf.py`` (needs mpmath; run once, offline).

Three regions of |x|:
  [0, 1]  erf(x) = x * P(s),  P interpolates erf(x)/x as a function of t = x**2, s = 2t - 1
  [1, 3]  erfc(x) = exp(-x*x) * Q(s),  Q interpolates erfcx = erfc(x) exp(x**2), s = x - 2
  [3, 6]  as above with s = (2x - 9) / 3
Each is a Chebyshev interpolant at 50-digit precision, converted to monomials in ``s`` (all on
[-1, 1], so Horner in float64 loses nothing: the coefficient sums stay below 1.2).  Beyond 6,
erf is 1 to double precision.  Max error against mpmath over [0, 6.5]: 1.1e-16 absolute.
The float32 tables (``_F32``) use fewer terms (7, 10, 8): max error 5e-9, below float32's 6e-8.

    python tools/derive_erf.py > /tmp/tables.py
"""
import mpmath as mp

mp.mp.dps = 50


def chebyshev_monomials(f, a, b, n):
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    vals = [f((b - a) / 2 * s + (a + b) / 2) for s in nodes]
    c = [2 * mp.fsum(vals[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k in range(n)) / n for j in range(n)]
    c[0] /= 2
    T = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for j in range(2, n):
        p = [mp.mpf(0)] + [2 * x for x in T[j - 1]]
        for i, x in enumerate(T[j - 2]):
            p[i] -= x
        T.append(p)
    mono = [mp.mpf(0)] * n
    for j in range(n):
        for i, x in enumerate(T[j]):
            mono[i] += c[j] * x
    return [float(m) for m in mono]


def tables(n_small, n_mid, n_far, suffix):
    small = chebyshev_monomials(lambda t: mp.erf(mp.sqrt(t)) / mp.sqrt(t) if t > 0 else 2 / mp.sqrt(mp.pi), 0, 1,
                                n_small)
    erfcx = lambda x: mp.erfc(x) * mp.exp(x * x)  # noqa: E731
    mid = chebyshev_monomials(erfcx, 1, 3, n_mid)
    far = chebyshev_monomials(erfcx, 3, 6, n_far)
    for name, vals in (("_ERF_SMALL", small), ("_ERFCX_MID", mid), ("_ERFCX_FAR", far)):
        print(f"{name}{suffix} = (")
        for v in vals:
            print(f"    {v!r},")
        print(")\n")


def main():
    tables(14, 22, 20, "")
    tables(7, 10, 8, "_F32")


if __name__ == "__main__":
    main()
