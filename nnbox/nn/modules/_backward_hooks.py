"""Full backward hooks of ``nn.Module``: ``register_full_backward_hook`` / ``_pre_hook``.

Two identity nodes bracket one module call: one on its tensor inputs, one on its tensor outputs.
In backward the output node sees the gradients w.r.t. the outputs first (pre-hooks run there and
may replace them); the input node then sees the gradients w.r.t. the inputs, and the hooks run
with both and may replace the input gradients.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from ..._tensor import Tensor
from ...autograd import grad_mode
from ...autograd.function import Function
from ...ops._util import xp_of

if TYPE_CHECKING:
    from .module import Module


class _BackwardHookFn(Function):
    """Identity on the tensors it is given; its backward hands their gradients to ``callback``.
    One wraps a module's inputs, one its outputs: between them lie exactly the module's grads."""

    _array_api = True
    # create_graph=True: the gradients arrive (and the hooks see them, and return them) as Tensors
    # with their graph, as in torch
    _twice = True

    @staticmethod
    def forward(ctx, callback, *arrays):
        ctx.callback = callback
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.callback(grads, ctx.needs_input_grad[1:]))


class _BackwardHookState:
    """Runs one module call's full backward (pre-)hooks, with torch's tuple layout:
    ``grad_input`` has one entry per positional argument (the gradient for a tensor that requires
    grad, zeros for one that does not, ``None`` for a non-tensor); ``grad_output`` one entry per
    output (``None`` for outputs without a gradient)."""

    def __init__(self, module: Module, hooks: list, pre_hooks: list):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_output = None
        self.inputs = ()  # per positional arg: None (no tensor) or (live, shape, dtype)
        self.outputs = ()  # per output: whether it carries a gradient
        self.inputs_need_grad = False

    @staticmethod
    def _bracket(values: list, callback) -> tuple[list, list]:
        """Route the tensors of ``values`` that require grad through one identity node."""
        on = grad_mode._enabled[0]
        live = [i for i, v in enumerate(values) if on and isinstance(v, Tensor) and v._rg]
        if live:
            wrapped = _BackwardHookFn.apply(callback, *(values[i] for i in live))
            values = list(values)
            for i, t in zip(live, wrapped):
                values[i] = t
        return values, live

    def wrap_inputs(self, args: tuple) -> tuple:
        new, live = self._bracket(list(args), self._on_input_grads) if self.hooks else (list(args), [])
        if not self.hooks:
            live = [i for i, a in enumerate(args) if grad_mode._enabled[0] and isinstance(a, Tensor) and a._rg]
        self.inputs_need_grad = bool(live)
        self.inputs = tuple(None if not isinstance(a, Tensor) else (i in live, a._data.shape, a._data.dtype)
                            for i, a in enumerate(args))
        return tuple(new)

    def wrap_outputs(self, result):
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        if type(outs) not in (tuple, list):
            return result
        new, live = self._bracket(list(outs), self._on_output_grads)
        self.outputs = tuple(i in live for i in range(len(outs)))
        self._live_out = live
        if single or not live:
            return new[0] if single else result
        return type(outs)(new)

    def _on_output_grads(self, grads: tuple, needs: tuple) -> tuple:
        by_pos = dict(zip(self._live_out, grads))
        grad_output = tuple(_wrap_grad(by_pos[i]) if live else None for i, live in enumerate(self.outputs))
        for hook in self.pre_hooks:
            res = hook(self.module, grad_output)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != len(grad_output):
                    raise RuntimeError(
                        f"Backward pre hook returned an invalid number of grad_output, got {len(res)}, but expected {len(grad_output)}"
                    )
                grad_output = res
        self.grad_output = grad_output
        if self.hooks and not self.inputs_need_grad:
            # nothing upstream will call back: fire the hooks now, with grad_input all None
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module outputs "
                "since no inputs require gradients. See https://docs.pytorch.org/docs/main/generated/"
                "torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more details.",
                stacklevel=2,
            )
            none = (None,) * len(self.inputs)
            for hook in self.hooks:
                hook(self.module, none, grad_output)
        return tuple(_unwrap_grad(grad_output[i], grads) for i in self._live_out)

    def _on_input_grads(self, grads: tuple, needs: tuple) -> tuple:
        it = iter(grads)
        grad_input = []
        for slot in self.inputs:
            if slot is None:
                grad_input.append(None)
            elif slot[0]:
                grad_input.append(_wrap_grad(next(it)))
            else:  # a tensor input without grad: torch reports zeros
                xp = xp_of(grads[0])
                grad_input.append(_wrap_grad(xp.zeros(slot[1], dtype=slot[2])))
        grad_input = tuple(grad_input)
        for hook in self.hooks:
            res = hook(self.module, grad_input, self.grad_output)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != len(grad_input):
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got {len(res)}, but expected {len(grad_input)}"
                    )
                grad_input = res
        return tuple(_unwrap_grad(grad_input[i], grads)
                     for i, slot in enumerate(self.inputs) if slot is not None and slot[0])


def _wrap_grad(g):
    return g if g is None or isinstance(g, Tensor) else Tensor._make(g)


def _unwrap_grad(g, incoming):
    """What the node returns: arrays at first order, Tensors (graph kept) in a create_graph backward."""
    if g is None:
        return None
    if any(isinstance(x, Tensor) for x in incoming):
        return g
    return g._data
