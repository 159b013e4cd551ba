"""issue 16: gradients at the edge points match torch's (elu family at NaN, atan2 at (0, 0))."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox


@pytest.mark.parametrize("fn,kw", [("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {"alpha": 2.0})])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elu_family_grad_at_nan_zero_and_around(fn, kw, dtype):
    vals = [float("nan"), 0.0, -0.0, -1.0, 1.0, -50.0, 3.0]
    t = torch.tensor(vals, dtype=getattr(torch, dtype), requires_grad=True)
    getattr(torch.nn.functional, fn)(t, **kw).sum().backward()
    n = nnbox.tensor(vals, dtype=getattr(nnbox, dtype), requires_grad=True)
    out = getattr(nnbox.nn.functional, fn)(n, **kw)
    np.testing.assert_allclose(out.detach().numpy(), getattr(torch.nn.functional, fn)(t.detach(), **kw).numpy(),
                               rtol=1e-6, equal_nan=True)
    out.sum().backward()
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-6)  # no NaN at NaN: torch's 1 * scale


def test_atan2_grad_at_origin():
    a_t = torch.tensor([0.0, 0.0, -0.0, 1.0, 0.0], requires_grad=True)
    b_t = torch.tensor([0.0, -0.0, 0.0, 0.0, 2.0], requires_grad=True)
    torch.atan2(a_t, b_t).sum().backward()
    a = nnbox.tensor([0.0, 0.0, -0.0, 1.0, 0.0], requires_grad=True)
    b = nnbox.tensor([0.0, -0.0, 0.0, 0.0, 2.0], requires_grad=True)
    nnbox.atan2(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), a_t.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), b_t.grad.numpy())
    assert np.array_equal(np.signbit(b.grad.numpy()), np.signbit(b_t.grad.numpy()))
