"""nnbox.vision.transforms: outputs equal torchvision's where deterministic.

torchvision is not installable here, so the expected values come from Pillow itself (PIL
paths), from torch (torchvision's tensor paths are torch ops: ``F.interpolate``, ``F.pad``,
``mul(255).byte()``...) and from torchvision's documented formulas written out in NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

import nnbox
from nnbox.vision import transforms as T
from nnbox.vision.transforms import functional as F

pytestmark = pytest.mark.cpu_only(reason="PIL images and the CPU side of the DataLoader (resize and rotate are NumPy code); the transforms that take cuda images are checked in test_cuda_standin")

RNG = np.random.default_rng(0)


def rgb(h=9, w=13):
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def pil(arr):
    return Image.fromarray(arr)


def chw(arr):
    return nnbox.tensor(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def np_of(x):
    return x.numpy() if isinstance(x, nnbox.Tensor) else np.asarray(x)


# --- conversion ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "I", "F", "1"])
def test_to_tensor_pil_modes(mode):
    img = pil(rgb()).convert(mode)
    out = T.ToTensor()(img)
    arr = np.array(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    ref = torch.from_numpy(arr.transpose(2, 0, 1).copy())
    if mode == "1":
        ref = ref.to(torch.uint8) * 255
    if ref.dtype == torch.uint8:
        ref = ref.float().div(255)  # torchvision: img.to(default float).div(255)
    assert out.dtype == nnbox.float32 if ref.dtype == torch.float32 else True
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_to_tensor_ndarrays():
    a = rgb()
    np.testing.assert_array_equal(T.ToTensor()(a).numpy(), torch.from_numpy(a.transpose(2, 0, 1).copy()).float().div(255).numpy())
    g = a[:, :, 0]
    assert T.ToTensor()(g).shape == (1, 9, 13)
    f = RNG.random((4, 5, 2)).astype(np.float64)  # non-uint8 arrays are not rescaled
    out = T.ToTensor()(f)
    assert out.dtype == nnbox.float64 and np.array_equal(out.numpy(), f.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_pil_to_tensor_and_back():
    a = rgb()
    t = T.PILToTensor()(pil(a))
    assert t.dtype == nnbox.uint8 and t.shape == (3, 9, 13)
    np.testing.assert_array_equal(t.numpy(), a.transpose(2, 0, 1))
    back = T.ToPILImage()(t)
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), a)


@pytest.mark.parametrize("c,mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_to_pil_image_float_truncates_like_torchvision(c, mode):
    x = RNG.random((c, 5, 6)).astype(np.float32)
    img = T.ToPILImage()(nnbox.tensor(x))
    ref = torch.tensor(x).mul(255).byte().numpy().transpose(1, 2, 0)  # torchvision's pic.mul(255).byte()
    assert img.mode == mode
    np.testing.assert_array_equal(np.asarray(img).reshape(5, 6, c), ref)


def test_to_pil_image_modes_and_errors():
    assert T.ToPILImage()(np.zeros((3, 3), np.float32)).mode == "F"
    assert T.ToPILImage(mode="F")(nnbox.zeros(1, 3, 3)).mode == "F"
    assert T.ToPILImage()(np.zeros((3, 3), np.int32)).mode == "I"
    i16 = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert T.ToPILImage()(i16).mode == "I;16" and np.array_equal(T.PILToTensor()(T.ToPILImage()(i16)).numpy()[0], i16)
    assert T.ToPILImage(mode="CMYK")(np.zeros((2, 2, 4), np.uint8)).mode == "CMYK"
    with pytest.raises(ValueError, match="Incorrect mode"):
        T.ToPILImage(mode="RGB")(np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="pic should not have > 4 channels"):
        T.ToPILImage()(nnbox.zeros(5, 3, 3))
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        T.ToPILImage()([1])


def test_convert_image_dtype_matches_torchvision_formulas():
    f = RNG.random((3, 4, 4)).astype(np.float32)
    f[0, 0, 0] = 1.0
    u8 = T.ConvertImageDtype(nnbox.uint8)(nnbox.tensor(f))
    ref = (torch.tensor(f) * (255 + 1.0 - 1e-3)).to(torch.uint8)
    np.testing.assert_array_equal(u8.numpy(), ref.numpy())
    back = T.ConvertImageDtype(nnbox.float32)(u8)
    np.testing.assert_array_equal(back.numpy(), ref.to(torch.float32).div(255).numpy())
    i16 = F.convert_image_dtype(u8, nnbox.int16)  # up: multiply by (32767 + 1) // (255 + 1)
    np.testing.assert_array_equal(i16.numpy(), ref.numpy().astype(np.int16) * 128)
    down = F.convert_image_dtype(i16, nnbox.uint8)
    np.testing.assert_array_equal(down.numpy(), ref.numpy())
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(nnbox.zeros(1, 2, 2), nnbox.int32)
    x = nnbox.zeros(1, 2, 2)
    assert F.convert_image_dtype(x, nnbox.float32) is x


# --- normalize ------------------------------------------------------------------------------------

def test_normalize_matches_formula_and_inplace():
    x = RNG.random((3, 5, 5)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    ref = (torch.tensor(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    t = nnbox.tensor(x)
    out = T.Normalize(mean, std)(t)
    assert out.dtype == nnbox.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
    assert np.array_equal(t.numpy(), x)  # not in place by default
    same = T.Normalize(mean, std, inplace=True)(t)
    assert same is t and np.allclose(t.numpy(), ref.numpy(), atol=1e-6)
    batch = T.Normalize(mean, std)(nnbox.tensor(np.stack([x, x])))
    assert batch.shape == (2, 3, 5, 5)


def test_normalize_keeps_autograd():
    x = nnbox.rand(1, 2, 2, requires_grad=True)
    T.Normalize((0.5,), (0.25,))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 2, 2), 4.0))


def test_normalize_errors():
    with pytest.raises(TypeError, match="Input tensor should be a float tensor. Got torch.uint8."):
        T.Normalize((0.5,), (0.5,))(nnbox.zeros(1, 2, 2, dtype=nnbox.uint8))
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size \(..., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(nnbox.zeros(2, 2))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(nnbox.zeros(1, 2, 2))


# --- resize -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size,max_size,expect", [(5, None, (5, 7)), ((4, 6), None, (4, 6)), ([6], None, (6, 8)),
                                                  (5, 6, (4, 6)), (18, None, (18, 26))])
def test_resize_pil_equals_pillow(size, max_size, expect):
    img = pil(rgb(9, 13))
    out = T.Resize(size, max_size=max_size)(img)
    assert (out.height, out.width) == expect
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize((expect[1], expect[0]), Image.BILINEAR)))


def test_resize_pil_interpolations():
    img = pil(rgb(9, 13))
    for mode, pil_mode in [(T.InterpolationMode.NEAREST, Image.NEAREST), (T.InterpolationMode.BICUBIC, Image.BICUBIC),
                           (T.InterpolationMode.LANCZOS, Image.LANCZOS)]:
        out = T.Resize((5, 4), interpolation=mode)(img)
        assert np.array_equal(np.asarray(out), np.asarray(img.resize((4, 5), pil_mode)))


@pytest.mark.parametrize("mode,antialias", [("bilinear", True), ("bilinear", False), ("bicubic", False),
                                            ("nearest", False), ("nearest-exact", False)])
@pytest.mark.parametrize("out", [(4, 6), (17, 30), (9, 5)])
def test_resize_tensor_equals_torch_interpolate(mode, antialias, out):
    x = RNG.random((2, 3, 9, 13)).astype(np.float32)
    got = F.resize(nnbox.tensor(x), list(out), T.InterpolationMode(mode), antialias=antialias)
    kw = {} if mode.startswith("nearest") else dict(align_corners=False, antialias=antialias)
    ref = torch.nn.functional.interpolate(torch.tensor(x), size=out, mode=mode, **kw)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_resize_uint8_tensor_close_to_pil():
    a = rgb(40, 30)
    got = T.Resize((13, 17))(chw(a)).numpy().transpose(1, 2, 0).astype(int)
    ref = np.asarray(pil(a).resize((17, 13), Image.BILINEAR)).astype(int)
    assert np.abs(got - ref).max() <= 1


def test_resize_errors():
    with pytest.raises(ValueError, match="must be strictly greater"):
        T.Resize(10, max_size=10)(nnbox.zeros(1, 4, 4))
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)


# --- crops, pads, flips -------------------------------------------------------------------------

@pytest.mark.parametrize("size", [5, (4, 7), (9, 13), (12, 16)])
def test_center_crop_pil_and_tensor(size):
    a = rgb(9, 13)
    th, tw = (size, size) if isinstance(size, int) else size
    pad_t, pad_l = max(th - 9, 0) // 2, max(tw - 13, 0) // 2
    padded = np.pad(a, ((pad_t, max(th - 9, 0) - pad_t), (pad_l, max(tw - 13, 0) - pad_l), (0, 0)))
    top = int(round((padded.shape[0] - th) / 2.0))
    left = int(round((padded.shape[1] - tw) / 2.0))
    ref = padded[top:top + th, left:left + tw]
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(size)(pil(a))), ref)
    np.testing.assert_array_equal(T.CenterCrop(size)(chw(a)).numpy(), ref.transpose(2, 0, 1))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding", [2, (1, 3), (1, 2, 3, 4)])
def test_pad_matches_numpy(mode, padding):
    a = rgb(6, 7)
    left, top, right, bottom = F._parse_padding(padding)
    ref = np.pad(a, ((top, bottom), (left, right), (0, 0)), mode=mode)
    np.testing.assert_array_equal(np.asarray(T.Pad(padding, padding_mode=mode)(pil(a))), ref)
    np.testing.assert_array_equal(T.Pad(padding, padding_mode=mode)(chw(a)).numpy(), ref.transpose(2, 0, 1))


def test_pad_tensor_matches_torch_pad_and_fill():
    x = torch.rand(2, 3, 5, 6)
    for mode, tmode in [("reflect", "reflect"), ("edge", "replicate")]:
        got = F.pad(nnbox.tensor(x.numpy()), (1, 2, 3, 1), padding_mode=mode)
        np.testing.assert_array_equal(got.numpy(), torch.nn.functional.pad(x, (1, 3, 2, 1), mode=tmode).numpy())
    filled = np.asarray(T.Pad(1, fill=(10, 20, 30))(pil(rgb(3, 3))))
    assert filled[0, 0].tolist() == [10, 20, 30]
    assert T.Pad(1, fill=7)(nnbox.zeros(1, 2, 2))[0, 0, 0].item() == 7
    with pytest.raises(ValueError, match="Padding mode should be either"):
        T.Pad(1, padding_mode="wrap")


def test_random_crop_is_a_window_of_the_padded_image():
    a = rgb(8, 8)
    nnbox.manual_seed(3)
    padded = np.pad(a, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    for _ in range(5):
        out = np.asarray(T.RandomCrop(8, padding=4, padding_mode="reflect")(pil(a)))
        hits = [(i, j) for i in range(9) for j in range(9) if np.array_equal(padded[i:i + 8, j:j + 8], out)]
        assert hits
    grown = T.RandomCrop((10, 12), pad_if_needed=True)(chw(a))
    assert grown.shape == (3, 10, 12)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(10)(chw(a))


def test_random_resized_crop():
    a = rgb(20, 20)
    out = T.RandomResizedCrop(8)(pil(a))
    assert out.size == (8, 8)
    full = T.RandomResizedCrop(10, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_array_equal(np.asarray(full(pil(a))), np.asarray(pil(a).resize((10, 10), Image.BILINEAR)))
    nnbox.manual_seed(0)
    for _ in range(20):
        i, j, h, w = T.RandomResizedCrop.get_params(chw(a), (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i <= 20 - h and 0 <= j <= 20 - w and h > 0 and w > 0
    assert T.RandomResizedCrop((5, 7))(chw(a)).shape == (3, 5, 7)


def test_flips():
    a = rgb()
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1.0)(pil(a))), a[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(p=1.0)(pil(a))), a[::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(chw(a)).numpy(), a.transpose(2, 0, 1)[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(chw(a)).numpy(), a.transpose(2, 0, 1)[:, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(pil(a)).tobytes() == pil(a).tobytes()
    nnbox.manual_seed(0)
    flips = sum(np.array_equal(T.RandomHorizontalFlip()(chw(a)).numpy(), a.transpose(2, 0, 1)[:, :, ::-1])
                for _ in range(200))
    assert 60 < flips < 140


# --- rotation ------------------------------------------------------------------------------------

def test_rotation_pil_equals_pillow():
    img = pil(rgb(10, 10))
    np.testing.assert_array_equal(np.asarray(F.rotate(img, 30)), np.asarray(img.rotate(30, Image.NEAREST)))
    np.testing.assert_array_equal(np.asarray(F.rotate(img, 30, expand=True, fill=(1, 2, 3))),
                                  np.asarray(img.rotate(30, Image.NEAREST, expand=True, fillcolor=(1, 2, 3))))


@pytest.mark.parametrize("angle", [90, 180, -90])
def test_rotation_tensor_right_angles_exact(angle):
    a = rgb(10, 10)
    got = F.rotate(chw(a), angle).numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(got, np.rot90(a, k=angle // 90))
    np.testing.assert_array_equal(got, np.asarray(pil(a).rotate(angle)))


def test_rotation_tensor_close_to_pil():
    a = rgb(20, 20)
    got = F.rotate(chw(a), 30).numpy().transpose(1, 2, 0)
    ref = np.asarray(pil(a).rotate(30, Image.NEAREST))
    assert (got == ref).all(axis=-1).mean() > 0.97
    assert T.RandomRotation(15, expand=True)(chw(a)).shape[0] == 3


# --- colour ------------------------------------------------------------------------------------------

def test_grayscale():
    a = rgb()
    np.testing.assert_array_equal(np.asarray(T.Grayscale()(pil(a))), np.asarray(pil(a).convert("L")))
    g3 = T.Grayscale(3)(pil(a))
    assert g3.mode == "RGB"
    x = torch.tensor(RNG.random((3, 4, 4)).astype(np.float32))
    ref = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
    np.testing.assert_allclose(T.Grayscale()(nnbox.tensor(x.numpy())).numpy(), ref.numpy(), rtol=1e-6)
    assert T.Grayscale(3)(nnbox.tensor(x.numpy())).shape == (3, 4, 4)
    close = T.Grayscale()(chw(a)).numpy()[0].astype(int) - np.asarray(pil(a).convert("L")).astype(int)
    assert np.abs(close).max() <= 1


@pytest.mark.parametrize("fn,enh,factor", [(F.adjust_brightness, ImageEnhance.Brightness, 1.3),
                                           (F.adjust_contrast, ImageEnhance.Contrast, 0.6),
                                           (F.adjust_saturation, ImageEnhance.Color, 1.7)])
def test_color_adjustments(fn, enh, factor):
    a = rgb()
    np.testing.assert_array_equal(np.asarray(fn(pil(a), factor)), np.asarray(enh(pil(a)).enhance(factor)))
    x = torch.tensor(a.transpose(2, 0, 1).copy()).float() / 255
    gray = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
    other = {F.adjust_brightness: torch.zeros_like(x), F.adjust_contrast: gray.mean(), F.adjust_saturation: gray}[fn]
    ref = (factor * x + (1 - factor) * other).clamp(0, 1)  # torchvision's _blend
    np.testing.assert_allclose(fn(nnbox.tensor(x.numpy()), factor).numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    u8 = fn(chw(a), factor).numpy().transpose(1, 2, 0).astype(int)
    assert np.abs(u8 - np.asarray(enh(pil(a)).enhance(factor)).astype(int)).max() <= 2


def test_adjust_hue():
    a = rgb()
    img = pil(a)
    h, s, v = img.convert("HSV").split()
    hh = (np.asarray(h).astype(np.int64) + int(0.2 * 255)) % 256
    ref = Image.merge("HSV", (Image.fromarray(hh.astype(np.uint8)), s, v)).convert("RGB")
    np.testing.assert_array_equal(np.asarray(F.adjust_hue(img, 0.2)), np.asarray(ref))
    x = nnbox.tensor(a.transpose(2, 0, 1).astype(np.float32) / 255)
    assert np.allclose(F.adjust_hue(x, 0.0).numpy(), x.numpy(), atol=1e-5)  # zero shift is the identity
    full = F.adjust_hue(F.adjust_hue(x, 0.3), -0.3)
    assert np.allclose(full.numpy(), x.numpy(), atol=1e-4)
    got = (F.adjust_hue(x, 0.2).numpy().transpose(1, 2, 0) * 255).astype(int)
    assert np.abs(got - np.asarray(ref).astype(int)).mean() < 3  # PIL quantises hue to 1/255 steps
    with pytest.raises(ValueError, match="is not in"):
        F.adjust_hue(x, 0.7)


def test_color_jitter():
    cj = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    assert cj.brightness == (0.6, 1.4) and cj.hue == (-0.1, 0.1)
    a = rgb()
    assert T.ColorJitter()(pil(a)).tobytes() == pil(a).tobytes()
    nnbox.manual_seed(5)
    o1 = cj(chw(a)).numpy()
    nnbox.manual_seed(5)
    assert np.array_equal(cj(chw(a)).numpy(), o1) and o1.shape == (3, 9, 13)
    with pytest.raises(ValueError, match="must be non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.6)


# --- composition and random wrappers --------------------------------------------------------------

def test_compose_repr_and_call():
    t = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    assert repr(t) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)"
    out = t(np.full((28, 28), 255, np.uint8))
    np.testing.assert_allclose(out.numpy(), np.full((1, 28, 28), (1 - 0.1307) / 0.3081, np.float32), rtol=1e-6)


def test_lambda_apply_choice_order():
    assert T.Lambda(lambda x: x + 1)(1) == 2
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)
    add = T.Lambda(lambda x: x + [1])
    assert T.RandomApply([add, add], p=1.0)([]) == [1, 1]
    assert T.RandomApply([add], p=0.0)([]) == []
    nnbox.manual_seed(0)
    picks = [T.RandomChoice([T.Lambda(lambda x: "a"), T.Lambda(lambda x: "b")], p=[0.0, 1.0])(0) for _ in range(10)]
    assert picks == ["b"] * 10
    out = T.RandomOrder([T.Lambda(lambda x: x * 2), T.Lambda(lambda x: x + 1)])(1)
    assert out in (3, 4)


def test_random_erasing():
    x = nnbox.ones(3, 20, 20)
    nnbox.manual_seed(0)
    out = T.RandomErasing(p=1.0, value=0)(x)
    zeros = out.numpy() == 0
    assert zeros.any() and np.array_equal(zeros[0], zeros[1])  # one box across all channels
    ys, xs = np.nonzero(zeros[0])
    assert zeros[0].sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)  # a full rectangle
    assert x.numpy().min() == 1  # not in place
    T.RandomErasing(p=1.0, value=(1, 2, 3), inplace=True)(x)
    assert set(np.unique(x.numpy())) > {1.0}
    noisy = T.RandomErasing(p=1.0, value="random")(nnbox.zeros(3, 20, 20))
    assert noisy.numpy().std() > 0
    assert T.RandomErasing(p=0.0)(x) is x
    with pytest.raises(ValueError, match="should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="probability should be between 0 and 1"):
        T.RandomErasing(p=2)


def test_transforms_are_reproducible_with_manual_seed():
    t = T.Compose([T.RandomResizedCrop(8), T.RandomHorizontalFlip(), T.RandomRotation(20), T.ToTensor()])
    img = pil(rgb(16, 16))
    nnbox.manual_seed(11)
    a = t(img).numpy()
    nnbox.manual_seed(11)
    assert np.array_equal(t(img).numpy(), a)


def test_module_transforms_fit_in_sequential():
    seq = nnbox.nn.Sequential(T.Resize(4), T.CenterCrop(3), T.Normalize((0.5,), (0.5,)))
    assert isinstance(T.Normalize((0.5,), (0.5,)), nnbox.nn.Module) and not isinstance(T.ToTensor(), nnbox.nn.Module)
    out = seq(nnbox.ones(1, 8, 8))
    assert out.shape == (1, 3, 3) and np.allclose(out.numpy(), 1.0)
    assert repr(seq).splitlines()[1] == "  (0): Resize(size=4, interpolation=bilinear, max_size=None, antialias=True)"
    seen = []
    norm = T.Normalize((0.0,), (1.0,))
    norm.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    norm(nnbox.zeros(1, 2, 2))
    assert seen == [(1, 2, 2)]
