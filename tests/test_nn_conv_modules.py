"""nn.Conv*/ConvTranspose* vs torch: repr, state_dict, forward, all gradients, init, errors."""
import math

import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn
from nn_module_oracle import compare_module
from oracle import arr

F64 = dict(dtype=torch.float64)
N64 = dict(dtype=nnbox.float64)

CONV2D = [
    ((3, 8, 3), {}), ((3, 8, (3, 2)), dict(stride=2, padding=1, bias=False)),
    ((4, 6, 3), dict(groups=2, dilation=2, padding=(2, 1))), ((3, 5, 4), dict(padding="same")),
    ((3, 5, 3), dict(padding="valid")), ((3, 4, 3), dict(padding=1, padding_mode="reflect")),
    ((3, 4, 3), dict(padding=(2, 1), padding_mode="replicate", stride=2)), ((3, 4, 3), dict(padding=1, padding_mode="circular")),
    ((3, 4, (2, 4)), dict(padding="same", padding_mode="reflect", dilation=(2, 1))),
]


@pytest.mark.parametrize("args,kw", CONV2D)
def test_conv2d_module(args, kw):
    compare_module(torch.nn.Conv2d(*args, **kw, **F64), nn.Conv2d(*args, **kw, **N64), arr(2, args[0], 7, 8))


def test_conv2d_module_float32_and_unbatched():
    compare_module(torch.nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1),
                   arr(2, 3, 6, 6, dtype=np.float32), rtol=1e-4, atol=1e-5)
    compare_module(torch.nn.Conv2d(3, 8, 3, **F64), nn.Conv2d(3, 8, 3, **N64), arr(3, 6, 6))


@pytest.mark.parametrize("args,kw", [((3, 6, 3), {}), ((4, 6, 2), dict(stride=2, padding=1, groups=2)),
                                     ((3, 4, 3), dict(padding=2, padding_mode="circular"))])
def test_conv1d_module(args, kw):
    compare_module(torch.nn.Conv1d(*args, **kw, **F64), nn.Conv1d(*args, **kw, **N64), arr(2, args[0], 9))


def test_conv3d_module():
    compare_module(torch.nn.Conv3d(2, 3, 2, padding=1, **F64), nn.Conv3d(2, 3, 2, padding=1, **N64), arr(2, 2, 3, 4, 3))


@pytest.mark.parametrize("args,kw", [((3, 6, 3), {}), ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
                                     ((3, 2, (2, 3)), dict(stride=(2, 1), dilation=2, bias=False))])
def test_conv_transpose2d_module(args, kw):
    compare_module(torch.nn.ConvTranspose2d(*args, **kw, **F64), nn.ConvTranspose2d(*args, **kw, **N64),
                   arr(2, args[0], 4, 5))


def test_conv_transpose_output_size():
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, **F64)
    nm = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, **N64)
    x = arr(1, 3, 4, 4)
    nm.load_state_dict({k: nnbox.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    for size in [(7, 7), (8, 8), [1, 2, 8, 7]]:
        a = tm(torch.tensor(x), output_size=size)
        b = nm(nnbox.tensor(x), output_size=size)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError):
        tm(torch.tensor(x), output_size=(10, 10))
    with pytest.raises(ValueError):
        nm(nnbox.tensor(x), output_size=(10, 10))


def test_conv_transpose1d_module():
    compare_module(torch.nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1, **F64),
                   nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1, **N64), arr(2, 3, 5))


def test_default_init_distribution():
    nnbox.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-b, b) has std b/sqrt(3)
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    t = nn.ConvTranspose2d(16, 8, 3, groups=2)
    assert tuple(t.weight.shape) == (16, 4, 3, 3)
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / math.sqrt(4 * 9)


@pytest.mark.parametrize("kw", [dict(groups=0), dict(groups=2), dict(padding="foo"), dict(padding="same", stride=2),
                                dict(padding_mode="foo")])
def test_constructor_errors(kw):
    with pytest.raises(ValueError) as te:
        torch.nn.Conv2d(3, 6, 3, **kw)
    with pytest.raises(ValueError) as ne:
        nn.Conv2d(3, 6, 3, **kw)
    if "padding_mode" in kw or kw.get("padding") == "foo":  # torch prints a set: its order varies by run
        assert str(ne.value).split("{")[0] == str(te.value).split("{")[0]
    else:
        assert str(ne.value) == str(te.value)


def test_transpose_padding_mode_error():
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect")


def test_wrong_channels_message():
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 4, 5, 5\] to have 3 channels, but got 4 channels"):
        m(nnbox.ones(2, 4, 5, 5))
