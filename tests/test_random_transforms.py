"""vision.transforms' random transforms draw like torchvision's.  torchvision cannot be installed
beside torch 2.13 here, so each reference below is torchvision's documented draw order written
with torch's own generator calls (``torch.randint(..., (1,))``, ``torch.empty(1).uniform_``,
``torch.rand(1)``, ``torch.randperm(4)``, ``normal_`` for random erasing), and nnbox's transform
must pick the same parameters from the same seed."""
import math

import numpy as np
import pytest
import torch

import nnbox
from nnbox.vision import transforms as T

SEEDS = range(100)
pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")


def seeded(seed):
    torch.manual_seed(seed)
    nnbox.manual_seed(seed)


def _ref_crop(h, w, th, tw):
    return torch.randint(0, h - th + 1, size=(1,)).item(), torch.randint(0, w - tw + 1, size=(1,)).item(), th, tw


def _ref_resized_crop(height, width, scale, ratio):
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return torch.randint(0, height - h + 1, size=(1,)).item(), torch.randint(0, width - w + 1, size=(1,)).item(), h, w
    return None


def _ref_erasing(c, img_h, img_w, scale, ratio):
    area = img_h * img_w
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        erase_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        h = int(round(math.sqrt(erase_area * aspect)))
        w = int(round(math.sqrt(erase_area / aspect)))
        if not (h < img_h and w < img_w):
            continue
        v = torch.empty([c, h, w], dtype=torch.float32).normal_()
        return torch.randint(0, img_h - h + 1, size=(1,)).item(), torch.randint(0, img_w - w + 1, size=(1,)).item(), h, w, v
    return None


def test_random_crop_and_resized_crop():
    img = nnbox.zeros(3, 37, 50)
    for seed in SEEDS:
        seeded(seed)
        assert T.RandomCrop.get_params(img, (20, 31)) == _ref_crop(37, 50, 20, 31)
        ref = _ref_resized_crop(37, 50, (0.08, 1.0), (3 / 4, 4 / 3))
        if ref is not None:
            assert T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)) == ref
        assert torch.rand(1).item() == nnbox.rand(1).item()


def test_flips_rotation_and_color_jitter():
    img = nnbox.arange(24.0).reshape(1, 4, 6)
    for seed in SEEDS:
        seeded(seed)
        flipped = not np.array_equal(T.RandomHorizontalFlip(0.5)(img).numpy(), img.numpy())
        assert flipped == bool(torch.rand(1) < 0.5)
        flipped = not np.array_equal(T.RandomVerticalFlip(0.3)(img).numpy(), img.numpy())
        assert flipped == bool(torch.rand(1) < 0.3)
        assert T.RandomRotation.get_params([-30.0, 45.0]) == torch.empty(1).uniform_(-30.0, 45.0).item()
        order, b, c, s, h = T.ColorJitter.get_params((0.6, 1.4), (0.7, 1.3), None, (-0.1, 0.1))
        assert list(order) == torch.randperm(4).tolist()
        assert b == torch.empty(1).uniform_(0.6, 1.4).item()
        assert c == torch.empty(1).uniform_(0.7, 1.3).item()
        assert s is None and h == torch.empty(1).uniform_(-0.1, 0.1).item()


def test_random_erasing():
    img = nnbox.zeros(3, 24, 30)
    for seed in SEEDS:
        seeded(seed)
        ref = _ref_erasing(3, 24, 30, (0.02, 0.33), (0.3, 3.3))
        i, j, h, w, v = T.RandomErasing.get_params(img, (0.02, 0.33), (0.3, 3.3), value=None)
        if ref is None:
            continue
        assert (i, j, h, w) == ref[:4]
        assert np.array_equal(v.numpy(), ref[4].numpy())
        assert torch.rand(1).item() == nnbox.rand(1).item()
