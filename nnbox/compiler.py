"""``torch.compile`` and ``torch.compiler``: accepted, and run eagerly.

nnbox has no graph compiler. ``nnbox.compile(model)`` returns what ``torch.compile(model,
backend="eager")`` returns: for a module an ``OptimizedModule`` that wraps it (so state_dict keys
gain torch's ``_orig_mod.`` prefix and checkpoints map one-to-one), for a function a wrapper
that calls it. Results are exactly those of the uncompiled model; there is no speed-up.

>>> import nnbox as torch
>>> model = torch.nn.Linear(2, 1)
>>> fast = torch.compile(model)
>>> x = torch.ones(3, 2)
>>> bool((fast(x) == model(x)).all()), list(fast.state_dict())
(True, ['_orig_mod.weight', '_orig_mod.bias'])
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# torch's registered backends; every one of them runs nnbox eagerly
_BACKENDS = ("inductor", "eager", "aot_eager", "aot_eager_decomp_partition", "cudagraphs", "onnxrt",
             "openxla", "tvm")


class InvalidBackend(RuntimeError):
    """torch._dynamo's error for a backend name it does not know."""

    def __init__(self, name: str):
        super().__init__(f"Invalid backend: {name!r}, see `torch._dynamo.list_backends()` for available backends.")


def _module_class():
    from .nn.modules.module import Module

    return Module


def _optimized_module_class():
    # defined on first use (nnbox.nn loads lazily), then kept: one class for isinstance checks
    cls = globals().get("OptimizedModule")
    if cls is not None:
        return cls
    Module = _module_class()

    class OptimizedModule(Module):
        """A compiled module: forwards to ``_orig_mod`` and shows its attributes through."""

        def __init__(self, mod):
            super().__init__()
            self._orig_mod = mod

        def forward(self, *args, **kwargs):
            return self._orig_mod(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self._modules["_orig_mod"], name)

    globals()["OptimizedModule"] = OptimizedModule
    return OptimizedModule


def __getattr__(name: str):
    if name == "OptimizedModule":
        return _optimized_module_class()
    raise AttributeError(f"module 'nnbox.compiler' has no attribute '{name}'")


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: str | Callable | None = "inductor", mode: str | None = None,
            options: dict | None = None, disable: bool = False, **kwargs) -> Callable:
    """Accept ``torch.compile``'s call and return a callable that runs ``model`` eagerly.

    Arguments are checked as torch checks them (an unknown ``mode`` or ``backend`` raises);
    ``disable=True`` returns ``model`` itself, as torch does. A custom backend function (which
    would receive an FX graph nnbox does not build) raises ``NotImplementedError``. Used bare
    or as ``@nnbox.compile(...)``.

    >>> import nnbox as torch
    >>> @torch.compile(mode="max-autotune")
    ... def f(x):
    ...     return x.sin() + 1
    >>> f(torch.zeros(2))
    tensor([1., 1.])
    """
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if backend is None:
        backend = "inductor"
    if isinstance(backend, str):
        if backend not in _BACKENDS:
            raise InvalidBackend(backend)
    elif callable(backend):
        raise NotImplementedError(
            "nnbox.compile: a custom backend function needs an FX graph, which nnbox does not build; "
            "use a backend name (every backend runs nnbox eagerly)"
        )
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable, **kwargs)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    if isinstance(model, _module_class()):
        return _optimized_module_class()(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return model(*args, **kw)

    return compiled


def is_compiling() -> bool:
    """False: nnbox never traces a program, so code never runs "inside" a compile."""
    return False


is_dynamo_compiling = is_compiling


def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None):
    """Mark ``fn`` to run eagerly: it already does in nnbox; returns ``fn`` (or a decorator).

    >>> import nnbox as torch
    >>> f = lambda x: x + 1
    >>> torch.compiler.disable(f) is f, torch.compiler.is_compiling()
    (True, False)
    """
    return fn if fn is not None else (lambda f: f)


def reset() -> None:
    """Clear compile caches: nnbox keeps none."""


def list_backends(exclude_tags=("debug", "experimental")) -> list:
    """The backend names ``compile`` accepts under torch's default filter."""
    return ["cudagraphs", "inductor", "openxla", "tvm"]
