"""The process-wide switches programs set at the top: default tensor type, matmul precision,
deterministic algorithms. Loaded on first use (``nnbox.set_float32_matmul_precision`` ...)."""
from __future__ import annotations

import warnings

from ._backend import dtype as _dt
from ._backend import flags as _flags

_PRECISIONS = ("highest", "high", "medium")


def set_default_tensor_type(t) -> None:
    """Deprecated in torch 2.1 for ``set_default_dtype``; sets the default floating dtype.

    ``t`` is a legacy type (``torch.DoubleTensor``) or its name (``"torch.DoubleTensor"``).
    nnbox has no default device, so a ``torch.cuda.*Tensor`` raises an error that says so.

    >>> import nnbox as torch, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     torch.set_default_tensor_type(torch.DoubleTensor)
    >>> torch.tensor([1.0]).dtype
    torch.float64
    >>> torch.set_default_dtype(torch.float32)
    """
    import nnbox

    warnings.warn(
        "torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
        "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
        UserWarning,
        stacklevel=2,
    )
    if isinstance(t, str):
        if t.startswith("torch.cuda."):
            from ._backend.device import cupy_or_none

            if cupy_or_none() is None:
                raise TypeError(f"type {t} not available. Torch not compiled with CUDA enabled.")
            raise NotImplementedError(
                f"set_default_tensor_type({t!r}): nnbox has no default device; "
                "create tensors with device='cuda' or move them with .to('cuda')"
            )
        mod, _, name = t.rpartition(".")
        if not mod:
            raise ModuleNotFoundError(f"No module named '{t}'")
        if mod != "torch":
            raise ModuleNotFoundError(f"No module named '{mod}'")
        t = getattr(nnbox, name)
    d = getattr(t, "_dtype", None)
    if d is None or d not in (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    _dt.set_default_dtype(d)


def set_float32_matmul_precision(precision: str) -> None:
    """'highest' (the default) keeps float32 matmuls in float32; 'high' or 'medium' allow TF32
    on CuPy (``backends.cuda.matmul.allow_tf32``, as in torch). NumPy on the CPU always
    computes float32 GEMMs in full precision, so there the setting only reads back.

    >>> import nnbox as torch
    >>> torch.set_float32_matmul_precision("high")
    >>> torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32
    ('high', True)
    >>> torch.set_float32_matmul_precision("highest")
    """
    if precision not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _flags.matmul_precision[0] = precision
    _flags.tf32["matmul"] = precision != "highest"  # cuDNN's flag is its own, as in torch
    _flags.apply_tf32()


def get_float32_matmul_precision() -> str:
    """The value last set by ``set_float32_matmul_precision`` ('highest' by default).

    >>> import nnbox as torch
    >>> torch.get_float32_matmul_precision()
    'highest'
    """
    p = _flags.matmul_precision[0]
    # backends.cuda.matmul.allow_tf32 written directly moves the precision as torch's does
    if _flags.tf32["matmul"] and p == "highest":
        return "high"
    if not _flags.tf32["matmul"] and p != "highest":
        return "highest"
    return p


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms. nnbox's ops are deterministic already on NumPy and on
    CuPy (no atomics-based scatter, no autotuned kernels), so this records the mode, which
    ``are_deterministic_algorithms_enabled`` reads back, and changes no result.

    >>> import nnbox as torch
    >>> torch.use_deterministic_algorithms(True)
    >>> torch.are_deterministic_algorithms_enabled()
    True
    >>> torch.use_deterministic_algorithms(False)
    """
    if type(mode) is not bool:
        raise TypeError(
            f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not {type(mode).__name__}"
        )
    if type(warn_only) is not bool:
        raise TypeError(
            f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, not {type(warn_only).__name__}"
        )
    _flags.deterministic["enabled"] = mode
    _flags.deterministic["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in force."""
    return _flags.deterministic["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether it was set with ``warn_only=True``."""
    return _flags.deterministic["warn_only"]


def set_deterministic_debug_mode(debug_mode) -> None:
    """0/'default', 1/'warn', 2/'error': the same switch as ``use_deterministic_algorithms``.

    >>> import nnbox as torch
    >>> torch.set_deterministic_debug_mode("warn"); torch.get_deterministic_debug_mode()
    1
    >>> torch.set_deterministic_debug_mode(0)
    """
    modes = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in modes:
            raise RuntimeError(
                f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got {debug_mode}"
            )
        debug_mode = modes[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 when off, 1 when warn-only, 2 when on."""
    if not _flags.deterministic["enabled"]:
        return 0
    return 1 if _flags.deterministic["warn_only"] else 2
