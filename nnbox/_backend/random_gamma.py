"""Standard-gamma draws on torch's CPU stream (``torch._standard_gamma``, Gamma/Dirichlet/Beta).

Marsaglia and Tsang's method ("A simple method for generating gamma variables", 2000), drawing
from the generator one element at a time, in order; the details below were found by black-box
comparison with torch 2.13 (the generator's position after each draw, and the values):

* alpha == 0 draws nothing and gives 0; alpha < 1 first draws a float64 uniform u and samples
  Gamma(alpha + 1) scaled by ``boost = (1 - u) ** (1 / alpha)``;
* ``d = a - 1/3`` with 1/3 rounded to float32 first (``float(np.float32(1/3))``), and
  ``c = 1 / sqrt(9 d)``; everything is double except three steps rounded to the tensor's
  dtype (float32 for float32 tensors): ``1 / alpha``, ``alpha + 1`` and ``d``;
* each round takes a scalar normal x (the generator's Box-Muller with its cached second value,
  as ``randn`` of one element), retried while ``y = 1 + c x <= 0``; then ``v = y**3``, a float64
  uniform gives ``u = 1 - uniform``, and the draw is accepted if ``u < 1 - 0.0331 x**4`` or if
  ``log u`` is not >= ``x**2 / 2 + d (1 - v + log v)`` (so a NaN alpha stops after one round);
* the result is ``(d * boost) * v`` in double (that product order), rounded to the tensor's
  dtype and raised to at least the dtype's smallest normal number (NaN too).

float32 and float64 results are torch's bit for bit (``tests/test_random_gamma.py``).  The
loop is per element in Python (each element consumes a varying number of words, and the cached
normal ties neighbours together).
"""
from __future__ import annotations

import math

import numpy as np

_THIRD = float(np.float32(1.0 / 3.0))


def standard_gamma(gen, alpha: np.ndarray) -> np.ndarray:
    """Gamma(alpha, 1) draws for each element of ``alpha`` (C order), as float64 values (round
    them with ``to_dtype``).  ``alpha``'s dtype sets where torch rounds (see the module notes)."""
    alpha = np.asarray(alpha)
    rnd = float if alpha.dtype == np.float64 else np.float32  # torch's scalar_t steps
    stream = _Stream(gen, 6 * alpha.size)
    try:
        with np.errstate(over="ignore"):  # 1 / alpha of a subnormal float32 alpha is inf, as in torch
            out = [_one(stream, a, rnd) if a != 0 else 0.0 for a in alpha.astype(np.float64).ravel().tolist()]
    finally:
        stream.close()
    return np.array(out, dtype=np.float64).reshape(alpha.shape)


class _Stream:
    """The generator's words read ahead into a Python list (a NumPy call per draw would cost
    more than the sampler itself); ``close`` rewinds the twister and moves it by exactly the
    words used, so the generator ends where torch's does.  The scalar normals are the
    generator's own (Box-Muller on two float64 uniforms, the sine cached in ``gen._normal``)."""

    def __init__(self, gen, guess: int):
        self.gen, self.bg = gen, gen._bg
        self.saved = self.bg.state
        self.words = self.bg.random_raw(max(guess, 64)).tolist()
        self.used = 0

    def uniform(self) -> float:
        i = self.used
        if i + 2 > len(self.words):
            self.words += self.bg.random_raw(len(self.words)).tolist()
        self.used = i + 2
        return (((self.words[i] << 32) | self.words[i + 1]) & _MASK53) * _2M53

    def normal(self) -> float:
        gen = self.gen
        if gen._normal is not None:
            z, gen._normal = gen._normal, None
            return z
        u1, u2 = self.uniform(), self.uniform()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        gen._normal = r * math.sin(theta)
        return r * math.cos(theta)

    def close(self) -> None:
        self.bg.state = self.saved
        self.gen._words(self.used)


_MASK53 = (1 << 53) - 1
_2M53 = 2.0**-53


def _one(stream: _Stream, alpha: float, rnd) -> float:
    boost = 1.0
    if alpha < 1.0:
        boost = (1.0 - stream.uniform()) ** float(rnd(1.0 / alpha))
        alpha = float(rnd(alpha + 1.0))
    d = float(rnd(alpha - _THIRD))
    c = 1.0 / math.sqrt(9.0 * d) if d > 0 else math.nan
    while True:
        x = stream.normal()
        y = 1.0 + c * x
        if y <= 0.0:
            continue
        v = y * y * y
        u = 1.0 - stream.uniform()
        xx = x * x
        if u < 1.0 - 0.0331 * xx * xx:
            break
        lv = math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)
        bound = 0.5 * xx + d * (1.0 - v + lv)
        if not math.log(u) >= bound:
            break
    return (d * boost) * v


def to_dtype(values: np.ndarray, dtype) -> np.ndarray:
    """Round to ``dtype`` and raise anything below its smallest normal number (NaN too) to it."""
    out = values.astype(dtype)
    tiny = np.finfo(out.dtype).tiny
    keep = out > tiny
    return np.where(keep, out, tiny).astype(dtype, copy=False)


__all__ = ["standard_gamma", "to_dtype"]
