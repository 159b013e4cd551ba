"""``NAdam``: Adam with Nesterov momentum and a momentum-decay schedule."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .._tensor import Tensor
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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``).  With ``mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay))``
    and ``P_t = prod mu_i`` (kept in state as ``mu_product``):
    ``p -= lr (1-mu_t)/(1-P_t) g / d + lr mu_{t+1}/(1-P_t mu_{t+1}) m / d`` where
    ``d = sqrt(v / (1-b2^t)) + eps``.  ``decoupled_weight_decay`` gives NAdamW.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.8944], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_foreach_fused(foreach, None)
        _check_unsupported("NAdam", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One NAdam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr, mdecay = _lr_of(group), group["momentum_decay"]
                b1, b2 = (float(b) for b in group["betas"])
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        # the running product of mu, a 0-d tensor of the step's dtype (rounded as torch)
                        state["mu_product"] = Tensor._make(np.ones((), state["step"]._data.dtype))
                        state["exp_avg"] = _zeros_state(p)
                        state["exp_avg_sq"] = _zeros_state(p)
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    mu = b1 * (1.0 - 0.5 * (0.96 ** (step * mdecay)))
                    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * mdecay)))
                    mu_prod = state["mu_product"]._data
                    mu_prod *= mu
                    mu_product = float(mu_prod)
                    arrays = [p._data, p._grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data]
                    self._update(
                        _nadam, [_real(a) for a in arrays], 3, lr=lr, b1=b1, b2=b2, eps=group["eps"],
                        wd=group["weight_decay"], maximize=group["maximize"],
                        decoupled=group["decoupled_weight_decay"], bias_correction2=1 - b2**step,
                        g_scale=-lr * (1.0 - mu) / (1.0 - mu_product),
                        m_scale=(-lr * mu_next) / (1.0 - mu_product * mu_next),
                    )
                    p._vc[0] += 1
        return loss


def _nadam(p, g, m, v, w, tmp, denom, *, lr, b1, b2, eps, wd, maximize, decoupled, bias_correction2, g_scale, m_scale):
    xp = xp_of(p)
    g = _adam_moments_(p, g, m, v, w, tmp, lr=lr, b1=b1, b2=b2, wd=wd, maximize=maximize, decoupled=decoupled)
    xp.divide(v, bias_correction2, out=denom)
    xp.sqrt(denom, out=denom)
    denom += eps
    xp.multiply(g, g_scale, out=tmp)
    tmp /= denom
    p += tmp
    xp.multiply(m, m_scale, out=tmp)
    tmp /= denom
    p += tmp
