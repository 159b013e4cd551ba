"""Safe weight files: ``save_file`` / ``load_file`` over the ``safetensors`` package.

A ``.safetensors`` file is a JSON header plus raw arrays: loading it runs no code at all, and the
files are interchangeable with ``safetensors.torch`` (a state_dict saved here loads into torch
with ``safetensors.torch.load_file`` and back).  The package is optional: ``pip install safetensors``.

>>> import os, tempfile, nnbox
>>> from nnbox.utils.safetensors import save_file, load_file
>>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> save_file({"w": nnbox.ones(2, 2)}, p, metadata={"epoch": "3"})
>>> load_file(p)["w"].shape
torch.Size([2, 2])
"""
from __future__ import annotations

import os

import numpy as np

from .._backend.device import as_device, move
from .._tensor import Tensor

PathLike = str | os.PathLike


def _backend():
    try:
        import safetensors.numpy as st  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError(
            "nnbox.utils.safetensors needs the safetensors package: pip install safetensors"
        ) from None
    return st


def _arrays(tensors: dict[str, Tensor]) -> dict[str, np.ndarray]:
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of tensors, got {type(tensors).__name__}")
    out = {}
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"Key `{name}` is invalid, expected a tensor but received {type(t).__name__}")
        arr = t._data if isinstance(t._data, np.ndarray) else t._data.get()
        out[name] = np.ascontiguousarray(arr)
    return out


def _tensors(arrays: dict[str, np.ndarray], device) -> dict[str, Tensor]:
    dev = as_device(device)
    # safetensors hands back read-only views of its buffer: copy so the tensors are ours to train
    return {k: Tensor._make(move(np.array(a, copy=True), dev)) for k, a in arrays.items()}


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors``."""
    return _backend().save(_arrays(tensors), metadata=metadata)


def load(data: bytes, device: str = "cpu") -> dict[str, Tensor]:
    """Tensors from the bytes of a safetensors file."""
    return _tensors(_backend().load(data), device)


def save_file(tensors: dict[str, Tensor], filename: PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (e.g. ``model.state_dict()``) to ``filename`` atomically."""
    from ..serialization import atomic_write

    blob = save(tensors, metadata)
    with atomic_write(filename) as fh:
        fh.write(blob)


def load_file(filename: PathLike, device: str = "cpu") -> dict[str, Tensor]:
    """Read every tensor of a safetensors file into a dict (on ``device``)."""
    return _tensors(_backend().load_file(os.fspath(filename)), device)


def load_metadata(filename: PathLike) -> dict[str, str]:
    """The free-form ``metadata`` strings stored in a safetensors file's header.

    The header is parsed and validated by the safetensors library itself (the same checks as
    ``load_file``: sizes, offsets, dtypes, JSON depth), so a malformed file raises its
    ``SafetensorError`` and never a parser's accident (RecursionError, struct.error ...).
    """
    _backend()
    from safetensors import safe_open  # optional dependency, imported on use

    with safe_open(os.fspath(filename), framework="numpy") as fh:
        return dict(fh.metadata() or {})


__all__ = ["save", "load", "save_file", "load_file", "load_metadata"]
