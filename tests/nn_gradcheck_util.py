"""A float64 finite-difference check of nnbox's hand-written backwards (used by the nn tests).

``fd_check(fn, inputs)`` compares the analytic vector-Jacobian product of ``fn`` (for a random
upstream gradient) with central differences of ``<fn(x), g>`` for every float input.
"""
from __future__ import annotations

import numpy as np

import nnbox


def fd_check(fn, inputs, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ts = [nnbox.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
          else (nnbox.tensor(a) if isinstance(a, np.ndarray) else a) for a in inputs]
    outs = fn(*ts)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    outs = [o for o in outs if isinstance(o, nnbox.Tensor) and o.requires_grad]
    gs = [rng.standard_normal(tuple(o.shape)) for o in outs]
    loss = sum((o * nnbox.tensor(g)).sum() for o, g in zip(outs, gs))
    loss.backward()

    def value():
        with nnbox.no_grad():
            r = fn(*ts)
        r = r if isinstance(r, (tuple, list)) else (r,)
        r = [o for o in r if isinstance(o, nnbox.Tensor) and o.dtype.is_floating_point]
        return sum(float((o.numpy() * g).sum()) for o, g in zip(r, gs))

    for i, t in enumerate(ts):
        if not (isinstance(t, nnbox.Tensor) and t.requires_grad):
            continue
        data = t._data
        num = np.zeros(data.shape)
        for idx in np.ndindex(data.shape):
            old = data[idx]
            data[idx] = old + eps
            hi = value()
            data[idx] = old - eps
            lo = value()
            data[idx] = old
            num[idx] = (hi - lo) / (2 * eps)
        ana = t.grad.numpy() if t.grad is not None else np.zeros(data.shape)
        np.testing.assert_allclose(ana, num, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
