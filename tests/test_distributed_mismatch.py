"""issue 16: a collective whose ranks pass different shapes or dtypes raises on every rank.

Before: all_reduce of 4 elements on rank 0 and 8 on rank 1 (or float32 against float64)
returned garbage with exit code 0.  Now every collective agrees on a key of its arguments
first, and the group stays usable after the error."""
from __future__ import annotations

from _distributed_launch import assert_ok, needs_mpi, run_ranks

pytestmark = needs_mpi

JOB = r'''
import sys
import nnbox, nnbox.distributed as dist
dist.init_process_group("gloo")
r = dist.get_rank()
f32, f64 = nnbox.float32, nnbox.float64
cases = {
    "numel": lambda: dist.all_reduce(nnbox.ones(4 if r == 0 else 8)),
    "dtype": lambda: dist.all_reduce(nnbox.ones(4, dtype=f32 if r == 0 else f64)),
    "shape": lambda: dist.all_reduce(nnbox.ones(2, 4) if r == 0 else nnbox.ones(4, 2)),
    "op": lambda: dist.all_reduce(nnbox.ones(4), op=dist.ReduceOp.SUM if r == 0 else dist.ReduceOp.MAX),
    "async": lambda: dist.all_reduce(nnbox.ones(4 + r), async_op=True).wait(),
    "broadcast": lambda: dist.broadcast(nnbox.ones(3 + r), 0),
    "broadcast_src": lambda: dist.broadcast(nnbox.ones(3), r),
    "reduce": lambda: dist.reduce(nnbox.ones(3, dtype=f32 if r == 0 else f64), 0),
    "all_gather": lambda: dist.all_gather([nnbox.zeros(3 + r), nnbox.zeros(3 + r)], nnbox.ones(3 + r)),
    "all_gather_into_tensor": lambda: dist.all_gather_into_tensor(nnbox.zeros(2 * (3 + r)), nnbox.ones(3 + r)),
    "reduce_scatter": lambda: dist.reduce_scatter(nnbox.zeros(3 + r), [nnbox.ones(3 + r)] * 2),
    "reduce_scatter_tensor": lambda: dist.reduce_scatter_tensor(nnbox.zeros(3 + r), nnbox.ones(2 * (3 + r))),
    "scatter": lambda: dist.scatter(nnbox.zeros(3 + r), [nnbox.ones(3), nnbox.ones(3)] if r == 0 else None, 0),
    "gather": lambda: dist.gather(nnbox.ones(3 + r), [nnbox.zeros(3), nnbox.zeros(3)] if r == 0 else None, 0),
    "all_to_all": lambda: dist.all_to_all([nnbox.zeros(2), nnbox.zeros(2)], [nnbox.ones(2 + r), nnbox.ones(2)]),
    "all_to_all_single": lambda: dist.all_to_all_single(nnbox.zeros(4), nnbox.ones(4), [2, 2],
                                                        [2, 2] if r == 0 else [1, 3]),
}
for name, f in cases.items():
    try:
        f()
        sys.stdout.write(f"SILENT {name} {r}\n"); sys.stdout.flush()
    except RuntimeError as e:
        assert "don't match" in str(e), str(e)
        if name in ("numel", "dtype"):
            assert "rank 0: torch.float32 [4]" in str(e) and ("rank 1: torch.float32 [8]" in str(e)
                                                            or "rank 1: torch.float64 [4]" in str(e)), str(e)
# matching calls still work, and the group is intact after all those errors
t = nnbox.ones(4) * (r + 1)
dist.all_reduce(t)
assert t.tolist() == [3.0] * 4, t
outs = [nnbox.zeros(2 + i) for i in range(2)]
dist.all_gather(outs, nnbox.ones(2 + r) * r)   # different sizes per rank, described alike: fine
assert [o.tolist() for o in outs] == [[0.0, 0.0], [1.0, 1.0, 1.0]]
sys.stdout.write(f"OK {r}\n"); sys.stdout.flush()  # one write: two ranks share the terminal
'''


def test_mismatched_collectives_raise_on_every_rank(tmp_path):
    proc = run_ranks(JOB, 2, tmp_path, timeout=120)
    assert "SILENT" not in proc.stdout, proc.stdout
    assert_ok(proc, 2)
