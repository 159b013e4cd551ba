"""Sampling ops beyond the uniform/normal family: ``multinomial`` and ``poisson``."""
from __future__ import annotations

import numpy as np

from .._backend import random as _rnd
from .._tensor import Tensor


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices sampled from the (unnormalised) rows of ``input``."""
    p = input._data.astype(np.float64)
    if (p < 0).any() or not np.isfinite(p).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = p.reshape(-1, p.shape[-1])
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    g = _rnd.cpu_generator(generator)
    out = []
    for r in rows:
        s = r.sum()
        if s <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            cdf = np.cumsum(r / s)
            u = g.uniform(num_samples, np.float64)
            out.append(np.minimum(np.searchsorted(cdf, u, side="right"), r.shape[0] - 1))
        else:
            # weighted sampling without replacement: exponential race (keys e / p, smallest first)
            e = -np.log1p(-g.uniform(r.shape[0], np.float64))
            keys = np.where(r > 0, e / np.where(r > 0, r, 1.0), np.inf)
            out.append(np.argsort(keys, kind="stable")[:num_samples])
    res = np.stack(out).astype(np.int64)
    return Tensor._make(res.reshape(p.shape[:-1] + (num_samples,)))


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rates ``input``."""
    g = _rnd.cpu_generator(generator)
    rng = np.random.Generator(np.random.PCG64(int(g.integers(1, 0, 2**62)[0])))
    return Tensor._make(rng.poisson(input._data).astype(input._data.dtype))
