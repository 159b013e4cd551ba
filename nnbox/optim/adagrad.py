"""``Adagrad``: per-coordinate learning rates from the running sum of squared gradients."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .._tensor import Tensor
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
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``): ``sum += g^2``,
    ``p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(sum) + eps)``.

    As in torch, state (``step``, ``sum`` filled with ``initial_accumulator_value``) is created
    for the constructor's parameters at once.

    >>> import nnbox
    >>> w = nnbox.tensor([1.0], requires_grad=True)
    >>> opt = nnbox.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step()
    >>> w
    tensor([0.5000], requires_grad=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        _check_weight_decay(weight_decay)
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check_eps(eps)
        _check_foreach_fused(foreach, fused, differentiable)
        _check_unsupported("Adagrad", differentiable=differentiable)
        defaults = dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
            differentiable=differentiable, fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = _new_step()
            xp = xp_of(p._data)
            state["sum"] = Tensor._make(xp.full_like(p._data, group["initial_accumulator_value"]))
        return state

    def share_memory(self) -> None:
        """No-op for NumPy/CuPy arrays (torch moves ``sum`` to shared memory for worker processes)."""

    def step(self, closure: Callable | None = None):
        """One Adagrad update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        with self._sliced_step():  # large parameters' slices go to the threads together
            for group in self.param_groups:
                lr, lr_decay = _lr_of(group), group["lr_decay"]
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self._init_state(p, group)
                    state["step"]._data += 1
                    step = float(state["step"]._data)
                    arrays = [p._data, p._grad._data, state["sum"]._data]
                    self._update(
                        _adagrad, [_real(a) for a in arrays], 3, clr=lr / (1 + (step - 1) * lr_decay),
                        eps=group["eps"], wd=group["weight_decay"], maximize=group["maximize"],
                    )
                    p._vc[0] += 1
        return loss


def _adagrad(p, g, acc, w, tmp, std, *, clr, eps, wd, maximize):
    xp = xp_of(p)
    g = _decayed_grad(g, p, maximize, wd, w)
    xp.multiply(g, g, out=tmp)
    acc += tmp
    xp.sqrt(acc, out=std)
    std += eps
    xp.multiply(g, -clr, out=tmp)
    tmp /= std
    p += tmp
