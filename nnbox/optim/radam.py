"""``RAdam``: Adam with a rectified (variance-corrected) adaptive learning rate."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _adam_moments_,
    _check_betas,
    _check_eps,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (``torch.optim.RAdam``): while the variance estimate is unreliable
    (``rho_t <= 5``) it steps with the bias-corrected momentum alone; afterwards with Adam's
    adaptive rate times the rectification term ``r_t``.  ``decoupled_weight_decay`` gives RAdamW.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_eps(eps)
        _check_betas(betas)
        _check_weight_decay(weight_decay)
        _check_foreach_fused(foreach, None)
        _check_unsupported("RAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
            capturable=capturable, decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One RAdam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr = _lr_of(group)
                b1, b2 = (float(b) for b in group["betas"])
                rho_inf = 2 / (1 - b2) - 1
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        state["exp_avg"] = _zeros_state(p)
                        state["exp_avg_sq"] = _zeros_state(p)
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    bias_correction2 = 1 - b2**step
                    rho_t = rho_inf - 2 * step * (b2**step) / bias_correction2
                    rect = None
                    if rho_t > 5.0:  # the variance estimate is trustworthy: use the adaptive rate
                        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    arrays = [p._data, p._grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data]
                    self._update(
                        _radam, [_real(a) for a in arrays], 3, lr=lr, b1=b1, b2=b2, eps=group["eps"],
                        wd=group["weight_decay"], maximize=group["maximize"],
                        decoupled=group["decoupled_weight_decay"], bias_correction1=1 - b1**step,
                        sqrt_bc2=math.sqrt(bias_correction2), rect=rect,
                    )
                    p._vc[0] += 1
        return loss


def _radam(p, g, m, v, w, tmp, upd, *, lr, b1, b2, eps, wd, maximize, decoupled, bias_correction1, sqrt_bc2, rect):
    xp = xp_of(p)
    _adam_moments_(p, g, m, v, w, tmp, lr=lr, b1=b1, b2=b2, wd=wd, maximize=maximize, decoupled=decoupled)
    xp.divide(m, bias_correction1, out=upd)
    upd *= lr
    if rect is not None:
        xp.sqrt(v, out=tmp)
        tmp += eps
        xp.divide(sqrt_bc2, tmp, out=tmp)  # the adaptive lr
        upd *= tmp
        upd *= rect
    p -= upd
