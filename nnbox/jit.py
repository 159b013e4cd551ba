"""``torch.jit``: TorchScript decorators, accepted and run eagerly; no TorchScript files.

``script`` and ``trace`` return the module or function itself (``trace`` first runs it once on
``example_inputs``, so a model that fails there fails here too); ``ignore``, ``unused`` and
``export`` leave functions as they are. nnbox has no TorchScript format: ``save`` and ``load``
raise and point to ``nnbox.save`` (weights in torch's format) and ``nnbox.onnx.export``.

>>> import nnbox as torch
>>> @torch.jit.script
... def double(x):
...     return 2 * x
>>> double(torch.ones(2))
tensor([2., 2.])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

_NO_TORCHSCRIPT = (
    "nnbox has no TorchScript format: save the weights with nnbox.save(model.state_dict(), f) "
    "(torch.load reads that file) or export the model with nnbox.onnx.export(model, args, f)"
)


def script(obj: Any, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None) -> Any:
    """Return ``obj`` (a module or function) unchanged: nnbox runs it eagerly."""
    if not callable(obj):
        raise RuntimeError(f"nnbox.jit.script expects a module or a function, got {type(obj).__name__}")
    return obj


def trace(func: Callable, example_inputs=None, optimize=None, check_trace: bool = True, check_inputs=None,
          check_tolerance: float = 1e-5, strict: bool = True, example_kwarg_inputs=None, **kwargs) -> Callable:
    """Run ``func`` once on ``example_inputs`` (a tensor or a tuple of them) and return it.

    >>> import nnbox as torch
    >>> m = torch.nn.Linear(2, 2)
    >>> torch.jit.trace(m, torch.ones(1, 2)) is m
    True
    """
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("example_kwarg_inputs or example_inputs must be provided to trace")
    from .autograd.grad_mode import no_grad

    with no_grad():
        if example_kwarg_inputs is not None:
            func(**example_kwarg_inputs)
        else:
            func(*(example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)))
    return func


def trace_module(mod, inputs: dict, **kwargs):
    """Trace named methods: run each once on its inputs and return ``mod``."""
    for name, args in inputs.items():
        trace(getattr(mod, name), args)
    return mod


def ignore(drop=False, **kwargs):
    """``@torch.jit.ignore`` / ``@torch.jit.ignore(drop=True)``: the function is left as it is.

    >>> import nnbox as torch
    >>> @torch.jit.ignore(drop=True)
    ... def debug_print(x):
    ...     return x
    >>> debug_print(3)
    3
    """
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: Callable) -> Callable:
    """``@torch.jit.unused``: the function is left as it is."""
    return fn


def export(fn: Callable) -> Callable:
    """``@torch.jit.export``: the method is left as it is."""
    return fn


def is_scripting() -> bool:
    """False: nnbox code always runs in Python."""
    return False


def is_tracing() -> bool:
    """False: ``trace`` runs the function eagerly, it records nothing."""
    return False


def save(m, f, _extra_files=None) -> None:
    """Raises: there is no TorchScript file to write (see the module docstring)."""
    raise NotImplementedError(f"nnbox.jit.save: {_NO_TORCHSCRIPT}")


def load(f, map_location=None, _extra_files=None):
    """Raises: nnbox cannot read TorchScript archives (see the module docstring)."""
    raise NotImplementedError(f"nnbox.jit.load: {_NO_TORCHSCRIPT}")


class Final:
    """``torch.jit.Final[T]`` annotations: ``Final[int]`` is ``int``."""

    def __class_getitem__(cls, item):
        return item


def __getattr__(name: str):
    # scripted modules are plain Modules, so isinstance checks against these names keep working
    if name in ("ScriptModule", "RecursiveScriptModule", "TracedModule"):
        from .nn.modules.module import Module

        return Module
    raise AttributeError(f"module 'nnbox.jit' has no attribute '{name}'")

