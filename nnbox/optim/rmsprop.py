"""``RMSprop``: divide the gradient by a running RMS of recent gradients (optionally centered)."""
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
    _lerp_,
    _lr_of,
    _new_step,
    _real,
    _zeros_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``): ``s = alpha s + (1-alpha) g^2``, ``avg = sqrt(s) + eps``
    (``centered``: ``sqrt(s - gbar^2) + eps`` with ``gbar = lerp(gbar, g, 1-alpha)``), then
    ``p -= lr * g / avg`` or, with momentum, ``b = momentum b + g / avg; p -= lr * b``.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_eps(eps)
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        _check_weight_decay(weight_decay)
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_foreach_fused(foreach, None)
        _check_unsupported("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
            capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One RMSprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                momentum, centered = group["momentum"], group["centered"]
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        state["square_avg"] = _zeros_state(p)
                        if momentum > 0:
                            state["momentum_buffer"] = _zeros_state(p)
                        if centered:
                            state["grad_avg"] = _zeros_state(p)
                    state["step"]._data += 1
                    sq = state["square_avg"]._data
                    # absent buffers are stood in for by square_avg; the flags keep them unused
                    buf = state["momentum_buffer"]._data if momentum > 0 else sq
                    ga = state["grad_avg"]._data if centered else sq
                    arrays = [p._data, p._grad._data, sq, ga, buf]
                    self._update(
                        _rmsprop, [_real(a) for a in arrays], 3, lr=_lr_of(group), alpha=group["alpha"],
                        eps=group["eps"], momentum=momentum, centered=centered, wd=group["weight_decay"],
                        maximize=group["maximize"],
                    )
                    p._vc[0] += 1
        return loss


def _rmsprop(p, g, sq, ga, buf, w, avg, tmp, *, lr, alpha, eps, momentum, centered, wd, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, wd, w)
    sq *= alpha
    xp.multiply(g, 1 - alpha, out=tmp)
    tmp *= g
    sq += tmp
    if centered:
        _lerp_(ga, g, 1 - alpha, tmp)
        xp.multiply(ga, -1, out=avg)
        avg *= ga
        avg += sq
        xp.sqrt(avg, out=avg)
    else:
        xp.sqrt(sq, out=avg)
    avg += eps
    if momentum > 0:
        buf *= momentum
        xp.divide(g, avg, out=tmp)
        buf += tmp
        xp.multiply(buf, -lr, out=tmp)
    else:
        xp.multiply(g, -lr, out=tmp)
        tmp /= avg
    p += tmp
