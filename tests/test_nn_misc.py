"""Misc functional ops vs torch: pad, one_hot, interpolate, normalize, distances, fold/unfold, pixel shuffle."""
import numpy as np
import pytest

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check, check_error, fd_check

PADS = [
    ((2, 3, 5), (1, 2), "constant"), ((2, 3, 5), (2, 1, 1, 0), "constant"), ((2, 3, 4, 5), (-1, 2, 0, -2), "constant"),
    ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1, 1, 1), "constant"),
    ((2, 3, 5), (2, 4), "reflect"), ((3, 5), (4, 1), "reflect"), ((2, 3, 4, 5), (1, 2, 3, 0), "reflect"),
    ((2, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2), "reflect"), ((2, 3, 5), (-1, 2), "reflect"), ((2, 3, 5), (2, -4), "reflect"),
    ((2, 3, 5), (3, 7), "replicate"), ((2, 3, 4, 5), (1, 2, 3, 0), "replicate"), ((2, 3, 4, 5), (-2, 2, 1, -1), "replicate"),
    ((2, 3, 5), (5, 2), "circular"), ((2, 3, 4, 5), (1, 2, 3, 4), "circular"), ((2, 3, 5), (-1, 3), "circular"),
    ((2, 2, 3, 4, 5), (1, 2, 2, 1, 1, 3), "circular"),
]


@pytest.mark.parametrize("shape,p,mode", PADS)
def test_pad(shape, p, mode):
    check(lambda m, x: m.nn.functional.pad(x, p, mode=mode), [arr(*shape)])


def test_pad_value_and_float32():
    check(lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1), value=3.5), [arr(2, 3, 4, dtype=np.float32)])
    check(lambda m, x: m.nn.functional.pad(x, (1, 2), value=7), [arr(2, 3, dtype=np.int64)], grad=False)


def test_pad_numerical():
    fd_check(lambda x: NF.pad(x, (2, 1, 1, 2), mode="reflect"), [arr(1, 2, 3, 4)])
    fd_check(lambda x: NF.pad(x, (3, 1), mode="circular"), [arr(2, 3)])


@pytest.mark.parametrize("shape,p,mode,msg", [
    ((2, 3, 4, 5), (1,), "constant", "divisible by 2"),
    ((2, 3, 4, 5), (1,) * 10, "constant", "less than or equal to two times"),
    ((2, 3, 4, 5), (1, 1), "reflect", "Padding size 2 is not supported for 4D"),
    ((2, 2, 5), (5, 1), "reflect", "Padding size should be less than"),
    ((2, 2, 5), (6, 1), "circular", "wrapping around more than once"),
    ((2, 2, 5), (1, 1), "foo", "Unrecognised padding mode"),
])
def test_pad_errors(shape, p, mode, msg):
    check_error(lambda m, x: m.nn.functional.pad(x, p, mode=mode), [arr(*shape)], match=msg)


def test_one_hot():
    check(lambda m, x: m.nn.functional.one_hot(x.abs()), [arr(3, 4, dtype=np.int64)], grad=False)
    check(lambda m, x: m.nn.functional.one_hot(x.abs(), 9), [arr(5, dtype=np.int64)], grad=False)
    check_error(lambda m, x: m.nn.functional.one_hot(x), [np.array([-1, 2])], match="non-negative")
    check_error(lambda m, x: m.nn.functional.one_hot(x, 2), [np.array([1, 2])], match="smaller than num_classes")
    check_error(lambda m, x: m.nn.functional.one_hot(x, 2), [np.array([1.0, 2.0])], match="LongTensor")


INTERP = [
    ((2, 3, 5), dict(size=8, mode="nearest")), ((2, 3, 5), dict(scale_factor=2.5, mode="nearest")),
    ((2, 3, 8), dict(size=3, mode="nearest")), ((2, 3, 5), dict(size=7, mode="nearest-exact")),
    ((2, 3, 5), dict(size=8, mode="linear")), ((2, 3, 5), dict(size=8, mode="linear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="nearest")), ((2, 3, 4, 5), dict(size=(7, 3), mode="bilinear")),
    ((2, 3, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=(1.5, 2.3), mode="bilinear")),
    ((2, 3, 4, 5), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 4, 5), dict(size=1, mode="bilinear", align_corners=True)),
    ((2, 3, 6, 5), dict(size=(4, 3), mode="area")), ((2, 3, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear")),
    ((2, 3, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
]


@pytest.mark.parametrize("shape,kw", INTERP)
def test_interpolate(shape, kw):
    check(lambda m, x: m.nn.functional.interpolate(x, **kw), [arr(*shape)])


def test_interpolate_float32():
    check(lambda m, x: m.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"), [arr(2, 3, 4, 5, dtype=np.float32)])


@pytest.mark.parametrize("shape,kw,msg", [
    ((2, 3, 5), dict(size=4, scale_factor=2), "only one of size or scale_factor"),
    ((2, 3, 5), dict(), "either size or scale_factor"),
    ((2, 3, 5), dict(size=4, align_corners=True), "align_corners option"),
    ((2, 3, 5), dict(size=4, mode="bilinear"), "bilinear mode needs 4D input"),
])
def test_interpolate_errors(shape, kw, msg):
    check_error(lambda m, x: m.nn.functional.interpolate(x, **kw), [arr(*shape)], match=msg)


def test_normalize_and_distances():
    check(lambda m, x: m.nn.functional.normalize(x), [arr(4, 5)])
    check(lambda m, x: m.nn.functional.normalize(x, p=1, dim=0), [arr(4, 5)])
    check(lambda m, x, y: m.nn.functional.cosine_similarity(x, y), [arr(4, 5), arr(4, 5)])
    check(lambda m, x, y: m.nn.functional.cosine_similarity(x, y, dim=-1), [arr(3, 4, 5), arr(4, 5)])
    check(lambda m, x, y: m.nn.functional.pairwise_distance(x, y), [arr(4, 5), arr(4, 5)])
    check(lambda m, x, y: m.nn.functional.pairwise_distance(x, y, p=1, keepdim=True), [arr(4, 5), arr(1, 5)])
    check(lambda m, x: m.nn.functional.pdist(x), [arr(5, 3)])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(1, 2))])
def test_unfold_fold(kw):
    check(lambda m, x: m.nn.functional.unfold(x, **kw), [arr(2, 3, 6, 7)])
    check(lambda m, x: m.nn.functional.unfold(x, **kw), [arr(3, 6, 7)])
    blocks = nnbox.nn.functional.unfold(nnbox.zeros(2, 3, 6, 7), **kw).shape
    check(lambda m, x: m.nn.functional.fold(x, (6, 7), **kw), [arr(*blocks)])
    fd_check(lambda x: NF.fold(x, (6, 7), **kw), [arr(1, *blocks[1:])])


def test_fold_errors():
    check_error(lambda m, x: m.nn.functional.fold(x, (4, 4), 2), [arr(1, 5, 9)], match="divisible")
    check_error(lambda m, x: m.nn.functional.fold(x, (4, 4), 2), [arr(1, 4, 8)], match="sliding blocks")


def test_pixel_shuffle():
    check(lambda m, x: m.nn.functional.pixel_shuffle(x, 2), [arr(2, 8, 3, 4)])
    check(lambda m, x: m.nn.functional.pixel_shuffle(x, 3), [arr(9, 2, 2)])
    check(lambda m, x: m.nn.functional.pixel_unshuffle(x, 2), [arr(2, 3, 4, 6)])
    check(lambda m, x: m.nn.functional.channel_shuffle(x, 2), [arr(2, 4, 3)], grad=False)
    check_error(lambda m, x: m.nn.functional.pixel_shuffle(x, 2), [arr(2, 7, 3, 4)], match="divisible")


# --- second order (create_graph=True): each op on x * x, so the second derivative reaches x ----------

@pytest.mark.parametrize("f", [
    lambda m, x: m.nn.functional.pad(x * x, (1, 2, 0, 1)) ** 2,
    lambda m, x: m.nn.functional.pad(x * x, (1, 2, 0, 1), value=0.5) ** 2,
    lambda m, x: m.nn.functional.pad(x * x, (-1, 1, 1, -1)) ** 2,
    lambda m, x: m.nn.functional.pad(x * x, (1, 2, 0, 1), mode="reflect") ** 2,
    lambda m, x: m.nn.functional.pad(x * x, (1, 2, 2, 1), mode="replicate") ** 2,
    lambda m, x: m.nn.functional.pad(x * x, (1, 2, 0, 1), mode="circular") ** 2,
    lambda m, x: m.nn.functional.unfold(x * x, 2) ** 2,
    lambda m, x: m.nn.functional.unfold(x * x, 2, dilation=1, padding=1, stride=2) ** 2,
    lambda m, x: m.nn.functional.fold(m.nn.functional.unfold(x * x, 2), (4, 4), 2) ** 2,
])
def test_second_order(f):
    check(f, [arr(1, 2, 4, 4)], order=2, rtol=1e-8)
