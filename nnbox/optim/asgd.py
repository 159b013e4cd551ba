"""``ASGD``: averaged stochastic gradient descent (Polyak-Ruppert averaging in ``ax``)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .._tensor import Tensor
from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
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

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """ASGD (``torch.optim.ASGD``): ``p = p (1 - lambd eta) - eta g`` with
    ``eta_t = lr / (1 + lambd lr t)^alpha``; the average ``ax`` starts moving at step ``t0``
    (``mu_t = 1 / max(1, t - t0)``).  ``eta`` and ``mu`` are 0-d tensors in state, as in torch.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.ASGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_weight_decay(weight_decay)
        _check_foreach_fused(foreach, None)
        _check_unsupported("ASGD", capturable=capturable, differentiable=differentiable)
        defaults = dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One ASGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr, lambd, alpha, t0 = float(_lr_of(group)), group["lambd"], group["alpha"], group["t0"]
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = _new_step()
                        dt = state["step"]._data.dtype
                        state["eta"] = Tensor._make(np.asarray(lr, dt))
                        state["mu"] = Tensor._make(np.ones((), dt))
                        state["ax"] = _zeros_state(p)
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    eta, mu = state["eta"]._data, state["mu"]._data
                    arrays = [p._data, p._grad._data, state["ax"]._data]
                    self._update(
                        _asgd, [_real(a) for a in arrays], 2, eta=float(eta),
                        mu=np.asarray(float(mu), mu.dtype)[()], lambd=lambd,
                        wd=group["weight_decay"], maximize=group["maximize"],
                    )
                    # torch makes these Python numbers 0-d tensors of the scalar dtype before storing
                    # them, so they are rounded to it even when a loaded eta/mu is float64
                    sdt = state["step"]._data.dtype
                    eta[...] = float(np.asarray(lr / ((1 + lambd * lr * step) ** alpha), sdt))
                    mu[...] = float(np.asarray(1 / max(1, step - t0), sdt))
                    p._vc[0] += 1
        return loss


def _asgd(p, g, ax, w, tmp, *, eta, mu, lambd, wd, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, wd, w)
    p *= 1 - lambd * eta
    xp.multiply(g, -eta, out=tmp)
    p += tmp
    if mu != 1:
        xp.subtract(p, ax, out=tmp)
        tmp *= mu
        ax += tmp
    else:
        ax[...] = p
