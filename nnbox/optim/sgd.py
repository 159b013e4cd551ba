"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ._axpy import axpby, axpy, blas_runs
from .optimizer import (
    Optimizer,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _decayed_grad,
    _lr_of,
    _ufunc_consts,
    _zeros_state,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``), optionally with (Nesterov) momentum.

    With ``g = grad (+ weight_decay * p)``: ``b = momentum * b + (1 - dampening) * g`` (``b = g``
    on the first step), then ``p -= lr * (g + momentum * b if nesterov else b)``.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = nnbox.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.8000, 1.6000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        _check_weight_decay(weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_foreach_fused(foreach, fused, differentiable)
        _check_unsupported("SGD", differentiable=differentiable)
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr, wd, maximize = _lr_of(group), group["weight_decay"], group["maximize"]
                momentum, dampening, nesterov = group["momentum"], group["dampening"], group["nesterov"]
                consts: dict = {}  # (array type, dtype) -> the update's constants, and whether to slice
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    key = (type(p._data), p._data.dtype)
                    got = consts.get(key)
                    if got is None:
                        damp = None if dampening == 0 else 1 - dampening
                        k = ((maximize, wd) if wd or maximize else None, nesterov) + _ufunc_consts(
                            p._data, momentum, damp, -lr
                        )
                        got = consts[key] = k, not blas_runs(p._data)  # BLAS streams: no slices on one thread
                    k, cache_slices = got
                    if momentum == 0:
                        self._update(_sgd, [p._data, p._grad._data], 2, k, cache_slices=cache_slices)
                    else:
                        state = self.state[p]
                        first = "momentum_buffer" not in state or state["momentum_buffer"] is None
                        if first:
                            state["momentum_buffer"] = _zeros_state(p)
                        arrays = [p._data, p._grad._data, state["momentum_buffer"]._data]
                        self._update(_sgd_momentum, arrays, 2, first, k, cache_slices=cache_slices)
                    p._vc[0] += 1
        return loss


def _sgd(p, g, w, upd, k):
    decay, _, _, _, neg_lr = k
    if decay is not None:
        g = _decayed_grad(g, p, decay[0], decay[1], w)
    axpy(neg_lr, g, p, upd)  # p.add_(g, alpha=-lr)


def _sgd_momentum(p, g, buf, w, upd, first, k):
    decay, nesterov, momentum, damp, neg_lr = k
    if decay is not None:  # weight decay / maximize
        g = _decayed_grad(g, p, decay[0], decay[1], w)
    if first:
        buf[...] = g  # the buffer starts as a copy of the gradient
    elif damp is None:  # buf.mul_(momentum).add_(g)
        axpby(1, g, momentum, buf, upd)
    else:  # buf.mul_(momentum).add_(g, alpha=1 - dampening): that add rounds once
        buf *= momentum
        axpy(damp, g, buf, upd)
    if nesterov:  # g.add(buf, alpha=momentum)
        upd[...] = g
        axpy(momentum, buf, upd, w)
        g = upd
    else:
        g = buf
    axpy(neg_lr, g, p, upd)
