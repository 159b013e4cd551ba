"""``torch.autocast``: run matmuls and convolutions in low precision, losses and reductions in float32.

The casts themselves happen where ops are dispatched (``nnbox/ops/_lowp.py``, lists in
``nnbox/ops/_policy.py``); this module holds the context manager / decorator and torch's
``is_autocast_enabled`` family of switches.
"""
from __future__ import annotations

import functools
import warnings

from .._backend import autocast_state as _ac
from .._backend import dtype as _dt

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
                 "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


def _check_device_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: "
                           f"{device_type}")
    if device_type not in _ac.STATE:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return device_type


def is_autocast_available(device_type: str) -> bool:
    """Can ``autocast`` run on ``device_type``? (``cpu`` and ``cuda`` in nnbox.)

    >>> import nnbox
    >>> nnbox.amp.is_autocast_available("cpu")
    True
    """
    return device_type in _ac.STATE


class autocast:
    """Run the ops in this region in mixed precision, as ``torch.autocast``.

    Matmul, linear and convolutions run in ``dtype`` (CPU default bfloat16, CUDA default float16);
    losses, ``prod`` and a few other ops in float32; the rest in their inputs' dtype.  Use it as a
    context manager or as a decorator; ``enabled=False`` turns it off inside an outer region.

    >>> import nnbox
    >>> w = nnbox.ones(2, 2, requires_grad=True)
    >>> with nnbox.autocast("cpu"):
    ...     y = nnbox.ones(2, 2) @ w
    >>> y.dtype
    torch.bfloat16
    >>> y.float().sum().backward(); w.grad.dtype
    torch.float32
    """

    def __init__(self, device_type: str, dtype: _dt.dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        self.device = _check_device_type(device_type)
        state = _ac.STATE[self.device]
        self.fast_dtype = state.dtype if dtype is None else dtype
        self._cache_enabled = state.cache_enabled if cache_enabled is None else bool(cache_enabled)
        self._enabled = bool(enabled)
        if self._enabled and self.device == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
                self._enabled = False
            elif self.fast_dtype is _dt.bfloat16 and not cuda.is_bf16_supported():
                raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to float16.")
        if self._enabled and self.device == "cpu" and self.fast_dtype not in (_dt.bfloat16, _dt.float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.", stacklevel=2)
            self._enabled = False
        if self._enabled and self.fast_dtype is _dt.bfloat16:
            _dt.load_bfloat16()  # a clear error now if ml_dtypes is missing
        if self.device == "cuda" and self._enabled and self.fast_dtype not in (_dt.bfloat16, _dt.float16):
            raise RuntimeError("In CUDA autocast, but the target dtype is not supported. Disabling autocast.\n"
                               "CUDA Autocast only supports dtypes of torch.float16, torch.bfloat16 currently.")

    def __enter__(self):
        state = _ac.STATE[self.device]
        self._prev = (state.enabled, state.dtype, state.cache_enabled)
        state.dtype = self.fast_dtype
        state.cache_enabled = self._cache_enabled
        _ac.set_enabled(self.device, self._enabled)
        _ac.nesting[0] += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        state = _ac.STATE[self.device]
        _ac.nesting[0] -= 1
        if _ac.nesting[0] == 0:  # leaving the outermost region: drop the cached casts, as torch
            _ac.clear_cache()
        enabled, state.dtype, state.cache_enabled = self._prev
        _ac.set_enabled(self.device, enabled)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with autocast(self.device, dtype=self.fast_dtype, enabled=self._enabled,
                          cache_enabled=self._cache_enabled):
                return func(*args, **kwargs)

        return decorated


# --- torch's switches -------------------------------------------------------------------------------

def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Is autocast on for ``device_type`` (without one: for CUDA, as torch)?

    >>> import nnbox
    >>> with nnbox.autocast("cpu"):
    ...     nnbox.is_autocast_enabled("cpu"), nnbox.is_autocast_enabled()
    (True, False)
    """
    return _ac.STATE[_check_device_type("cuda" if device_type is None else device_type)].enabled


def set_autocast_enabled(device_type, enabled: bool | None = None) -> None:
    """Switch autocast on or off for a device type (``set_autocast_enabled(True)``: CUDA), outside
    any ``with`` block: prefer ``autocast``, which also puts the state back.

    >>> import nnbox
    >>> nnbox.set_autocast_enabled("cpu", True); nnbox.is_autocast_enabled("cpu")
    True
    >>> nnbox.set_autocast_enabled("cpu", False)
    """
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _ac.set_enabled(_check_device_type(device_type), enabled)


def get_autocast_dtype(device_type: str) -> _dt.dtype:
    """The dtype autocast casts to on ``device_type``.

    >>> import nnbox
    >>> nnbox.get_autocast_dtype("cpu"), nnbox.get_autocast_dtype("cuda")
    (torch.bfloat16, torch.float16)
    """
    return _ac.STATE[_check_device_type(device_type)].dtype


def set_autocast_dtype(device_type: str, dtype: _dt.dtype) -> None:
    """The dtype autocast casts to on ``device_type`` from now on (an ``autocast`` region sets its own).

    >>> import nnbox
    >>> nnbox.set_autocast_dtype("cpu", nnbox.float16); nnbox.get_autocast_dtype("cpu")
    torch.float16
    >>> nnbox.set_autocast_dtype("cpu", nnbox.bfloat16)
    """
    _ac.STATE[_check_device_type(device_type)].dtype = dtype


def is_autocast_cache_enabled() -> bool:
    """Does autocast cast a parameter once per region (the default) rather than at every use?

    >>> import nnbox
    >>> nnbox.is_autocast_cache_enabled()
    True
    """
    return _ac.STATE["cpu"].cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Turn the per-region cache of low-precision parameter copies on or off (all device types)."""
    for s in _ac.STATE.values():
        s.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop the cached low-precision parameter copies (leaving the outermost region does it too)."""
    _ac.clear_cache()


def autocast_increment_nesting() -> int:
    """Count one more autocast region entered; returns the depth (torch's bookkeeping call)."""
    _ac.nesting[0] += 1
    return _ac.nesting[0]


def autocast_decrement_nesting() -> int:
    """Count one autocast region left; returns the depth (at 0 the cast cache is cleared by ``autocast``)."""
    _ac.nesting[0] -= 1
    return _ac.nesting[0]


def _deprecated(old: str, new: str, fn):
    def wrapper(*args):
        warnings.warn(f"torch.{old}() is deprecated. Please use torch.{new} instead.", DeprecationWarning, stacklevel=2)
        return fn(*args)

    wrapper.__name__ = old
    wrapper.__doc__ = f"Deprecated spelling of ``torch.{new}`` (warns, as torch)."
    return wrapper


is_autocast_cpu_enabled = _deprecated("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')",
                                      lambda: is_autocast_enabled("cpu"))
set_autocast_cpu_enabled = _deprecated("set_autocast_cpu_enabled", "set_autocast_enabled('cpu', enabled)",
                                       lambda e: set_autocast_enabled("cpu", e))
get_autocast_cpu_dtype = _deprecated("get_autocast_cpu_dtype", "get_autocast_dtype('cpu')",
                                     lambda: get_autocast_dtype("cpu"))
set_autocast_cpu_dtype = _deprecated("set_autocast_cpu_dtype", "set_autocast_dtype('cpu', dtype)",
                                     lambda d: set_autocast_dtype("cpu", d))
get_autocast_gpu_dtype = _deprecated("get_autocast_gpu_dtype", "get_autocast_dtype('cuda')",
                                     lambda: get_autocast_dtype("cuda"))
set_autocast_gpu_dtype = _deprecated("set_autocast_gpu_dtype", "set_autocast_dtype('cuda', dtype)",
                                     lambda d: set_autocast_dtype("cuda", d))


class _DeprecatedAutocast(autocast):
    _device = "cpu"
    _default = _dt.bfloat16

    def __init__(self, enabled: bool = True, dtype: _dt.dtype | None = None, cache_enabled: bool = True) -> None:
        warnings.warn(f"`torch.{self._device}.amp.autocast(args...)` is deprecated. Please use "
                      f"`torch.amp.autocast('{self._device}', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__(self._device, dtype=self._default if dtype is None else dtype, enabled=enabled,
                         cache_enabled=cache_enabled)


class cpu_autocast(_DeprecatedAutocast):
    """``torch.cpu.amp.autocast``: deprecated spelling of ``torch.autocast("cpu")``."""


class cuda_autocast(_DeprecatedAutocast):
    """``torch.cuda.amp.autocast``: deprecated spelling of ``torch.autocast("cuda")``."""

    _device = "cuda"
    _default = _dt.float16
