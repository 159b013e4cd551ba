"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function``, grad modes."""
from __future__ import annotations

from .._backend.device import array_module as _xp
from . import engine as _engine
from . import function as _function
from .anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .function import Function, FunctionCtx
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)


def _as_list(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _root_grads(outputs, grad_outputs, fn_name: str, create_graph: bool = False):
    """The gradients the walk starts from: arrays, or Tensors for ``create_graph`` (a Tensor given by
    the caller is kept as it is, so a gradient that itself requires grad stays in the graph)."""
    Tensor = _function.Tensor
    grads = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn_name}: expected Tensor as element {i}, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            xp = _xp(t._data)
            grads.append(xp.ones(t._data.shape, dtype=t._data.dtype))
        else:
            ga = g._data if isinstance(g, Tensor) else _xp(t._data).asarray(g, dtype=t._data.dtype)
            if ga.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {_sz(ga.shape)} and output[{i}] "
                    f"has a shape of {_sz(t._data.shape)}."
                )
            if isinstance(g, Tensor) and g.device != t.device:
                raise RuntimeError(f"invalid gradient at index {i} - expected device {t.device} but got {g.device}")
            if create_graph and isinstance(g, Tensor):
                grads.append(g)
                continue
            grads.append(ga)
    if create_graph:
        grads = [g if isinstance(g, Tensor) else Tensor._make(g) for g in grads]
    return grads


def _sz(shape):
    return "torch.Size([" + ", ".join(map(str, shape)) + "])"


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Sum d(tensors)/d(leaf) into each leaf's ``.grad`` (see ``Tensor.backward``).

    >>> import nnbox
    >>> x = nnbox.tensor(3.0, requires_grad=True)
    >>> nnbox.autograd.backward(x * x); x.grad
    tensor(6.)
    """
    T = _function.Tensor
    tensors = [tensors] if isinstance(tensors, T) else _as_list(tensors)  # (one Tensor: the hot path)
    if grad_tensors is None:
        grads = [None] * len(tensors)
    elif isinstance(grad_tensors, T):
        grads = [grad_tensors]
    else:
        grads = _as_list(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} tensors and {len(tensors)} gradients")
    if inputs is not None:
        inputs = _as_list(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _root_grads(tensors, grads, "backward", create_graph)
    captured = _engine.run_backward(tensors, root_grads, bool(retain_graph), inputs=inputs, accumulate=True,
                                    create_graph=create_graph)
    if inputs is not None:  # non-leaf tensors named in ``inputs`` get their .grad too, as in torch
        Tensor = _function.Tensor
        for t, g in zip(inputs, captured):
            if t.grad_fn is not None and g is not None:
                if create_graph:
                    t._grad = g if t._grad is None else t._grad + g
                else:
                    t._grad = Tensor._make(g.copy()) if t._grad is None else Tensor._make(t._grad._data + g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False, materialize_grads: bool = False):
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    >>> import nnbox
    >>> x = nnbox.tensor([1.0, 2.0], requires_grad=True)
    >>> nnbox.autograd.grad((x ** 2).sum(), x)
    (tensor([2., 4.]),)
    """
    Tensor = _function.Tensor
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True is not supported by nnbox")
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for t in inputs:
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _root_grads(outputs, grads, "grad", create_graph)
    captured = _engine.run_backward(outputs, root_grads, bool(retain_graph), inputs=inputs, accumulate=False,
                                    create_graph=create_graph)
    res = []
    for t, g in zip(inputs, captured):
        if g is None:
            if materialize_grads:
                res.append(Tensor._make(_xp(t._data).zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            res.append(None)
        else:
            res.append(g if create_graph else Tensor._make(g))
    return tuple(res)


def __getattr__(name):
    if name in ("gradcheck", "gradgradcheck", "GradcheckError"):
        # the module is ``_gradcheck``: a submodule named ``gradcheck`` would shadow the function
        from . import _gradcheck

        return getattr(_gradcheck, name)
    if name == "functional":
        import importlib

        return importlib.import_module(".functional", __name__)
    raise AttributeError(f"module 'nnbox.autograd' has no attribute '{name}'")


__all__ = [
    "Function", "FunctionCtx", "backward", "grad", "gradcheck", "gradgradcheck", "no_grad", "enable_grad",
    "set_grad_enabled", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled",
    "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
]
