"""Image transforms as functions, on PIL images and on tensor images (``(..., C, H, W)``),
with torchvision's semantics.  PIL images are handled by Pillow itself (imported lazily); tensor
images by the array module of the tensor's array (NumPy, or CuPy for a cuda tensor) in the flips,
padding, crops, erasing and colour adjustments; resize and rotate run on NumPy (CPU tensors only).

Tensor resizing uses PIL's separable resampling scheme (a triangle filter widened by the
downscale factor when ``antialias=True``), so tensor and PIL results agree closely.
"""
from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from enum import Enum

import numpy as np

from ..._backend.dtype import get_default_dtype
from ..._tensor import Tensor
from ...ops._util import xp_of

__all__ = [
    "InterpolationMode", "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize",
    "resize", "center_crop", "crop", "resized_crop", "pad", "hflip", "vflip", "rotate", "to_grayscale",
    "rgb_to_grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue", "erase",
    "get_image_size", "get_image_num_channels", "get_dimensions",
]


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _pil_image():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow is in the 'data' extra
        raise ImportError("This transform needs Pillow: pip install 'nnbox[data]' (or pillow)") from e
    return Image


def _is_pil_image(img) -> bool:
    mod = sys.modules.get("PIL.Image")  # no PIL imported means it cannot be a PIL image
    return mod is not None and isinstance(img, mod.Image)


def _pil_interp(mode: InterpolationMode):
    Image = _pil_image()
    return {
        InterpolationMode.NEAREST: Image.NEAREST, InterpolationMode.BILINEAR: Image.BILINEAR,
        InterpolationMode.BICUBIC: Image.BICUBIC, InterpolationMode.BOX: Image.BOX,
        InterpolationMode.HAMMING: Image.HAMMING, InterpolationMode.LANCZOS: Image.LANCZOS,
    }[mode]


def _interp(mode) -> InterpolationMode:
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, int):  # PIL's integer constants, still accepted by torchvision
        return {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
                4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}[mode]
    raise TypeError("Argument interpolation should be of type InterpolationMode or int")


def _check_image(img) -> None:
    if not (_is_pil_image(img) or isinstance(img, Tensor)):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def _tensor_image(img: Tensor) -> None:
    if img.ndim < 2:
        raise TypeError(f"Tensor is not a torch image. Got ndim={img.ndim}")


def _wrap(arr) -> Tensor:
    return Tensor._make(xp_of(arr).ascontiguousarray(arr))


# --- conversion -------------------------------------------------------------------------------------

def _pil_to_array(pic) -> np.ndarray:
    """H x W x C array of a PIL image with torchvision's dtype per mode."""
    mode_dtype = {"I": np.int32, "I;16": np.int16, "F": np.float32}
    if pic.mode in mode_dtype:
        arr = np.array(pic, dtype=mode_dtype[pic.mode], copy=True)
    elif pic.mode == "1":
        arr = 255 * np.array(pic, dtype=np.uint8)
    else:
        arr = np.array(pic, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def to_tensor(pic) -> Tensor:
    """PIL image or H x W x C ``ndarray`` -> C x H x W tensor; ``uint8`` is scaled to float [0, 1].

    >>> import numpy as np
    >>> to_tensor(np.full((2, 2, 1), 255, np.uint8))
    tensor([[[1., 1.],
             [1., 1.]]])
    """
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    elif _is_pil_image(pic):
        arr = _pil_to_array(pic)
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        dt = get_default_dtype().np
        return Tensor._make(np.divide(chw, dt.type(255), dtype=dt))  # torch: .to(default float).div(255)
    return Tensor._make(chw)


def pil_to_tensor(pic) -> Tensor:
    """PIL image -> C x H x W tensor of the image's own dtype (no scaling).

    >>> from PIL import Image
    >>> pil_to_tensor(Image.new("L", (3, 2), 7)).shape
    torch.Size([1, 2, 3])
    """
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    return _wrap(_pil_to_array(pic).transpose(2, 0, 1))


def to_pil_image(pic, mode: str | None = None):
    """Tensor (C x H x W) or ndarray (H x W x C) -> PIL image; float data is scaled by 255
    and truncated, as torchvision does.

    >>> import nnbox
    >>> to_pil_image(nnbox.ones(3, 2, 2)).mode
    'RGB'
    """
    Image = _pil_image()
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic.detach().numpy()
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape[-3] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-3]} channels.")
        if arr.dtype.kind in "fV" and mode != "F":
            arr = (arr * 255).astype(np.uint8)  # torchvision: pic.mul(255).byte()
        arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        if arr.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")

    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
                    np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {arr.dtype}. Should be {expected}")
        mode = expected if mode is None else mode
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {channels}D inputs")
        if mode is None:
            mode = permitted[0]
        if arr.dtype != np.uint8:
            raise TypeError(f"Input type {arr.dtype} is not supported")
    if mode is None:
        raise TypeError(f"Input type {arr.dtype} is not supported")
    arr = np.ascontiguousarray(arr)
    try:
        return Image.fromarray(arr, mode=mode)
    except ValueError:
        # Pillow refuses some dtype/mode pairs in fromarray (int16 as 'I;16', 'CMYK'...): raw bytes
        if mode == "I;16":
            arr = arr.astype("<u2")
        return Image.frombytes(mode, (arr.shape[1], arr.shape[0]), arr.tobytes())


def _max_value(dt: np.dtype) -> float:
    return float(np.iinfo(dt).max) if dt.kind in "iu" else 1.0


def convert_image_dtype(image: Tensor, dtype=None) -> Tensor:
    """Change an image's dtype, rescaling values: float images are in [0, 1], integer images in
    [0, max of the type].

    >>> import nnbox
    >>> convert_image_dtype(nnbox.tensor([0, 255], dtype=nnbox.uint8), nnbox.float32)
    tensor([0., 1.])
    """
    from ..._backend.dtype import float32, to_numpy_dtype

    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    dtype = float32 if dtype is None else dtype
    src, dst = image._data.dtype, np.dtype(to_numpy_dtype(dtype))
    if src == dst:
        return image
    arr = image._data
    if src.kind in "fV":
        if dst.kind in "fV":
            return _wrap(arr.astype(dst))
        if (src == np.float32 and dst in (np.int32, np.int64)) or (src == np.float64 and dst == np.int64):
            raise RuntimeError(f"The cast from torch.{src.name} to torch.{dst.name} cannot be performed safely.")
        # 1 - eps keeps 1.0 from overflowing to max + 1 (torchvision's rule)
        return _wrap((arr * (_max_value(dst) + 1.0 - 1e-3)).astype(dst))
    in_max = _max_value(src)
    if dst.kind in "fV":
        return _wrap(arr.astype(dst) / dst.type(in_max))
    out_max = _max_value(dst)
    if in_max > out_max:
        factor = int((in_max + 1) // (out_max + 1))
        return _wrap((arr // factor).astype(dst))
    factor = int((out_max + 1) // (in_max + 1))
    return _wrap(arr.astype(dst) * factor)


# --- normalize --------------------------------------------------------------------------------------

_STATS_CACHE: dict = {}


def _channel_stats(mean, std, dt: np.dtype, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``mean``/``std`` as (C, 1, 1) arrays of ``dt``, checked once and cached per value (Normalize
    runs on every sample, with the same few constants)."""
    key = None
    if isinstance(mean, (tuple, list)) and isinstance(std, (tuple, list)):
        key = (tuple(mean), tuple(std), dt)
        hit = _STATS_CACHE.get(key)
        if hit is not None:
            return hit
    m = np.asarray(mean.numpy() if isinstance(mean, Tensor) else mean, dtype=dt)
    s = np.asarray(std.numpy() if isinstance(std, Tensor) else std, dtype=dt)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype_name}, leading to division by zero.")
    m = m.reshape(-1, 1, 1) if m.ndim == 1 else m
    s = s.reshape(-1, 1, 1) if s.ndim == 1 else s
    if key is not None and len(_STATS_CACHE) < 64:
        _STATS_CACHE[key] = (m, s)
    return m, s


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` image.

    >>> import nnbox
    >>> normalize(nnbox.ones(1, 1, 2), [0.5], [0.25])
    tensor([[[2., 2.]]])
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tensor.size()}"
        )
    m, s = _channel_stats(mean, std, tensor._data.dtype, str(tensor.dtype))
    if type(tensor._data) is not np.ndarray:  # a GPU tensor: the constants go to its device
        xp = xp_of(tensor._data)
        m, s = xp.asarray(m), xp.asarray(s)
    if tensor.requires_grad or inplace:
        # through autograd ops (in place keeps torch's version-counter semantics)
        mt, st = Tensor._make(m), Tensor._make(s)
        return tensor.sub_(mt).div_(st) if inplace else (tensor - mt) / st
    return Tensor._make((tensor._data - m) / s)


# --- geometry: sizes --------------------------------------------------------------------------------

def get_dimensions(img) -> list[int]:
    """``[channels, height, width]``."""
    _check_image(img)
    if isinstance(img, Tensor):
        _tensor_image(img)
        c = 1 if img.ndim == 2 else img.shape[-3]
        return [c, img.shape[-2], img.shape[-1]]
    return [len(img.getbands()), img.height, img.width]


def get_image_size(img) -> list[int]:
    """``[width, height]``."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


def _setup_size(size, error_msg: str = "Please provide only two dimensions (h, w) for size.") -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size[0], size[1]


def _resized_output_size(h: int, w: int, size, max_size: int | None) -> tuple[int, int]:
    """torchvision's rule: an int (or 1-list) is the shorter side, keeping the aspect ratio."""
    if isinstance(size, int):
        size = [size]
    if size is not None and len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        if max_size is None:
            raise ValueError("max_size must be an integer when size is None")
        new_short, new_long = int(max_size * short / long), max_size
    else:
        requested = size[0]
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested size for the smaller "
                    f"edge size (size = {size})"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _resample_matrix(in_size: int, out_size: int, mode: InterpolationMode, antialias: bool) -> np.ndarray:
    """``out_size x in_size`` weights of a separable resampling along one axis (PIL's scheme:
    pixel centres at +0.5, the filter support widened by the scale when downsampling)."""
    scale = in_size / out_size
    centers = (np.arange(out_size) + 0.5) * scale
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        if mode is InterpolationMode.NEAREST:  # torch's legacy nearest: floor(dst * scale)
            src = np.minimum(np.floor(np.arange(out_size) * scale).astype(np.int64), in_size - 1)
        else:
            src = np.minimum(np.floor(centers).astype(np.int64), in_size - 1)
        m = np.zeros((out_size, in_size))
        m[np.arange(out_size), src] = 1.0
        return m
    if mode is InterpolationMode.BILINEAR:
        support, kernel = 1.0, lambda x: np.maximum(0.0, 1.0 - np.abs(x))
    elif mode is InterpolationMode.BICUBIC:
        a = -0.5 if antialias else -0.75  # PIL's cubic vs torch's non-antialiased cubic

        def kernel(x):
            x = np.abs(x)
            return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                            np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))
        support = 2.0
    else:
        raise ValueError(f"Interpolation mode {mode.value!r} is not supported for tensor images")
    fscale = max(scale, 1.0) if antialias else 1.0
    src = np.arange(in_size)
    if fscale == 1.0 and not antialias:
        # plain interpolation (torch's align_corners=False): clamp the sample point at the edges
        x = np.clip(centers - 0.5, 0, in_size - 1) if mode is InterpolationMode.BILINEAR else centers - 0.5
        w = kernel(x[:, None] - src[None, :])
        if mode is InterpolationMode.BICUBIC:  # torch clamps out-of-range taps onto the edge pixels
            lo = np.floor(x).astype(np.int64)
            w = np.zeros((out_size, in_size))
            for k in range(-1, 3):
                idx = np.clip(lo + k, 0, in_size - 1)
                np.add.at(w, (np.arange(out_size), idx), kernel(x - (lo + k)))
    else:
        w = kernel((src[None, :] + 0.5 - centers[:, None]) / fscale)
        w[np.abs(src[None, :] + 0.5 - centers[:, None]) >= support * fscale] = 0.0
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total == 0, 1.0, total)


def _resize_array(arr: np.ndarray, oh: int, ow: int, mode: InterpolationMode, antialias: bool) -> np.ndarray:
    ih, iw = arr.shape[-2:]
    out_dtype = arr.dtype
    work = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32)
    if (oh, ow) != (ih, iw):
        mh = _resample_matrix(ih, oh, mode, antialias).astype(work.dtype)
        mw = _resample_matrix(iw, ow, mode, antialias).astype(work.dtype)
        work = np.matmul(np.matmul(mh, work), mw.T)
    if out_dtype.kind in "iu":
        info = np.iinfo(out_dtype)
        work = np.clip(np.round(work), info.min, info.max)
    return work.astype(out_dtype)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None, antialias: bool = True):
    """Resize to ``size`` ((h, w), or an int for the shorter side).

    >>> import nnbox
    >>> resize(nnbox.rand(3, 20, 10), 5).shape
    torch.Size([3, 10, 5])
    """
    _check_image(img)
    mode = _interp(interpolation)
    if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
        raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element tuple/list")
    _, h, w = get_dimensions(img)
    oh, ow = _resized_output_size(h, w, size, max_size)
    if (oh, ow) == (h, w):
        return img
    if _is_pil_image(img):
        return img.resize((ow, oh), _pil_interp(mode))
    return _wrap(_resize_array(img._data, oh, ow, mode, antialias))


# --- geometry: crops, pads, flips -------------------------------------------------------------------

def _parse_padding(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    if not isinstance(padding, (list, tuple)) or len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    return tuple(int(p) for p in padding)


_NP_PAD_MODE = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is an int, (left/right, top/bottom) or (left, top, right,
    bottom); ``padding_mode`` is constant, edge, reflect or symmetric.

    >>> import nnbox
    >>> pad(nnbox.ones(1, 2, 2), (1, 0)).shape
    torch.Size([1, 2, 4])
    """
    _check_image(img)
    if padding_mode not in _NP_PAD_MODE:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    if _is_pil_image(img):
        Image = _pil_image()
        arr = np.asarray(img)
        widths = [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))] + [(0, 0)] * (arr.ndim - 2)
        if padding_mode == "constant":
            kw = {"constant_values": 0}
            out = np.pad(arr, widths, **kw)
            if fill:
                fillv = np.asarray(fill, dtype=arr.dtype)
                mask = np.ones(out.shape[:2], bool)
                mask[widths[0][0]:widths[0][0] + arr.shape[0], widths[1][0]:widths[1][0] + arr.shape[1]] = False
                out[mask] = fillv
        else:
            out = np.pad(arr, widths, mode=_NP_PAD_MODE[padding_mode])
        out = out[max(-top, 0):out.shape[0] - max(-bottom, 0), max(-left, 0):out.shape[1] - max(-right, 0)]
        res = Image.fromarray(np.ascontiguousarray(out), mode=img.mode)
        if img.mode == "P":
            res.putpalette(img.getpalette())
        return res
    arr = img._data
    lead = [(0, 0)] * (arr.ndim - 2)
    widths = lead + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    xp = xp_of(arr)
    if padding_mode == "constant":  # the fill as a NumPy scalar of the image's dtype (a scalar to CuPy too)
        fillv = np.asarray(fill if isinstance(fill, numbers.Number) else 0).astype(arr.dtype)[()]
        out = xp.pad(arr, widths, constant_values=fillv)
    else:
        out = xp.pad(arr, widths, mode=_NP_PAD_MODE[padding_mode])
    h, w = out.shape[-2:]
    out = out[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    return _wrap(out)


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` region at (top, left); outside the image is zero.

    >>> import nnbox
    >>> crop(nnbox.arange(16.).reshape(1, 4, 4), 1, 1, 2, 2)
    tensor([[[ 5.,  6.],
             [ 9., 10.]]])
    """
    _check_image(img)
    if _is_pil_image(img):
        return img.crop((left, top, left + width, top + height))
    h, w = img.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        # torchvision pads the missing part with zeros
        arr = img._data[..., max(top, 0):min(bottom, h), max(left, 0):min(right, w)]
        widths = [(0, 0)] * (arr.ndim - 2) + [(max(-top, 0), max(bottom - h, 0)), (max(-left, 0), max(right - w, 0))]
        return _wrap(xp_of(arr).pad(arr, widths))
    return _wrap(img._data[..., top:bottom, left:right])


def center_crop(img, output_size):
    """The central ``output_size`` region (zero-padded first if the image is smaller).

    >>> import nnbox
    >>> center_crop(nnbox.arange(16.).reshape(1, 4, 4), 2)
    tensor([[[ 5.,  6.],
             [ 9., 10.]]])
    """
    ch, cw = _setup_size(output_size)
    _, h, w = get_dimensions(img)
    if cw > w or ch > h:
        padding = [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                   (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0]
        img = pad(img, padding, fill=0)
        _, h, w = get_dimensions(img)
        if cw == w and ch == h:
            return img
    top = int(round((h - ch) / 2.0))
    left = int(round((w - cw) / 2.0))
    return crop(img, top, left, ch, cw)


def resized_crop(img, top: int, left: int, height: int, width: int, size, interpolation=InterpolationMode.BILINEAR,
                 antialias: bool = True):
    """``crop`` then ``resize``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    """Mirror left-right."""
    _check_image(img)
    if _is_pil_image(img):
        return img.transpose(_pil_image().FLIP_LEFT_RIGHT)
    return _wrap(img._data[..., ::-1])


def vflip(img):
    """Mirror top-bottom."""
    _check_image(img)
    if _is_pil_image(img):
        return img.transpose(_pil_image().FLIP_TOP_BOTTOM)
    return _wrap(img._data[..., ::-1, :])


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (the image centre by default).

    >>> import nnbox
    >>> rotate(nnbox.arange(4.).reshape(1, 2, 2), 90)
    tensor([[[1., 3.],
             [0., 2.]]])
    """
    _check_image(img)
    mode = _interp(interpolation)
    if _is_pil_image(img):
        if isinstance(fill, (list, tuple)) and len(fill) == 1:
            fill = fill[0]
        fillcolor = tuple(fill) if isinstance(fill, (list, tuple)) else fill
        return img.rotate(angle, _pil_interp(mode), expand, center, fillcolor=fillcolor)
    arr = img._data
    h, w = arr.shape[-2:]
    # centre in "pixel centre" coordinates relative to the image centre (torchvision's convention)
    cx, cy = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    # inverse map: output point -> source point (rotation by -angle in image coordinates, y down)
    inv = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    inv[0, 2] = cx - (inv[0, 0] * cx + inv[0, 1] * cy)
    inv[1, 2] = cy - (inv[1, 0] * cx + inv[1, 1] * cy)
    ow, oh = w, h
    if expand:
        corners = np.array([[-w * 0.5, -h * 0.5], [w * 0.5, -h * 0.5], [w * 0.5, h * 0.5], [-w * 0.5, h * 0.5]])
        fwd = np.array([[cos, sin], [-sin, cos]])
        pts = corners @ fwd.T
        ow = int(math.ceil(pts[:, 0].max() - pts[:, 0].min() - 1e-4))
        oh = int(math.ceil(pts[:, 1].max() - pts[:, 1].min() - 1e-4))
    ys, xs = np.meshgrid(np.arange(oh) + 0.5 - oh * 0.5, np.arange(ow) + 0.5 - ow * 0.5, indexing="ij")
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2] + w * 0.5 - 0.5
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2] + h * 0.5 - 0.5
    out = _sample(arr, sx, sy, mode, fill)
    return _wrap(out)


def _sample(arr: np.ndarray, sx: np.ndarray, sy: np.ndarray, mode: InterpolationMode, fill) -> np.ndarray:
    """Sample ``arr[..., y, x]`` at fractional source positions, ``fill`` outside."""
    h, w = arr.shape[-2:]
    lead = arr.shape[:-2]
    c = lead[-1] if lead else 1
    fillv = np.zeros(c) if fill is None else np.broadcast_to(np.asarray(fill, dtype=np.float64), (c,)) \
        if not isinstance(fill, numbers.Number) else np.full(c, float(fill))
    fill_arr = fillv.reshape((c, 1, 1)) if lead else fillv.reshape(())
    if mode is InterpolationMode.NEAREST or mode is InterpolationMode.NEAREST_EXACT:
        ix, iy = np.floor(sx + 0.5).astype(np.int64), np.floor(sy + 0.5).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        vals = arr[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)].astype(np.float64)
        out = np.where(inside, vals, fill_arr)
    elif mode is InterpolationMode.BILINEAR:
        x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        fx, fy = sx - x0, sy - y0
        out = 0.0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                xx, yy = x0 + dx, y0 + dy
                ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
                v = arr[..., np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)].astype(np.float64)
                out = out + np.where(ok, v, fill_arr) * (wx * wy)
    else:
        raise ValueError(f"Interpolation mode {mode.value!r} is not supported for tensor rotation")
    if arr.dtype.kind in "iu":
        out = np.round(out)
    return out.astype(arr.dtype)


# --- colour -----------------------------------------------------------------------------------------

def _bound(arr: np.ndarray) -> float:
    return 1.0 if arr.dtype.kind in "fV" else float(np.iinfo(arr.dtype).max)


def _blend(a: np.ndarray, b, ratio: float) -> np.ndarray:
    out = xp_of(a).clip(ratio * a.astype(np.float64 if a.dtype == np.float64 else np.float32) + (1.0 - ratio) * b,
                        0, _bound(a))
    return out.astype(a.dtype)


def _gray_array(arr: np.ndarray) -> np.ndarray:
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    dt = np.float64 if arr.dtype == np.float64 else np.float32
    gray = (0.2989 * r.astype(dt) + 0.587 * g.astype(dt) + 0.114 * b.astype(dt))
    return gray.astype(arr.dtype)[..., None, :, :]  # integer images truncate, as torchvision's .to(dtype)


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` (PIL's ``convert('L')`` for PIL images)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    _check_image(img)
    if _is_pil_image(img):
        Image = _pil_image()
        g = img.convert("L")
        if num_output_channels == 3:
            a = np.asarray(g)
            g = Image.fromarray(np.dstack([a, a, a]), "RGB")
        return g
    arr = img._data
    c = 1 if arr.ndim == 2 else arr.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are [1, 3], but found {c}")
    gray = arr[..., :1, :, :].copy() if c == 1 else _gray_array(arr)
    if num_output_channels == 3:
        gray = xp_of(gray).concatenate([gray] * 3, axis=-3)
    return _wrap(gray)


to_grayscale = rgb_to_grayscale


def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


def adjust_brightness(img, brightness_factor: float):
    """Scale intensities: 0 gives black, 1 the original."""
    _check_factor("brightness_factor", brightness_factor)
    _check_image(img)
    if _is_pil_image(img):
        from PIL import ImageEnhance

        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    return _wrap(_blend(img._data, 0.0, brightness_factor))


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level: 0 gives a solid grey image, 1 the original."""
    _check_factor("contrast_factor", contrast_factor)
    _check_image(img)
    if _is_pil_image(img):
        from PIL import ImageEnhance

        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    arr = img._data
    c = arr.shape[-3]
    gray = _gray_array(arr) if c == 3 else arr
    dt = np.float64 if arr.dtype == np.float64 else np.float32
    mean = gray.astype(dt).mean(axis=(-3, -2, -1), keepdims=True)
    return _wrap(_blend(arr, mean, contrast_factor))


def adjust_saturation(img, saturation_factor: float):
    """Blend with the greyscale image: 0 gives grey, 1 the original."""
    _check_factor("saturation_factor", saturation_factor)
    _check_image(img)
    if _is_pil_image(img):
        from PIL import ImageEnhance

        return ImageEnhance.Color(img).enhance(saturation_factor)
    arr = img._data
    if arr.shape[-3] == 1:
        return img
    return _wrap(_blend(arr, _gray_array(arr), saturation_factor))


def _rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    xp = xp_of(rgb)
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = xp.ones_like(maxc)
    s = cr / xp.where(eqc, ones, maxc)
    cr_div = xp.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_div, (maxc - g) / cr_div, (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return xp.stack([h, s, maxc], axis=-3)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    xp = xp_of(hsv)
    h, s, v = hsv[..., 0, :, :], hsv[..., 1, :, :], hsv[..., 2, :, :]
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = xp.zeros(hsv.shape, dtype=hsv.dtype)
    for k, (rr, gg, bb) in enumerate(table):
        m = i == k
        out[..., 0, :, :] = xp.where(m, rr, out[..., 0, :, :])
        out[..., 1, :, :] = xp.where(m, gg, out[..., 1, :, :])
        out[..., 2, :, :] = xp.where(m, bb, out[..., 2, :, :])
    return out


def adjust_hue(img, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5])."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check_image(img)
    if _is_pil_image(img):
        Image = _pil_image()
        if img.mode in {"L", "1", "I", "F"}:
            return img
        h, s, v = img.convert("HSV").split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over="ignore"):
            np_h += np.uint8(int(hue_factor * 255) % 256)  # uint8 wrap-around, as torchvision
        h = Image.fromarray(np_h, "L")
        return Image.merge("HSV", (h, s, v)).convert(img.mode)
    arr = img._data
    if arr.shape[-3] == 1:
        return img
    orig = arr.dtype
    work = arr.astype(np.float32) / 255.0 if orig.kind in "iu" else arr
    hsv = _rgb_to_hsv(work)
    xp = xp_of(hsv)
    hsv[..., 0, :, :] = xp.fmod(hsv[..., 0, :, :] + hue_factor, 1.0)
    hsv[..., 0, :, :] = xp.where(hsv[..., 0, :, :] < 0, hsv[..., 0, :, :] + 1.0, hsv[..., 0, :, :])
    rgb = _hsv_to_rgb(hsv)
    if orig.kind in "iu":
        rgb = (rgb * 255.0).astype(orig)  # torchvision: convert_image_dtype back to uint8
    return _wrap(rgb.astype(orig))


def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """Set the ``h x w`` box at (i, j) of a tensor image to ``v``."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    v_arr = v._data if isinstance(v, Tensor) else v
    if inplace:
        img._data[..., i:i + h, j:j + w] = v_arr
        img._vc[0] += 1
        return img
    out = img._data.copy()
    out[..., i:i + h, j:j + w] = v_arr
    return _wrap(out)
