"""``Rprop``: resilient backpropagation, per-coordinate step sizes driven by gradient signs."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .._tensor import Tensor
from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _decayed_grad,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop (``torch.optim.Rprop``): where the gradient kept its sign the coordinate's step size
    grows by ``etas[1]``, where it flipped it shrinks by ``etas[0]`` (and that step is skipped);
    step sizes stay within ``step_sizes``; ``p -= sign(g) * step_size``.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = nnbox.optim.Rprop([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9000, -0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_foreach_fused(foreach, None)
        _check_unsupported("Rprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Rprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                etaminus, etaplus = group["etas"]
                lo, hi = group["step_sizes"]
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        state["prev"] = _zeros_state(p)
                        xp = xp_of(p._data)
                        state["step_size"] = Tensor._make(xp.full_like(p._grad._data, float(_lr_of(group))))
                    state["step"]._data += 1
                    arrays = [p._data, p._grad._data, state["prev"]._data, state["step_size"]._data]
                    self._update(
                        _rprop, [_real(a) for a in arrays], 3, etaminus=etaminus, etaplus=etaplus, lo=lo, hi=hi,
                        maximize=group["maximize"],
                    )
                    p._vc[0] += 1
        return loss


def _rprop(p, g, prev, step_size, w, g2, fac, *, etaminus, etaplus, lo, hi, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, 0, w)
    xp.multiply(g, prev, out=g2)
    fac.fill(1)
    fac[g2 > 0] = etaplus
    fac[g2 < 0] = etaminus
    step_size *= fac
    xp.clip(step_size, lo, hi, out=step_size)
    g2[...] = g
    g2[fac == etaminus] = 0  # after a sign flip: no step, and no sign memory
    xp.sign(g2, out=fac)
    fac *= step_size
    p -= fac
    prev[...] = g2
