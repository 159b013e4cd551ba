"""DistributedDataParallel on 2 and 4 MPI ranks equals one process on the same global batch.

Each job trains the DDP model on every rank's shard (``DistributedSampler``, reshuffled by
``set_epoch``) and, on rank 0, the same model in one process on the whole global batch (the same
permutation); after 20 SGD-with-momentum steps in float64 the parameters must agree to 1e-10, all
ranks must hold identical parameters, and the test accuracies must be equal.  The CNN is also
trained with BatchNorm converted to SyncBatchNorm, which must match BatchNorm on the whole batch.  Data: MNIST5k if nnbox.vision
provides it, else scikit-learn's digits.
"""
from __future__ import annotations

import pytest

from _distributed_launch import assert_ok, needs_mpi, run_ranks

pytestmark = needs_mpi

COMMON = r'''
import sys
import numpy as np
import nnbox
import nnbox.nn as nn
import nnbox.nn.functional as F
import nnbox.distributed as dist
from nnbox.nn.parallel import DistributedDataParallel as DDP
from nnbox.utils.data import DataLoader, DistributedSampler, TensorDataset

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
nnbox.set_default_dtype(nnbox.float64)


def load_data(n_train, image):
    """(x_train, y_train, x_test, y_test, side) of MNIST5k (nnbox's own dataset: imported strictly)."""
    from nnbox.vision.datasets import MNIST5k

    tr, te = MNIST5k(train=True), MNIST5k(train=False)
    x, y = tr.data.numpy().astype(np.float64) / 255.0, tr.targets.numpy()
    xt, yt = te.data.numpy().astype(np.float64) / 255.0, te.targets.numpy()
    side = 28
    shape = (1, side, side) if image else (side * side,)
    t = lambda a: nnbox.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return t(x.reshape((len(x),) + shape)), t(y), t(xt.reshape((len(xt),) + shape)), t(yt), side


def accuracy(model, x, y):
    model.eval()
    with nnbox.no_grad():
        pred = model(x).argmax(1)
    model.train()
    return float((pred == y).double().mean().item())


def train(make_model, image, steps=20, gbatch=32, sync_bn=False):
    """DDP training on this rank's shard; rank 0 also trains the single-process reference on the
    whole global batch and checks that both end with the same parameters and test accuracy."""
    xtr, ytr, xte, yte, side = load_data(1280, image)
    data = TensorDataset(xtr, ytr)
    nnbox.manual_seed(R + 100)           # a different init per rank: DDP must broadcast rank 0's
    local = make_model(side)
    if sync_bn:
        local = nn.SyncBatchNorm.convert_sync_batchnorm(local)
    ddp = DDP(local)
    opt = nnbox.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    shard = DistributedSampler(data, shuffle=True, seed=7)
    done = 0
    for epoch in range(100):
        shard.set_epoch(epoch)           # reshuffles; the union of the shards is one global batch
        for xb, yb in DataLoader(data, gbatch // W, sampler=shard):
            opt.zero_grad()
            F.cross_entropy(ddp(xb), yb).backward()
            opt.step()
            done += 1
            if done == steps:
                break
        if done == steps:
            break
    mine = np.concatenate([v.detach().numpy().ravel().astype(np.float64) for v in ddp.module.state_dict().values()])
    everyone = [None] * W
    dist.all_gather_object(everyone, mine)
    assert all(np.array_equal(everyone[0], e) for e in everyone), "ranks disagree on the parameters"
    acc = accuracy(ddp, xte, yte)
    if R == 0:
        nnbox.manual_seed(100)           # the single-process run starts from rank 0's init
        ref = make_model(side)
        ref_opt = nnbox.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
        whole = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=7)  # same permutation
        done = 0
        for epoch in range(100):
            whole.set_epoch(epoch)
            for xg, yg in DataLoader(data, gbatch, sampler=whole):
                ref_opt.zero_grad()
                F.cross_entropy(ref(xg), yg).backward()
                ref_opt.step()
                done += 1
                if done == steps:
                    break
            if done == steps:
                break
        worst = max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
                    for p, q in zip(ref.state_dict().values(), ddp.module.state_dict().values()))
        assert worst < 1e-10, f"DDP and single-process parameters differ by {worst}"
        nnbox.manual_seed(100)
        moved = max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
                    for p, q in zip(ref.parameters(), make_model(side).parameters()))
        assert moved > 1e-3, "training did not change the parameters"
        acc_ref = accuracy(ref, xte, yte)
        assert acc == acc_ref, (acc, acc_ref)
    assert list(ddp.state_dict())[0].startswith("module.")
    return acc
'''

MLP = COMMON + r'''
class Net(nn.Module):
    """The seeds' three-layer Net: Linear-ReLU-Linear-ReLU-Linear."""

    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super().__init__()
        self.layer = nn.Sequential(nn.Linear(in_dim, n_hidden_1), nn.ReLU(True), nn.Linear(n_hidden_1, n_hidden_2),
                                   nn.ReLU(True), nn.Linear(n_hidden_2, out_dim))

    def forward(self, x):
        return self.layer(x)


acc = train(lambda side: Net(side * side, 300, 100, 10), image=False)
assert acc > 0.5, acc
sys.stdout.write(f"OK {R} acc={acc:.4f}\n"); sys.stdout.flush()
'''

CNN = COMMON + r'''
def cnn(side, bn=False):
    layers = [nn.Conv2d(1, 4, 3, padding=1)] + ([nn.BatchNorm2d(4)] if bn else []) + [
        nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(8 * (side // 4) ** 2, 10)]
    return nn.Sequential(*layers)


acc = train(cnn, image=True)
assert acc > 0.5, acc
acc_bn = train(lambda side: cnn(side, bn=True), image=True, sync_bn=True)
sys.stdout.write(f"OK {R} acc={acc:.4f} bn={acc_bn:.4f}\n"); sys.stdout.flush()
'''


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_ddp_mlp_matches_single_process(tmp_path, n):
    assert_ok(run_ranks(MLP, n, tmp_path, timeout=240), n)


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_ddp_cnn_matches_single_process(tmp_path, n):
    assert_ok(run_ranks(CNN, n, tmp_path, timeout=240), n)

