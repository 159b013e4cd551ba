"""Image helpers as in ``torchvision.utils``: ``make_grid`` tiles a batch into one image,
``save_image`` writes it with Pillow.

>>> import nnbox
>>> from nnbox.vision.utils import make_grid
>>> make_grid(nnbox.rand(10, 3, 8, 8), nrow=5).shape   # 2 rows x 5 columns, 2-pixel padding
torch.Size([3, 22, 52])
"""
from __future__ import annotations

import math
import os
from typing import IO

import numpy as np

from .._backend.device import move
from .._tensor import Tensor

TensorOrList = Tensor | list[Tensor]


def _as_batch(tensor: TensorOrList):
    """(B, C, H, W) array, with 1-channel images repeated to 3 channels (torchvision's rule)."""
    if isinstance(tensor, (list, tuple)):
        if not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
        arr = np.stack([_host(t) for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = _host(tensor)
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if arr.ndim == 2:  # single image H x W
        arr = arr[None]
    if arr.ndim == 3:  # single image C x H x W
        if arr.shape[0] == 1:
            arr = np.concatenate([arr] * 3, 0)
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:  # batch of single-channel images
        arr = np.concatenate([arr] * 3, 1)
    if arr.ndim != 4:
        raise ValueError(f"make_grid expects a 2-, 3- or 4-D tensor (or a list of 3-D tensors), got {arr.ndim}-D")
    return arr


def _host(t: Tensor) -> np.ndarray:
    a = t.detach()._data
    return a if isinstance(a, np.ndarray) else a.get()


def _normalize(img: np.ndarray, low: float, high: float) -> np.ndarray:
    # torchvision: clamp to [low, high], then map to [0, 1]
    np.clip(img, low, high, out=img)
    img -= low
    img /= max(high - low, 1e-5)
    return img


def make_grid(
    tensor: TensorOrList,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a batch ``(B, C, H, W)`` (or a list of ``(C, H, W)``) into one ``(C, H', W')`` image
    with ``nrow`` images per row and ``padding`` pixels of ``pad_value`` between them.

    ``normalize=True`` maps ``value_range`` (default: the batch's min and max; each image's own
    with ``scale_each``) to [0, 1].  A single image is returned without padding, as torchvision does.

    >>> import nnbox
    >>> make_grid(nnbox.zeros(2, 1, 4, 4), padding=1, pad_value=1.0)[0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    arr = _as_batch(tensor)  # tiled on the host; the grid goes back to the input's device
    dev = (tensor[0] if isinstance(tensor, (list, tuple)) else tensor).device
    if normalize:
        arr = arr.copy()
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        if scale_each:
            for img in arr:
                lo, hi = value_range if value_range is not None else (float(img.min()), float(img.max()))
                _normalize(img, lo, hi)
        else:
            lo, hi = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
            _normalize(arr, lo, hi)
    nmaps, channels, h, w = arr.shape
    if nmaps == 1:
        return Tensor._make(move(np.ascontiguousarray(arr[0]), dev))
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(nmaps / xmaps))
    height, width = h + padding, w + padding
    grid = np.full((channels, height * ymaps + padding, width * xmaps + padding), pad_value, dtype=arr.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        top, left = y * height + padding, x * width + padding
        grid[:, top : top + h, left : left + w] = arr[k]
    return Tensor._make(move(grid, dev))


def _to_uint8_hwc(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) floats in [0, 1] -> (H, W, C) uint8, rounding as torchvision (x*255 + 0.5)."""
    img = np.clip(grid.astype(np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img.transpose(1, 2, 0))


def save_image(
    tensor: TensorOrList,
    fp: str | os.PathLike | IO[bytes],
    format: str | None = None,  # noqa: A002 - torchvision's name
    **kwargs,
) -> None:
    """Write a tensor (or a batch, tiled with ``make_grid(**kwargs)``) as an image file.

    Values are expected in [0, 1] (pass ``normalize=True`` otherwise).  Needs Pillow.

    >>> import os, tempfile, nnbox
    >>> save_image(nnbox.rand(4, 3, 8, 8), os.path.join(tempfile.mkdtemp(), "grid.png"), nrow=2)
    """
    try:
        from PIL import Image  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError("save_image needs Pillow: pip install pillow") from None
    img = _to_uint8_hwc(_host(make_grid(tensor, **kwargs)))
    if img.shape[2] == 1:
        img = img[:, :, 0]
    Image.fromarray(img).save(fp, format=format)


__all__ = ["make_grid", "save_image"]
