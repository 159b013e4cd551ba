"""SyncBatchNorm on 2 and 4 ranks with uneven shards equals torch's BatchNorm on the whole batch:
outputs, running statistics, input gradients, and weight/bias gradients summed over ranks."""
from __future__ import annotations

import pytest

import nnbox
import nnbox.nn as nn
from _distributed_launch import assert_ok, needs_mpi, run_ranks

SYNC_BN = r'''
import sys
import numpy as np
import torch
import nnbox
import nnbox.nn as nn
import nnbox.distributed as dist

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)

for shape in [(11, 3), (10, 3, 5), (9, 4, 3, 2)]:
    x = rng.normal(2.0, 3.0, size=shape)
    c = rng.normal(size=shape)                       # loss = sum(y * c)
    w0, b0 = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    cuts = np.linspace(0, shape[0], W + 1).astype(int)
    cuts[1:-1] += np.arange(1, W) % 2                # uneven shards
    lo, hi = cuts[R], cuts[R + 1]

    bn = torch.nn.BatchNorm1d(shape[1]) if len(shape) < 4 else torch.nn.BatchNorm2d(shape[1])
    bn = bn.double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(w0)); bn.bias.copy_(torch.from_numpy(b0))
    tx = torch.from_numpy(x).requires_grad_()
    for _ in range(2):                               # two steps: running stats move twice
        ty = bn(tx)
    (ty * torch.from_numpy(c)).sum().backward()

    sbn = nn.SyncBatchNorm(shape[1]).double()
    with nnbox.no_grad():
        sbn.weight.copy_(nnbox.from_numpy(w0)); sbn.bias.copy_(nnbox.from_numpy(b0))
    nx = nnbox.from_numpy(x[lo:hi].copy()).requires_grad_()
    for _ in range(2):
        ny = sbn(nx)
    (ny * nnbox.from_numpy(c[lo:hi].copy())).sum().backward()

    np.testing.assert_allclose(ny.detach().numpy(), ty.detach().numpy()[lo:hi], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy()[lo:hi], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(sbn.running_mean.numpy(), bn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sbn.running_var.numpy(), bn.running_var.numpy(), rtol=1e-12)
    assert int(sbn.num_batches_tracked) == 2
    gw, gb = sbn.weight.grad.clone(), sbn.bias.grad.clone()
    dist.all_reduce(gw); dist.all_reduce(gb)         # local grads, summed = whole-batch grads
    np.testing.assert_allclose(gw.numpy(), bn.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), bn.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    # eval: running statistics, no communication
    sbn.eval(); bn.eval()
    np.testing.assert_allclose(sbn(nx).detach().numpy(), bn(tx).detach().numpy()[lo:hi], rtol=1e-10, atol=1e-12)

# float32 stays float32
y = nn.SyncBatchNorm(2)(nnbox.randn(3, 2))
assert y.dtype == nnbox.float32
sys.stdout.write(f"OK {R}\n"); sys.stdout.flush()
'''


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_sync_batchnorm_matches_whole_batch(tmp_path, n):
    assert_ok(run_ranks(SYNC_BN, n, tmp_path, timeout=180), n)


def test_single_process_is_batchnorm_and_repr_like_torch():
    import numpy as np
    import torch

    assert repr(nn.SyncBatchNorm(3, momentum=None)) == repr(torch.nn.SyncBatchNorm(3, momentum=None))
    bn, sbn = nn.BatchNorm2d(3), nn.SyncBatchNorm(3)
    x = nnbox.randn(4, 3, 2, 2)
    np.testing.assert_allclose(bn(x).detach().numpy(), sbn(x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), sbn.running_var.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        sbn(nnbox.randn(3))
    assert nn.parallel.SyncBatchNorm is nn.SyncBatchNorm


def test_convert_sync_batchnorm_shares_parameters():
    import torch

    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Sequential(nn.BatchNorm1d(3, affine=False)))
    model.eval()
    w = model[1].weight
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert conv is model and type(model[1]) is nn.SyncBatchNorm and type(model[2][0]) is nn.SyncBatchNorm
    assert model[1].weight is w and not model[1].training and model[2][0].weight is None
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3),
                                 torch.nn.Sequential(torch.nn.BatchNorm1d(3, affine=False)))
    assert repr(conv) == repr(torch.nn.SyncBatchNorm.convert_sync_batchnorm(tmodel))
    assert list(conv.state_dict()) == list(tmodel.state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(4))
    assert type(single) is nn.SyncBatchNorm
