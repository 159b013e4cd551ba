"""GPU paths: the NCCL engine (world size 1 and 2 when there are 2 GPUs) and DataParallel.

Skipped without CuPy and an NVIDIA GPU (the development machine has none: not run there).
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

import nnbox
from _distributed_launch import assert_ok, run_ranks

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not nnbox.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU"),
]

NCCL = r'''
import os, sys
import numpy as np
import nnbox
import nnbox.distributed as dist
from nnbox.distributed import ReduceOp

R = int(os.environ["RANK"])
nnbox.cuda.set_device(R)
dist.init_process_group("nccl")
W = dist.get_world_size()
dev = f"cuda:{R}"
for dt in (np.float32, np.float64, np.int64):
    xs = np.stack([np.arange(1, 7, dtype=dt).reshape(2, 3) + r for r in range(W)])
    for op, ref in ((ReduceOp.SUM, xs.sum(0)), (ReduceOp.MAX, xs.max(0)), (ReduceOp.MIN, xs.min(0)),
                    (ReduceOp.PRODUCT, xs.prod(0))):
        t = nnbox.tensor(xs[R], device=dev)
        dist.all_reduce(t, op=op)
        assert np.array_equal(t.cpu().numpy(), ref.astype(dt)), (op, t)
    t = nnbox.tensor(xs[R], device=dev)
    dist.all_reduce(t, async_op=True).wait()
    assert np.array_equal(t.cpu().numpy(), xs.sum(0).astype(dt))
    t = nnbox.tensor(xs[R], device=dev)
    dist.broadcast(t, src=0)
    assert np.array_equal(t.cpu().numpy(), xs[0])
    outs = [nnbox.zeros(2, 3, dtype=t.dtype, device=dev) for _ in range(W)]
    dist.all_gather(outs, nnbox.tensor(xs[R], device=dev))
    assert all(np.array_equal(o.cpu().numpy(), xs[r]) for r, o in enumerate(outs))
    out = nnbox.zeros(2, 3, dtype=t.dtype, device=dev)
    dist.reduce_scatter(out, [nnbox.tensor(xs[R], device=dev) for _ in range(W)])
    assert np.array_equal(out.cpu().numpy(), xs.sum(0))
    out = nnbox.zeros(2, 3, dtype=t.dtype, device=dev)
    dist.scatter(out, [nnbox.tensor(xs[r], device=dev) for r in range(W)] if R == 0 else None, src=0)
    assert np.array_equal(out.cpu().numpy(), xs[R])
    g = [nnbox.zeros(2, 3, dtype=t.dtype, device=dev) for _ in range(W)] if R == 0 else None
    dist.gather(nnbox.tensor(xs[R], device=dev), g, dst=0)
    assert R != 0 or all(np.array_equal(o.cpu().numpy(), xs[r]) for r, o in enumerate(g))
# DDP on the GPU: gradients averaged through NCCL
model = nnbox.nn.Linear(3, 2).to(dev)
ddp = nnbox.nn.parallel.DistributedDataParallel(model, device_ids=[R])
ddp(nnbox.ones(4, 3, device=dev) * (R + 1)).sum().backward()
want = np.full((2, 3), 4.0 * np.mean(np.arange(1, W + 1)))
assert np.allclose(model.weight.grad.cpu().numpy(), want), model.weight.grad
dist.barrier()
sys.stdout.write(f"OK {R}\n"); sys.stdout.flush()
'''


@pytest.mark.mpi
@pytest.mark.parametrize("n", [1, 2])
def test_nccl_collectives(tmp_path, n):
    if nnbox.cuda.device_count() < n:
        pytest.skip(f"needs {n} GPUs")
    if getattr(sys.modules.get("cupy"), "__cupy_standin__", False):
        pytest.skip("NCCL needs a real GPU (the ranks are separate processes, without the CuPy stand-in)")
    assert_ok(run_ranks(NCCL, n, tmp_path, timeout=300), n)


def test_data_parallel_one_device_matches_cpu():
    import nnbox.nn as nn

    nnbox.manual_seed(0)
    cpu = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    gpu = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    gpu.load_state_dict(cpu.state_dict())
    dp = nn.DataParallel(gpu.to("cuda:0"), device_ids=[0])
    x = np.random.default_rng(0).normal(size=(6, 4))
    y_gpu = dp(nnbox.tensor(x))                      # inputs move to device_ids[0]
    y_cpu = cpu(nnbox.tensor(x))
    assert y_gpu.is_cuda
    np.testing.assert_allclose(y_gpu.detach().cpu().numpy(), y_cpu.detach().numpy(), rtol=1e-12)
    y_gpu.sum().backward()
    y_cpu.sum().backward()
    for p, q in zip(gpu.parameters(), cpu.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-12)


def test_data_parallel_all_gpus_matches_cpu():
    import nnbox.nn as nn

    if nnbox.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs")
    nnbox.manual_seed(0)
    cpu = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    gpu = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    gpu.load_state_dict(cpu.state_dict())
    dp = nn.DataParallel(gpu.to("cuda:0"))
    x = np.random.default_rng(0).normal(size=(10, 4))
    y = dp(nnbox.tensor(x, device="cuda:0"))
    y.pow(2).sum().backward()
    yc = cpu(nnbox.tensor(x))
    yc.pow(2).sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), yc.detach().numpy(), rtol=1e-12)
    for p, q in zip(gpu.parameters(), cpu.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-10)
