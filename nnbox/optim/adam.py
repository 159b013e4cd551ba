"""``Adam``: adaptive moment estimation (and, with ``decoupled_weight_decay``, AdamW's rule)."""
from __future__ import annotations

from typing import Callable, Iterable

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_eps,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _grad_with_decay,
    _lerp_,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)
from .._tensor import Tensor

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``): ``m = lerp(m, g, 1-b1)``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)``; ``amsgrad`` uses ``max(v)``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2), or with
    ``decoupled_weight_decay=True`` shrinks ``p *= 1 - lr * weight_decay`` first (AdamW).

    >>> import nnbox
    >>> w = nnbox.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = nnbox.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([ 0.9000, -0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_lr(lr)
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        _check_eps(eps)
        _check_betas(betas)
        _check_weight_decay(weight_decay)
        _check_foreach_fused(foreach, fused, differentiable)
        _check_unsupported(type(self).__name__, capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
            foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Adam update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, eps, wd = _lr_of(group), group["eps"], group["weight_decay"]
            b1, b2 = (float(b) for b in group["betas"])
            amsgrad, maximize, decoupled = group["amsgrad"], group["maximize"], group["decoupled_weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = _new_step()
                    state["exp_avg"] = _zeros_state(p)
                    state["exp_avg_sq"] = _zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = _zeros_state(p)
                state["step"]._data += 1
                step = float(state["step"]._data)
                g = _grad_with_decay(self, p, maximize, 0 if decoupled else wd)
                if wd and decoupled:
                    p._data *= 1 - lr * wd
                P, G = _real(p._data), _real(g)
                m, v = _real(state["exp_avg"]._data), _real(state["exp_avg_sq"]._data)
                xp = xp_of(G)
                tmp, tmp2 = self._scratch_like(G, 1), self._scratch_like(G, 2)
                _lerp_(m, G, 1 - b1, tmp)
                v *= b2
                xp.multiply(G, 1 - b2, out=tmp)
                tmp *= G
                v += tmp
                step_size = lr / (1 - b1**step)
                bc2_sqrt = (1 - b2**step) ** 0.5
                if amsgrad:
                    vmax = _real(state["max_exp_avg_sq"]._data)
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                xp.sqrt(v, out=tmp)
                tmp /= bc2_sqrt
                tmp += eps
                xp.multiply(m, -step_size, out=tmp2)
                tmp2 /= tmp
                P += tmp2
                p._vc[0] += 1
        return loss
