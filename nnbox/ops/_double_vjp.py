"""Second derivatives of a fused kernel by differentiating a reference composition twice.

Some fused kernels (attention, the recurrent layers) have first-order backwards that are long
hand-written array programs (a softmax Jacobian, backpropagation through time).  Deriving their
second derivatives by hand as well would double that code and its risk.  Instead their backward
Function's own ``backward`` calls ``double_vjp``: the op's forward is written once more as a
composition of nnbox ops that are themselves differentiable twice (matmul, +, -, *, /, exp, sums),
on leaf Tensors made from the saved arrays; its vector-Jacobian product at the saved upstream
gradients is taken with ``create_graph=True``, and that is differentiated once more along the
incoming second-order gradients.  The values are exactly the second derivatives of the op.

This runs on arrays (a second-order backward); the resulting gradients cannot be differentiated
a third time (the backward Function's ``_twice`` is a message saying so).
"""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd import grad_mode


def double_vjp(forward, primals, cotangents, ggs):
    """``d/d(primals, cotangents) of sum(ggs * VJP(forward, primals)(cotangents))``, as arrays.

    ``forward(*primal_tensors)`` returns the op's outputs (a tuple of Tensors, any may be None);
    ``primals`` and ``cotangents`` are arrays or None (None: not an input / no upstream gradient);
    ``ggs`` are arrays or None, one per primal.  Returns (grads of primals, grads of cotangents),
    None where an input is None or nothing depends on it.
    """
    prev = grad_mode._enabled[0]
    grad_mode._enabled[0] = True
    try:
        from ..autograd import grad as _grad

        p_t = [None if a is None else Tensor._make(a).requires_grad_(a.dtype.kind in "fV") for a in primals]
        c_t = [None if a is None else Tensor._make(a).requires_grad_(True) for a in cotangents]
        outs = forward(*p_t)
        pairs = [(o, c) for o, c in zip(outs, c_t) if o is not None and c is not None and o.requires_grad]
        wrt = [t for t in p_t if t is not None and t.requires_grad]
        g1 = _grad([o for o, _ in pairs], wrt, [c for _, c in pairs], create_graph=True, allow_unused=True)
        g1 = dict(zip(map(id, wrt), g1))
        roots, seeds = [], []
        for t, gg in zip(p_t, ggs):
            g = None if t is None else g1.get(id(t))
            if g is not None and gg is not None and g.requires_grad:
                roots.append(g)
                seeds.append(Tensor._make(gg))
        targets = wrt + [c for c in c_t if c is not None]
        if roots:
            g2 = _grad(roots, targets, seeds, allow_unused=True)
        else:
            g2 = [None] * len(targets)
    finally:
        grad_mode._enabled[0] = prev
    found = dict(zip(map(id, targets), g2))

    def arrays(ts):
        out = []
        for t in ts:
            g = None if t is None else found.get(id(t))
            out.append(None if g is None else g._data)
        return out

    return arrays(p_t), arrays(c_t)
