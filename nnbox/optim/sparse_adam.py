"""``SparseAdam``: lazy Adam, the optimizer torch pairs with ``Embedding(sparse=True)``.

torch feeds it sparse COO gradients and moves only the rows they hold.  nnbox's gradients are dense
(it has no sparse layout), so the rows a gradient "holds" are taken to be those with a nonzero
entry: for an embedding table, the rows looked up this step (a looked-up row whose gradient is
exactly zero is the one case where torch would still decay its moments and nnbox leaves it alone).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..ops._util import xp_of
from .optimizer import Optimizer, _check_betas, _check_eps, _check_lr, _lr_of, _zeros_state

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Lazy Adam (``torch.optim.SparseAdam``): Adam's update, applied only to the rows whose gradient
    is nonzero; the moments of the other rows are left untouched (not decayed).

    >>> import nnbox
    >>> emb = nnbox.nn.Embedding(4, 2, sparse=True)
    >>> opt = nnbox.optim.SparseAdam(emb.parameters(), lr=0.1)
    >>> before = emb.weight.detach().clone()
    >>> emb(nnbox.tensor([1])).sum().backward(); opt.step()
    >>> (emb.weight - before).abs().sum(1) > 0   # only the looked-up row moved
    tensor([False,  True, False, False])
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def step(self, closure: Callable | None = None):
        """One lazy-Adam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = _lr_of(group)
            b1, b2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0  # an int, as torch's SparseAdam keeps it
                    state["exp_avg"] = _zeros_state(p)
                    state["exp_avg_sq"] = _zeros_state(p)
                state["step"] += 1
                _lazy_adam(p._data, p._grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                           step=state["step"], lr=lr, b1=b1, b2=b2, eps=group["eps"], maximize=group["maximize"])
                p._vc[0] += 1
        return loss


def _lazy_adam(p, g, m, v, *, step, lr, b1, b2, eps, maximize) -> None:
    xp = xp_of(p)
    if g.ndim == 0:
        rows = xp.asarray([True]) if bool(g != 0) else xp.asarray([False])
        p, g, m, v = p.reshape(1), g.reshape(1), m.reshape(1), v.reshape(1)
    else:
        rows = (g != 0).reshape(g.shape[0], -1).any(axis=1)
    idx = xp.flatnonzero(rows)
    if idx.size == 0:
        return
    gr = -g[idx] if maximize else g[idx]
    mr = m[idx] + (gr - m[idx]) * (1 - b1)
    vr = v[idx] + (gr * gr - v[idx]) * (1 - b2)
    m[idx], v[idx] = mr, vr
    step_size = lr * (1 - b2**step) ** 0.5 / (1 - b1**step)
    p[idx] -= step_size * (mr / (xp.sqrt(vr) + eps))
