"""``Adadelta``: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    _check_eps,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _decayed_grad,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``): ``s = rho s + (1-rho) g^2``,
    ``d = sqrt(u + eps) / sqrt(s + eps) * g``, ``u = rho u + (1-rho) d^2``, ``p -= lr * d``.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.Adadelta([w])
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.9968], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_eps(eps)
        _check_weight_decay(weight_decay)
        _check_foreach_fused(foreach, None)
        _check_unsupported("Adadelta", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
            foreach=foreach, differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Adadelta update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        state["square_avg"] = _zeros_state(p)
                        state["acc_delta"] = _zeros_state(p)
                    state["step"]._data += 1
                    arrays = [p._data, p._grad._data, state["square_avg"]._data, state["acc_delta"]._data]
                    self._update(
                        _adadelta, [_real(a) for a in arrays], 3, lr=_lr_of(group), rho=group["rho"],
                        eps=group["eps"], wd=group["weight_decay"], maximize=group["maximize"],
                    )
                    p._vc[0] += 1
        return loss


def _adadelta(p, g, sq, acc, w, tmp, delta, *, lr, rho, eps, wd, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, wd, w)
    sq *= rho
    xp.multiply(g, 1 - rho, out=tmp)
    tmp *= g
    sq += tmp
    xp.add(sq, eps, out=tmp)
    xp.sqrt(tmp, out=tmp)  # std
    xp.add(acc, eps, out=delta)
    xp.sqrt(delta, out=delta)
    delta /= tmp
    delta *= g
    acc *= rho
    xp.multiply(delta, 1 - rho, out=tmp)
    tmp *= delta
    acc += tmp
    xp.multiply(delta, -lr, out=tmp)
    p += tmp
