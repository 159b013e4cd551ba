"""Stochastic Weight Averaging and EMA (``torch.optim.swa_utils``).

``AveragedModel`` keeps a running average (SWA, or an EMA via ``get_ema_multi_avg_fn``) of a
model's parameters, ``SWALR`` anneals each group's lr to a constant ``swa_lr``, and ``update_bn``
recomputes BatchNorm statistics for the averaged weights.

>>> import nnbox
>>> from nnbox.optim.swa_utils import AveragedModel
>>> model = nnbox.nn.Linear(1, 1, bias=False)
>>> swa = AveragedModel(model)
>>> for value in (1.0, 2.0, 6.0):
...     with nnbox.no_grad():
...         _ = model.weight.fill_(value)
...     swa.update_parameters(model)
>>> swa.module.weight
Parameter containing:
tensor([[3.]], requires_grad=True)
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any

import numpy as np

from .._backend import dtype as _dt
from .._tensor import Tensor
from ..autograd import grad_mode
from ..nn.modules.module import Module
from .lr_scheduler import LRScheduler, _format_param
from .optimizer import Optimizer, _lerp_

__all__ = [
    "AveragedModel", "SWALR", "update_bn", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
]


def _lerp_tensors_(averaged: list[Tensor], current: list[Tensor], weight: float) -> None:
    for a, c in zip(averaged, current):
        tmp = a._data.copy()  # scratch of the right shape; averaging runs once per epoch or step
        _lerp_(a._data, c._data, weight, tmp)
        a._vc[0] += 1


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """In place over lists: ``ema = lerp(ema, current, 1 - decay)``."""
    def ema_update(ema_param_list: list, current_param_list: list, _num_averaged) -> None:
        _lerp_tensors_(ema_param_list, current_param_list, 1 - decay)

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """In place over lists: the running mean ``avg = lerp(avg, current, 1 / (n + 1))``."""
    def swa_update(averaged_param_list: list, current_param_list: list, num_averaged) -> None:
        weight = 1 / (int(num_averaged) + 1)
        if isinstance(num_averaged, Tensor):  # torch divides the tensor: the weight is rounded
            weight = float(np.asarray(weight, _dt.get_default_dtype().np))  # to the default dtype
        _lerp_tensors_(averaged_param_list, current_param_list, weight)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """Per tensor: returns ``decay * ema + (1 - decay) * current``."""
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """Per tensor: returns ``avg + (current - avg) / (n + 1)``."""
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are the average of the ``model`` states passed to
    ``update_parameters`` (equal weights by default; ``avg_fn``/``multi_avg_fn`` choose another
    rule).  ``n_averaged`` counts the updates; ``use_buffers`` averages buffers too.
    """

    def __init__(
        self,
        model,
        device=None,
        avg_fn: Callable | None = None,
        multi_avg_fn: Callable | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        from ..ops.creation import tensor

        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=_dt.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model) -> None:
        """Fold ``model``'s current parameters (and buffers with ``use_buffers``) into the average."""
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        with grad_mode.no_grad():
            mine = [p.detach() for p in mine]
            theirs = [p.detach().to(m.device) for p, m in zip(theirs, mine)]
            n = int(self.n_averaged._data)
            if n == 0:
                for p, q in zip(mine, theirs):
                    p.copy_(q)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn(mine, theirs, self.n_averaged)
            elif self.avg_fn is not None:
                for p, q in zip(mine, theirs):
                    p.copy_(self.avg_fn(p, q, self.n_averaged))
            else:  # the running mean: avg + (current - avg) / (n + 1)
                for p, q in zip(mine, theirs):
                    if p._data.dtype.kind in "fcV":
                        tmp = q._data - p._data
                        tmp /= n + 1
                        p._data += tmp
                    else:  # integer buffers: true division, truncated on the way back (as torch)
                        p._data[...] = p._data + (q._data - p._data) / (n + 1)
                    p._vc[0] += 1
            if not self.use_buffers:
                # buffers (BatchNorm statistics) follow the model; update_bn can recompute them
                for b, c in zip(self.module.buffers(), model.buffers()):
                    b.detach().copy_(c.detach().to(b.device))
            self.n_averaged._data += 1


def update_bn(loader: Iterable[Any], model, device=None) -> None:
    """Recompute every BatchNorm's running statistics with one pass over ``loader`` (a cumulative
    average: ``momentum=None`` during the pass), e.g. for an ``AveragedModel``."""
    from ..nn.modules.batchnorm import _BatchNorm

    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with grad_mode.no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` steps (cosine or linear), then
    hold it; used with ``AveragedModel`` in the SWA phase of training.

    >>> import nnbox
    >>> opt = nnbox.optim.SGD([nnbox.zeros(1, requires_grad=True)], lr=0.5)
    >>> s = SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="linear")
    >>> for _ in range(3):
    ...     opt.step(); s.step()
    >>> s.get_last_lr()
    [0.05]
    """

    def __init__(
        self, optimizer: Optimizer, swa_lr: float, anneal_epochs: int = 10, anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        for lr, group in zip(_format_param("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t: float) -> float:
        return t if self._anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        # the lr the annealing started from, recovered from the current one
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        self._warn_get_lr()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / span)))
        alpha = self._anneal(max(0, min(1, step / span)))
        groups = self.optimizer.param_groups
        starts = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, starts)]
