"""nn.DataParallel in one process: torch's CPU behaviour, and the replicate/scatter/gather plumbing.

The multi-GPU path is replicate -> scatter -> parallel_apply -> gather; those functions take any
device list, so here they run on ['cpu', 'cpu'] and must give the same outputs and gradients as
the plain module (the autograd wiring is what differs from a single run, not the device).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nnbox
import nnbox.nn as nn
from nnbox.nn.parallel import DataParallel
from nnbox.nn.parallel.data_parallel import gather, parallel_apply, replicate, scatter, scatter_kwargs


@pytest.mark.cpu_only(reason="DataParallel without GPUs: the CPU case")
def test_cpu_runs_module_as_is_like_torch():
    lin = nn.Linear(3, 2)
    dp = nn.DataParallel(lin)
    tlin = torch.nn.Linear(3, 2)
    tlin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in lin.state_dict().items()})
    tdp = torch.nn.DataParallel(tlin)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    out, tout = dp(nnbox.from_numpy(x)), tdp(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6)
    assert repr(dp) == repr(tdp)
    assert list(dp.state_dict()) == list(tdp.state_dict()) == ["module.weight", "module.bias"]
    assert dp.module is lin and dp.device_ids == tdp.device_ids == [] and dp.dim == 0
    out.sum().backward()
    assert lin.weight.grad is not None
    assert nn.parallel.DataParallel is nn.DataParallel is DataParallel


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 5)
        self.b = nn.Linear(5, 3)
        self.register_buffer("offset", nnbox.arange(3.0))

    def forward(self, x, scale=1.0):
        return (self.b(self.a(x).tanh()) + self.offset) * scale, x.sum(1)


@pytest.mark.parametrize("n_dev,batch", [(2, 6), (3, 7), (4, 3)])
def test_replicate_scatter_gather_grads_match_single_run(n_dev, batch):
    nnbox.manual_seed(0)
    net = Net().double()
    x = nnbox.randn(batch, 4, dtype=nnbox.float64, requires_grad=True)
    devs = ["cpu"] * n_dev
    ins, kws = scatter_kwargs((x,), {"scale": 2.0}, devs)
    assert len(ins) == min(n_dev, batch) and all(k == {"scale": 2.0} for k in kws)
    reps = replicate(net, devs[: len(ins)])
    assert reps[0] is not net and reps[0].a is not net.a
    outs = parallel_apply(reps, ins, kws, devs[: len(ins)])
    y, s = gather(outs, "cpu")
    (y.pow(2).sum() + s.sum()).backward()
    grads = {k: p.grad.numpy().copy() for k, p in net.named_parameters()}
    gx = x.grad.numpy().copy()
    net.zero_grad()
    x.grad = None
    y1, s1 = net(x, scale=2.0)
    (y1.pow(2).sum() + s1.sum()).backward()
    np.testing.assert_allclose(y.detach().numpy(), y1.detach().numpy(), rtol=1e-14)
    for k, p in net.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-12, err_msg=k)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-12)


def test_gather_stacks_scalars_and_scatter_splits_structures():
    outs = [nnbox.tensor(1.0), nnbox.tensor(2.0)]
    assert gather(outs, "cpu").tolist() == [1.0, 2.0]
    parts = scatter({"x": nnbox.arange(4.0), "k": 3}, ["cpu", "cpu"])
    assert [p["x"].tolist() for p in parts] == [[0.0, 1.0], [2.0, 3.0]] and parts[1]["k"] == 3


def test_parallel_apply_reraises():
    class Bad(nn.Module):
        def forward(self, x):
            raise ValueError("bad replica")

    with pytest.raises(ValueError, match="bad replica"):
        parallel_apply([Bad(), Bad()], [(nnbox.ones(1),), (nnbox.ones(1),)])
