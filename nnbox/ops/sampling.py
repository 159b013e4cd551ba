"""Sampling ops beyond the uniform/normal family: ``multinomial`` and ``poisson``."""
from __future__ import annotations

import math

import numpy as np

from .._backend import random as _rnd
from .._tensor import Tensor


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices sampled from the (unnormalised) rows of ``input``, torch's draws on the CPU.

    Without replacement (and for a single sample either way) torch races exponentials: one
    ``exponential_()`` per category, in the input's dtype, and the largest ``p / e`` win.  With
    replacement each sample is a float64 uniform looked up in the row's normalised cumulative sum
    (the first category whose cumulative probability reaches it).

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.multinomial(nnbox.tensor([0.1, 0.5, 0.2, 0.2, 1.0]), 3)
    tensor([4, 1, 2])
    """
    from .creation import empty

    arr = input._data
    if arr.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if arr.dtype.kind not in "fV":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}".replace("torch.", ""))
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = arr.reshape(-1, arr.shape[-1])
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if not input.is_cpu:
        return _multinomial_device(input, rows, num_samples, replacement, generator)
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement or num_samples == 1:
        e = empty(tuple(rows.shape), dtype=input.dtype, device=input.device).exponential_(generator=generator)._data
        keys = rows / e
        res = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    else:
        g = _rnd.cpu_generator(generator)
        res = np.empty((rows.shape[0], num_samples), dtype=np.int64)
        for i, r in enumerate(rows):
            cdf = np.cumsum(r)  # in the input's dtype, as torch accumulates it
            cdf = cdf / cdf[-1]
            u = g._unit64(num_samples)
            res[i] = np.minimum(np.searchsorted(cdf.astype(np.float64), u, side="left"), r.shape[0] - 1)
    return Tensor._make(res.astype(np.int64).reshape(arr.shape[:-1] + (num_samples,)))


def _multinomial_device(input, rows, num_samples, replacement, generator):
    """multinomial on CuPy, written with the array's module (no per-row loop, no host copy of the
    draws): inverse CDF with replacement, an exponential race (top-k of p / Exp(1)) without."""
    from .._backend.device import array_module

    xp = array_module(rows)
    p = rows.astype(np.float64)
    if bool(((p < 0) | ~xp.isfinite(p)).any()):  # one read back for both checks, as torch's one .item()
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    s = p.sum(axis=1, keepdims=True)
    if bool((s <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    g = _rnd.generator_for(input.device, generator)
    if replacement and num_samples > 1:
        cdf = xp.cumsum(p / s, axis=1)
        u = g.random((p.shape[0], num_samples))
        res = xp.minimum((u[:, :, None] >= cdf[:, None, :]).sum(axis=2), p.shape[1] - 1)
    else:
        keys = g.standard_exponential(size=p.shape) / xp.where(p > 0, p, xp.nan)
        keys = xp.where(xp.isnan(keys), xp.inf, keys)
        res = xp.argsort(keys, axis=1)[:, :num_samples]
    return Tensor._make(res.astype(np.int64).reshape(input._data.shape[:-1] + (num_samples,)))


def _poisson_one(lam: float, unit) -> float:
    """One Poisson(lam) sample from float64 uniforms ``unit()``: Knuth's product of uniforms below
    rate 10, Hormann's transformed rejection (PTRS) from 10 on, the pair torch's CPU kernel uses."""
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = unit() - 0.5
            v = unit()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return float(k)
            if k < 0 or (us < 0.013 and v > us):
                continue
            if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= -lam + k * loglam - math.lgamma(k + 1):
                return float(k)
    if lam == 0:
        return 0.0
    enlam, x, prod = math.exp(-lam), 0, 1.0
    while True:
        prod *= unit()
        if prod > enlam:
            x += 1
        else:
            return float(x)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rates ``input``, element by element in torch's order.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.poisson(nnbox.tensor([0.5, 4.0, 30.0]))
    tensor([ 2.,  5., 26.])
    """
    rates = input._data
    if not input.is_cpu:  # CuPy's sampler on a GPU (its own stream, not torch's)
        return Tensor._make(_rnd.generator_for(input.device, generator).poisson(rates).astype(rates.dtype))
    if (rates < 0).any() or not np.isfinite(rates).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    g = _rnd.cpu_generator(generator)

    def unit() -> float:
        return float(g._unit64(1)[0])

    out = np.array([_poisson_one(lam, unit) for lam in rates.ravel().tolist()], dtype=np.float64)
    return Tensor._make(out.reshape(rates.shape).astype(rates.dtype))
