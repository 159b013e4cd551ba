"""Normalization layers vs torch: running statistics over several steps, train/eval, state_dict,
repr, input checks."""
import re

import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn
from nn_module_oracle import assert_state_equal, compare_module, copy_state
from oracle import arr

F64 = dict(dtype=torch.float64)
N64 = dict(dtype=nnbox.float64)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (6, 4, 5)), ("BatchNorm2d", (4, 4, 3, 5)),
                                       ("BatchNorm3d", (3, 4, 2, 3, 2))])
@pytest.mark.parametrize("kw", [{}, dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
                                dict(momentum=0.3, eps=1e-3, bias=False)])
def test_batchnorm_steps_train_then_eval(cls, shape, kw):
    tm = getattr(torch.nn, cls)(4, **kw, **F64)
    nm = getattr(nn, cls)(4, **kw, **N64)
    copy_state(tm, nm)
    for step in range(4):  # training steps: outputs, grads and running stats follow torch
        compare_module(tm, nm, arr(*shape) * (step + 1) + step, copy=False)
        for p in list(tm.parameters()) + list(nm.parameters()):
            p.grad = None
    assert_state_equal(tm, nm)
    if kw.get("track_running_stats", True):
        assert int(nm.num_batches_tracked) == 4
    tm.eval()
    nm.eval()
    compare_module(tm, nm, arr(*shape), copy=False)


def test_batchnorm_float32():
    tm, nm = torch.nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    for _ in range(3):
        compare_module(tm, nm, arr(8, 3, 4, 4, dtype=np.float32), rtol=1e-4, atol=1e-5, copy=False)
    tm.eval(), nm.eval()
    compare_module(tm, nm, arr(8, 3, 4, 4, dtype=np.float32), rtol=1e-4, atol=1e-5, copy=False)


def test_batchnorm_state_dict_and_old_checkpoint():
    t, n = torch.nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    assert list(n.state_dict()) == list(t.state_dict())
    assert n.num_batches_tracked.dtype == nnbox.int64
    sd = n.state_dict()
    del sd["num_batches_tracked"]
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        nn.BatchNorm1d(3).load_state_dict(sd)
    sd._metadata[""]["version"] = 1  # a checkpoint from before num_batches_tracked existed
    m = nn.BatchNorm1d(3)
    m.load_state_dict(sd)
    assert int(m.num_batches_tracked) == 0
    assert [k for k, _ in nn.BatchNorm2d(3, affine=False).named_buffers()] == \
        ["running_mean", "running_var", "num_batches_tracked"]
    assert list(nn.BatchNorm2d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


@pytest.mark.parametrize("cls,shape,msg", [("BatchNorm1d", (2, 3, 4, 5), "expected 2D or 3D input (got 4D input)"),
                                           ("BatchNorm2d", (2, 3, 4), "expected 4D input (got 3D input)"),
                                           ("BatchNorm1d", (1, 3), "Expected more than 1 value per channel")])
def test_batchnorm_input_errors(cls, shape, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(torch.nn, cls)(3)(torch.zeros(*shape))
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(nn, cls)(3)(nnbox.zeros(*shape))


def test_batchnorm_eval_single_sample_ok():
    m = nn.BatchNorm1d(3).eval()
    assert m(nnbox.ones(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm2d", (2, 3, 4, 5)),
                                       ("InstanceNorm2d", (3, 4, 5)), ("InstanceNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("kw", [{}, dict(affine=True), dict(track_running_stats=True, momentum=0.2)])
def test_instancenorm(cls, shape, kw):
    tm, nm = getattr(torch.nn, cls)(3, **kw, **F64), getattr(nn, cls)(3, **kw, **N64)
    compare_module(tm, nm, arr(*shape))
    compare_module(tm, nm, arr(*shape), copy=False)
    tm.eval(), nm.eval()
    compare_module(tm, nm, arr(*shape), copy=False)


def test_instancenorm_channel_check():
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm2d(3, affine=True)(nnbox.zeros(2, 4, 4, 4))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(3)(nnbox.randn(2, 4, 4, 4))


@pytest.mark.parametrize("kw", [{}, dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-3)])
def test_layernorm(kw):
    compare_module(torch.nn.LayerNorm((3, 4), **kw, **F64), nn.LayerNorm((3, 4), **kw, **N64), arr(2, 5, 3, 4))
    compare_module(torch.nn.LayerNorm(4, **kw, **F64), nn.LayerNorm(4, **kw, **N64), arr(6, 4))


@pytest.mark.parametrize("kw", [{}, dict(affine=False), dict(bias=False)])
def test_groupnorm(kw):
    compare_module(torch.nn.GroupNorm(2, 6, **kw, **F64), nn.GroupNorm(2, 6, **kw, **N64), arr(3, 6, 4, 2))


def test_groupnorm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


def test_rmsnorm_and_lrn():
    compare_module(torch.nn.RMSNorm(4, **F64), nn.RMSNorm(4, **N64), arr(3, 4))
    compare_module(torch.nn.RMSNorm((2, 4), eps=1e-3, elementwise_affine=False, **F64),
                   nn.RMSNorm((2, 4), eps=1e-3, elementwise_affine=False, **N64), arr(3, 2, 4))
    compare_module(torch.nn.LocalResponseNorm(3), nn.LocalResponseNorm(3), arr(2, 5, 3, 3))


def test_batchnorm_module_in_sequential_trains():
    """BatchNorm inside a model: train() updates stats, eval() freezes them."""
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    m(nnbox.randn(8, 4))
    rm = m[1].running_mean.clone()
    m.eval()
    m(nnbox.randn(8, 4))
    assert (m[1].running_mean == rm).all()
    assert int(m[1].num_batches_tracked) == 1
