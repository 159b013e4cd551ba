"""Finite-difference gradient check for the nn ops' hand-written backwards (float64).

``numgrad_check(fn, inputs)`` builds nnbox tensors from the NumPy ``inputs`` (float ones require
grad), backpropagates a fixed random weighting of ``fn``'s output, and compares every input's
gradient with central differences of the same weighted sum.
"""
from __future__ import annotations

import numpy as np

import nnbox


def numgrad_check(fn, inputs, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0, wrt=None):
    """``wrt``: indices of the inputs to check (default: every float input)."""
    rng = np.random.default_rng(seed)
    tensors = [nnbox.tensor(a.copy(), requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
               for a in inputs]
    out = fn(*tensors)
    w = rng.standard_normal(tuple(out.shape))
    (out * nnbox.tensor(w)).sum().backward()

    def f(arrays):
        ts = [nnbox.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
        with nnbox.no_grad():
            return float((fn(*ts).numpy() * w).sum())

    for i, a in enumerate(inputs):
        if not (isinstance(a, np.ndarray) and a.dtype.kind == "f") or (wrt is not None and i not in wrt):
            continue
        num = np.zeros_like(a)
        flat = num.reshape(-1)
        for j in range(a.size):
            plus = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
            minus = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
            plus[i].reshape(-1)[j] += eps
            minus[i].reshape(-1)[j] -= eps
            flat[j] = (f(plus) - f(minus)) / (2 * eps)
        got = tensors[i].grad
        assert got is not None, f"input {i}: no gradient"
        np.testing.assert_allclose(got.numpy(), num, rtol=rtol, atol=atol, err_msg=f"input {i} gradient")
