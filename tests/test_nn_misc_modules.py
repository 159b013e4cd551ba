"""Pooling, dropout, padding, upsampling, pixel shuffle, distance and fold layers vs torch:
repr, forward, gradients, train/eval."""
import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn
from nn_module_oracle import compare_module
from oracle import arr

LAYERS = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)), ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True), (2, 3, 7, 7)),
    ("MaxPool2d", (2,), dict(return_indices=True), (2, 3, 6, 6)), ("MaxPool1d", (3, 2, 1), {}, (2, 3, 9)),
    ("MaxPool3d", (2,), {}, (1, 2, 4, 4, 4)), ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True), (2, 3, 7, 7)),
    ("AvgPool1d", (2,), {}, (2, 3, 8)), ("AvgPool3d", (2,), {}, (1, 2, 4, 4, 4)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 3, 5, 5)), ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 7)), ("AdaptiveMaxPool2d", (2,), {}, (2, 3, 5, 5)),
    ("AdaptiveMaxPool2d", ((2, 3),), dict(return_indices=True), (2, 3, 5, 7)), ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 7)),
    ("LPPool2d", (2, 2), {}, (2, 3, 4, 4)), ("LPPool1d", (3, 2), {}, (2, 3, 6)),
    ("ZeroPad2d", (1,), {}, (2, 3, 4, 4)), ("ZeroPad2d", ((1, 2, 0, 1),), {}, (2, 3, 4, 4)),
    ("ConstantPad1d", ((1, 2), 3.5), {}, (2, 3, 4)), ("ConstantPad3d", (1, 0.5), {}, (1, 2, 2, 2, 2)),
    ("ReflectionPad1d", (2,), {}, (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 2, 1),), {}, (2, 3, 4, 4)),
    ("ReplicationPad2d", (2,), {}, (2, 3, 4, 4)), ("ReplicationPad3d", (1,), {}, (1, 2, 3, 3, 3)),
    ("CircularPad2d", (1,), {}, (2, 3, 4, 4)), ("CircularPad1d", (2,), {}, (2, 3, 4)),
    ("Upsample", (), dict(scale_factor=2), (2, 3, 4, 4)),
    ("Upsample", (), dict(size=(5, 7), mode="bilinear", align_corners=True), (2, 3, 4, 4)),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear"), (2, 3, 4, 4)),
    ("UpsamplingNearest2d", (), dict(scale_factor=2), (2, 3, 3, 3)), ("UpsamplingBilinear2d", (), dict(size=5), (2, 3, 3, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 3)), ("PixelUnshuffle", (2,), {}, (2, 2, 4, 6)), ("ChannelShuffle", (2,), {}, (2, 4, 3, 3)),
    ("Fold", ((4, 5), 2), {}, (2, 12, 12)), ("Unfold", ((2, 3),), dict(padding=1), (2, 3, 4, 5)),
    ("Identity", (), {}, (2, 3)),
]


@pytest.mark.parametrize("cls,args,kw,shape", LAYERS)
def test_layer(cls, args, kw, shape):
    grad = cls != "ChannelShuffle"  # torch's channel_shuffle has no autograd formula on CPU
    compare_module(getattr(torch.nn, cls)(*args, **kw), getattr(nn, cls)(*args, **kw), arr(*shape), grad=grad)


def test_max_unpool_module():
    tp, np_ = torch.nn.MaxPool2d(2, return_indices=True), nn.MaxPool2d(2, return_indices=True)
    tu, nu = torch.nn.MaxUnpool2d(2), nn.MaxUnpool2d(2)
    assert repr(nu) == repr(tu)
    x = arr(2, 3, 6, 6)
    ty, ti = tp(torch.tensor(x))
    ny, ni = np_(nnbox.tensor(x))
    np.testing.assert_allclose(nu(ny, ni).numpy(), tu(ty, ti).numpy())
    np.testing.assert_allclose(nu(ny, ni, output_size=(7, 7)).numpy(), tu(ty, ti, output_size=(7, 7)).numpy())
    assert repr(nn.MaxUnpool1d(2)) == repr(torch.nn.MaxUnpool1d(2))


def test_distance_layers():
    compare_module(torch.nn.PairwiseDistance(), nn.PairwiseDistance(), arr(4, 5), arr(4, 5))
    compare_module(torch.nn.PairwiseDistance(p=1, keepdim=True), nn.PairwiseDistance(p=1, keepdim=True), arr(4, 5), arr(4, 5))
    compare_module(torch.nn.CosineSimilarity(dim=0), nn.CosineSimilarity(dim=0), arr(4, 5), arr(4, 5))


@pytest.mark.parametrize("cls,shape", [("Dropout", (20, 30)), ("Dropout1d", (4, 20, 5)), ("Dropout2d", (4, 20, 3, 3)),
                                       ("Dropout3d", (2, 20, 2, 2, 2)), ("AlphaDropout", (20, 30)),
                                       ("FeatureAlphaDropout", (4, 20, 3, 3))])
def test_dropout_layers_train_eval(cls, shape):
    tm, nm = getattr(torch.nn, cls)(0.3), getattr(nn, cls)(0.3)
    assert repr(nm) == repr(tm)
    x = nnbox.tensor(arr(*shape) + 3)
    y = nm(x)
    assert (y != x).any()  # training by default: something changed
    nm.eval()
    assert (nm(x) == x).all()
    nm.train()
    assert (nm(x) != x).any()
    assert repr(nn.Dropout(0.2, inplace=True)) == repr(torch.nn.Dropout(0.2, inplace=True))
    with pytest.raises(ValueError, match="between 0 and 1"):
        getattr(nn, cls)(1.5)
