"""``Adamax``: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_eps,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _decayed_grad,
    _lerp_,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``): ``m = lerp(m, g, 1-b1)``, ``u = max(b2 u, |g| + eps)``,
    ``p -= lr / (1 - b1^t) * m / u``.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_weight_decay(weight_decay)
        _check_foreach_fused(foreach, None)
        _check_unsupported("Adamax", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Adamax update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr = _lr_of(group)
                b1, b2 = (float(b) for b in group["betas"])
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        state["exp_avg"] = _zeros_state(p)
                        state["exp_inf"] = _zeros_state(p)
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    arrays = [p._data, p._grad._data, state["exp_avg"]._data, state["exp_inf"]._data]
                    self._update(
                        _adamax, [_real(a) for a in arrays], 2, b1=b1, b2=b2, eps=group["eps"],
                        clr=lr / (1 - b1**step), wd=group["weight_decay"], maximize=group["maximize"],
                    )
                    p._vc[0] += 1
        return loss


def _adamax(p, g, m, u, w, tmp, *, b1, b2, eps, clr, wd, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, wd, w)
    _lerp_(m, g, 1 - b1, tmp)
    u *= b2
    xp.abs(g, out=tmp)
    tmp += eps
    xp.maximum(u, tmp, out=u)
    xp.multiply(m, -clr, out=tmp)
    tmp /= u
    p += tmp
