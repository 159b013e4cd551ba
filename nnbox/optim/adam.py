"""``Adam``: adaptive moment estimation (and, with ``decoupled_weight_decay``, AdamW's rule)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .._tensor import Tensor
from ..ops._util import xp_of
from ._axpy import axpby, axpy
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_eps,
    _check_foreach_fused,
    _check_lr,
    _check_unsupported,
    _check_weight_decay,
    _decayed_grad,
    _lr_of,
    _new_step,
    _real,
    _ufunc_consts,
    _zeros_state,
)

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
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr, eps, wd = _lr_of(group), group["eps"], group["weight_decay"]
                b1, b2 = (float(b) for b in group["betas"])
                amsgrad = group["amsgrad"]
                decay = (group["maximize"], wd, group["decoupled_weight_decay"]) if wd or group["maximize"] else None
                consts: dict = {}  # (array type, dtype, step) -> the update's constants: one set per group in practice
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
                    v = state["exp_avg_sq"]._data
                    vmax = state["max_exp_avg_sq"]._data if amsgrad else v
                    arrays = [_real(a) for a in (p._data, p._grad._data, state["exp_avg"]._data, v, vmax)]
                    key = (type(arrays[0]), arrays[0].dtype, step)
                    k = consts.get(key)
                    if k is None:
                        k = consts[key] = _adam_consts(arrays[0], lr, b1, b2, eps, step, decay, amsgrad)
                    self._update(_adam, arrays, 3, k)
                    p._vc[0] += 1
        return loss


def _adam_consts(arr, lr, b1: float, b2: float, eps: float, step: float, decay, amsgrad: bool) -> tuple:
    """The constants of one step of ``_adam`` on arrays like ``arr`` (see ``_ufunc_consts``)."""
    w1 = 1 - b1  # m.lerp_(g, w1) with torch's two-sided formula: the small side scales by w1, else by b1
    small = w1 < 0.5
    if decay is not None:
        maximize, wd, decoupled = decay
        decay = (maximize, wd, decoupled, 1 - lr * wd)
    step_size, bc2_sqrt = lr / (1 - b1**step), (1 - b2**step) ** 0.5
    return (decay, small, amsgrad) + _ufunc_consts(arr, w1 if small else 1 - w1, b2, 1 - b2, bc2_sqrt, eps, -step_size)


def _adam(p, g, m, v, vmax, w, tmp, tmp2, k):
    """One Adam update in place (``w``, ``tmp``, ``tmp2``: scratch; ``k`` from ``_adam_consts``): the
    moments, then ``p -= step_size m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, in eleven passes: the
    lerp's multiply-add runs as BLAS's axpy (rounded once, as torch's), and ``v``'s scale-and-add as
    one axpby."""
    decay, small, amsgrad, c_lerp, b2, c2, bc2_sqrt, eps, neg_step = k
    xp = xp_of(p)
    if decay is not None:  # weight decay (L2 into the gradient, or AdamW's shrink of p) and maximize
        maximize, wd, decoupled, shrink = decay
        if wd and decoupled:
            g = _decayed_grad(g, p, maximize, 0, w)
            p *= shrink
        else:
            g = _decayed_grad(g, p, maximize, wd, w)
    xp.subtract(g, m, out=tmp)  # m = lerp(m, g, 1 - b1)
    if small:
        axpy(c_lerp, tmp, m, tmp2)
    else:
        m[...] = g
        axpy(-c_lerp, tmp, m, tmp2)
    xp.multiply(g, c2, out=tmp)  # v = b2 v + (1 - b2) g^2
    tmp *= g
    axpby(1, tmp, b2, v, tmp2)
    if amsgrad:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=tmp)
    tmp /= bc2_sqrt
    tmp += eps
    xp.multiply(m, neg_step, out=tmp2)
    tmp2 /= tmp
    p += tmp2
