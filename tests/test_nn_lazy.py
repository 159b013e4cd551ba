"""Lazy layers (LazyConv*, LazyConvTranspose*, LazyBatchNorm*, LazyInstanceNorm*) against torch: reprs
before and after the first call, the layer they become, shapes, values once weights are copied, errors."""
import re

import numpy as np
import pytest
import torch

import nnbox
from oracle import arr

CASES = [
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 7)),
    ("LazyConv2d", (4, 3), {"stride": 2, "bias": False}, (2, 3, 6, 6)),
    ("LazyConv2d", (4, 3), {"groups": 2, "padding_mode": "reflect", "padding": 1}, (2, 6, 5, 5)),
    ("LazyConv2d", (4, 3), {}, (3, 6, 6)),  # unbatched
    ("LazyConv3d", (2, 2), {"dilation": 1}, (1, 3, 4, 4, 4)),
    ("LazyConvTranspose1d", (2, 3), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"output_padding": 1, "stride": 2}, (1, 2, 4, 4)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), {}, (8, 5)),
    ("LazyBatchNorm1d", (), {"momentum": None}, (8, 5, 3)),
    ("LazyBatchNorm2d", (), {"affine": False}, (4, 3, 2, 2)),
    ("LazyBatchNorm2d", (), {"affine": False, "track_running_stats": False}, (4, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {"eps": 1e-3}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {}, (2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("name,args,kw,shape", CASES)
def test_lazy_layer_matches_torch(name, args, kw, shape):
    tm = getattr(torch.nn, name)(*args, **kw).double()
    nm = getattr(nnbox.nn, name)(*args, **kw, dtype=nnbox.float64)
    assert repr(nm) == repr(tm)
    x = arr(*shape)
    tout = tm(torch.tensor(x))
    nm(nnbox.tensor(x))  # materialise, then give both the same weights and run again
    assert repr(nm) == repr(tm) and type(nm).__name__ == type(tm).__name__
    assert type(nm) is getattr(nnbox.nn, type(tm).__name__)
    sd = {k: nnbox.tensor(v.numpy()) for k, v in tm.state_dict().items()}
    before = {k: v.numpy().copy() for k, v in tm.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in nm.state_dict().items()} == {k: tuple(v.shape) for k, v in before.items()}
    nm.load_state_dict(sd)
    xt, xn = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    tout, nout = tm(xt), nm(xn)
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    tout.sum().backward()
    nout.sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    for (k, tp), np_ in zip(tm.named_parameters(), nm.parameters()):
        np.testing.assert_allclose(np_.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("lazy,eager,shape", [
    (lambda: nnbox.nn.LazyConv2d(4, 3, padding=1), lambda: nnbox.nn.Conv2d(3, 4, 3, padding=1), (1, 3, 5, 5)),
    (lambda: nnbox.nn.LazyConvTranspose1d(2, 3), lambda: nnbox.nn.ConvTranspose1d(3, 2, 3), (1, 3, 5)),
    (lambda: nnbox.nn.LazyBatchNorm2d(), lambda: nnbox.nn.BatchNorm2d(3), (2, 3, 2, 2)),
])
def test_lazy_init_is_the_eager_layers(lazy, eager, shape):
    nnbox.manual_seed(7)
    m = lazy()
    m(nnbox.zeros(*shape))
    nnbox.manual_seed(7)
    e = eager()
    for (k, a), b in zip(m.state_dict().items(), e.state_dict().values()):
        if k != "num_batches_tracked" and not k.startswith("running"):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert m.num_batches_tracked.item() == 1 if hasattr(m, "num_batches_tracked") else True


@pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")
def test_lazy_parameters_given_to_an_optimizer_before_the_first_call_train():
    # the optimizer holds the parameters before they are materialised, and trains them as torch
    # does: same seed, same draws, same losses
    import torch

    runs = []
    for lib in (torch, nnbox):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.LazyConv2d(2, 3), lib.nn.LazyBatchNorm2d(), lib.nn.Flatten(),
                              lib.nn.LazyLinear(1))
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        x = lib.randn(4, 3, 5, 5)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = (m(x) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append(losses)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)
    assert [type(c).__name__ for c in m] == ["Conv2d", "BatchNorm2d", "Flatten", "Linear"]


def test_lazy_instance_norm_unbatched_reads_the_channel_dim():
    # torch 2.13 reads dim 1 even for unbatched input (and then warns that the sizes differ); nnbox
    # reads the channel dim, so an unbatched (C, H, W) input gives C features
    m = nnbox.nn.LazyInstanceNorm2d()
    m(nnbox.randn(3, 4, 4))
    assert m.num_features == 3 and m.running_mean.shape == (3,)


def test_lazy_load_state_dict_materialises():
    src = nnbox.nn.BatchNorm1d(4)
    src.running_mean.fill_(2.0)
    m = nnbox.nn.LazyBatchNorm1d()
    m.load_state_dict(src.state_dict())
    assert m.running_mean.tolist() == [2.0] * 4 and m.weight.shape == (4,)


@pytest.mark.parametrize("fn", [
    lambda m: m.nn.LazyConv2d(4, 3)(m.ones(5, 5)),                 # wrong rank
    lambda m: m.nn.LazyConv2d(4, 3, groups=2)(m.ones(1, 3, 5, 5)),  # channels not divisible by groups
    lambda m: m.nn.LazyConv2d(3, 3, groups=2)(m.ones(1, 4, 5, 5)),  # out_channels not divisible
    lambda m: m.nn.LazyBatchNorm2d()(m.ones(3, 3)),                # wrong rank
    lambda m: m.nn.LazyConvTranspose2d(4, 3, padding_mode="reflect"),
])
def test_lazy_errors(fn):
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value), match=re.escape(str(te.value).split("torch.Size")[0])):
        fn(nnbox)
