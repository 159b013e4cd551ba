"""DistributedDataParallel's semantics on MPI ranks: averaging, buckets, no_sync, unused parameters,
buffers, torch's surface and errors, mismatched models detected at construction."""
from __future__ import annotations

import pytest

from _distributed_launch import assert_ok, needs_mpi, run_ranks

SEMANTICS = r'''
import sys
import numpy as np
import nnbox
import nnbox.nn as nn
import nnbox.nn.functional as F
import nnbox.distributed as dist
from nnbox.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
nnbox.set_default_dtype(nnbox.float64)


def raises(exc, fn, match):
    try:
        fn()
    except exc as e:
        assert match in str(e), (match, str(e))
        return str(e)
    raise AssertionError(f"expected {exc.__name__}: {match}")


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)
        self.spare = nn.Linear(3, 2)

    def forward(self, x, use_spare=False):
        y = self.b(F.relu(self.a(x)))
        return y + self.spare(x) if use_spare else y


x = nnbox.from_numpy(np.random.default_rng(R).normal(size=(6, 3)))
xs = [nnbox.from_numpy(np.random.default_rng(r).normal(size=(6, 3))) for r in range(W)]

# 1. gradients are the average of the per-rank gradients (also: several buckets, tiny cap)
nnbox.manual_seed(0)
ddp = DDP(Two(), bucket_cap_mb=0.00005)
assert len(ddp.reducer._buckets) > 1
plain = Two()
plain.load_state_dict(ddp.module.state_dict())
ddp(x, True).pow(2).sum().backward()
for r in range(W):
    plain(xs[r], True).pow(2).sum().backward()
for p, q in zip(ddp.module.parameters(), plain.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy() / W, rtol=1e-12, atol=1e-14)

# 2. no_sync: accumulate locally, then the next synchronised backward averages the sum
ddp.zero_grad()
plain.zero_grad()
with ddp.no_sync():
    ddp(x, True).sum().backward()
local = [p.grad.numpy().copy() for p in ddp.module.parameters()]
mine = Two(); mine.load_state_dict(ddp.module.state_dict()); mine(x, True).sum().backward()
for g, q in zip(local, mine.parameters()):
    np.testing.assert_allclose(g, q.grad.numpy(), rtol=1e-12)   # not averaged inside no_sync
ddp(x, True).sum().backward()
for r in range(W):
    plain(xs[r], True).sum().backward()
    plain(xs[r], True).sum().backward()
for p, q in zip(ddp.module.parameters(), plain.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy() / W, rtol=1e-12, atol=1e-14)

# 3. a parameter without gradient and find_unused_parameters=False: torch's error at next forward
ddp.zero_grad()
ddp(x).sum().backward()
msg = raises(RuntimeError, lambda: ddp(x), "Expected to have finished reduction in the prior iteration")
assert "Parameter indices which did not receive grad for rank" in msg and "find_unused_parameters=True" in msg

# 4. find_unused_parameters=True: unused everywhere -> grad stays None; used on one rank -> averaged
nnbox.manual_seed(0)
ddp = DDP(Two(), find_unused_parameters=True)
ddp(x).sum().backward()
assert ddp.module.spare.weight.grad is None and ddp.module.a.weight.grad is not None
ddp.zero_grad()
ddp(x, use_spare=(R == 0)).sum().backward()
want = ddp.module.spare.weight.detach() * 0 + xs[0].sum(0).reshape(1, 3).numpy() / W
np.testing.assert_allclose(ddp.module.spare.weight.grad.numpy(), want.numpy(), rtol=1e-12)
ddp.zero_grad()
ddp(x).sum().backward()     # and again, all fine, iteration after iteration
ddp(x).sum().backward()

# 5. buffers follow rank 0 at construction and at each forward (broadcast_buffers=True)
bn = nn.Module()
bn.lin = nn.Linear(2, 2)
bn.register_buffer("stat", nnbox.full((2,), float(R)))
bn.forward = lambda inp: bn.lin(inp) + bn.stat
ddp_bn = DDP(bn)
assert bn.stat.tolist() == [0.0, 0.0]
bn.stat.fill_(float(R + 5))
ddp_bn(nnbox.ones(1, 2))
assert bn.stat.tolist() == [5.0, 5.0], bn.stat

# 6. torch's surface: repr, state_dict keys, module attribute, arguments
lin = nn.Linear(2, 2)
d = DDP(lin)
assert d.module is lin and list(d.state_dict()) == ["module.weight", "module.bias"]
assert repr(d) == "DistributedDataParallel(\n  (module): Linear(in_features=2, out_features=2, bias=True)\n)", repr(d)
raises(ValueError, lambda: DDP(nn.Linear(2, 2), device_ids=[0]), "device_ids and output_device arguments only work")
raises(RuntimeError, lambda: DDP(nn.Linear(2, 2).requires_grad_(False)), "doesn't have any parameter that requires")
raises(ValueError, lambda: DDP(nn.Linear(2, 2), mixed_precision=object()), "mixed_precision")
sys.stdout.write(f"OK {R}\n"); sys.stdout.flush()
'''

MISMATCH = r'''
import sys
import nnbox, nnbox.nn as nn, nnbox.distributed as dist
from nnbox.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("mpi")
R = dist.get_rank()
model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3 if R != 1 else 5))
try:
    DDP(model)
except RuntimeError as e:
    assert "DDP expects same model across all ranks" in str(e) and "rank 1" in str(e), str(e)
    sys.stdout.write(f"MISMATCH {R}: {e}\n"); sys.stdout.flush()
else:
    raise AssertionError("mismatch not detected")
extra = nn.Sequential(*([nn.Linear(2, 2)] * 1 + ([nn.Linear(2, 2)] if R == 0 else [])))
try:
    DDP(extra)
except RuntimeError as e:
    assert "params" in str(e), str(e)
    sys.stdout.write(f"COUNT {R}\n"); sys.stdout.flush()
'''


@needs_mpi
@pytest.mark.parametrize("n", [2])
def test_ddp_semantics(tmp_path, n):
    assert_ok(run_ranks(SEMANTICS, n, tmp_path, timeout=120), n)


@needs_mpi
def test_ddp_detects_mismatched_shapes(tmp_path):
    proc = run_ranks(MISMATCH, 3, tmp_path, timeout=60)
    assert_ok(proc, 3, marker="MISMATCH")
    assert_ok(proc, 3, marker="COUNT")
    assert "shape [5, 8]" in proc.stdout and "rank 0 has shape [3, 8]" in proc.stdout


def test_ddp_needs_process_group():
    import nnbox.nn as nn
    from nnbox.nn.parallel import DistributedDataParallel

    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(nn.Linear(2, 2))
