"""``Adafactor``: Adam-like steps with a factored (row x column) second-moment estimate."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .._tensor import Tensor
from ..ops._util import xp_of
from .optimizer import Optimizer, _check_foreach_fused, _decayed_grad, _lerp_, _lr_of, _new_step, _zeros_state

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (``torch.optim.Adafactor``).  For a matrix gradient only per-row and per-column
    mean squares are kept (``row_var``, ``col_var``); their outer product over the row mean
    estimates the second moment.  The relative step ``rho_t = min(lr, 1/sqrt(t))`` is scaled by
    the parameter's RMS (at least ``eps[1]``); updates are clipped to RMS ``d``; ``beta2_t =
    1 - t**beta2_decay``.  ``lr`` also scales the decoupled weight decay.

    >>> import nnbox
    >>> w = nnbox.tensor([[3.0, 4.0]], requires_grad=True)
    >>> opt = nnbox.optim.Adafactor([w])
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([[2.9646, 3.9646]], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        _check_foreach_fused(foreach, None)
        defaults = dict(
            lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """One Adafactor update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = float(_lr_of(group))
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                if p._data.dtype.kind == "c":
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self.state[p]
                xp = xp_of(p._data)
                if not state:
                    state["step"] = _new_step()
                    if p._data.ndim > 1:
                        shape = p._data.shape
                        state["row_var"] = Tensor._make(xp.zeros(shape[:-1] + (1,), p._data.dtype))
                        state["col_var"] = Tensor._make(xp.zeros(shape[:-2] + (1,) + shape[-1:], p._data.dtype))
                    else:
                        state["variance"] = _zeros_state(p)
                state["step"]._data += 1
                step = float(state["step"]._data)
                e1 = float(np.finfo(p._data.dtype).eps) if eps1 is None else eps1
                self._adafactor(
                    p, state, lr=lr, eps1=e1, eps2=eps2, d=group["d"], wd=group["weight_decay"],
                    maximize=group["maximize"], beta_t=step ** group["beta2_decay"],
                    rho_t=min(lr, 1 / (step**0.5)),
                )
                p._vc[0] += 1
        return loss

    def _adafactor(self, p: Tensor, state: dict, *, lr, eps1, eps2, d, wd, maximize, beta_t, rho_t) -> None:
        P = p._data
        xp = xp_of(P)
        (w,) = self._scratch_like(P, 1)
        g = _decayed_grad(p._grad._data, P, maximize, 0, w)
        n = P.size
        alpha = max(eps2, float(xp.sqrt((P * P).sum())) / (n**0.5)) * rho_t
        if wd:
            P *= 1 - lr * wd
        if g.ndim > 1:
            row, col = state["row_var"]._data, state["col_var"]._data
            # mean squares along each row / column (the factored second moment)
            _lerp_(row, (g * g).sum(axis=-1, keepdims=True) / g.shape[-1], beta_t, xp.empty_like(row))
            _lerp_(col, (g * g).sum(axis=-2, keepdims=True) / g.shape[-2], beta_t, xp.empty_like(col))
            var = row @ col
            var /= xp.maximum(row.mean(axis=-2, keepdims=True), eps1)
        else:
            v = state["variance"]._data
            _lerp_(v, g * g, beta_t, xp.empty_like(v))
            var = v.copy()
        xp.maximum(var, eps1 * eps1, out=var)
        xp.sqrt(var, out=var)
        xp.divide(1.0, var, out=var)
        var *= g  # the update
        denom = max(1.0, float(xp.sqrt((var * var).sum())) / ((n**0.5) * d))
        var *= -alpha / denom
        P += var
