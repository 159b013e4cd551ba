"""Every collective of nnbox.distributed against NumPy, on 2 and 4 MPI ranks, several dtypes/shapes.

One script runs all checks on every rank (each rank can recompute every other rank's inputs, so
it knows the exact expected result); a failed check raises, which aborts the whole job.
"""
from __future__ import annotations

import pytest

import nnbox
import nnbox.distributed as dist
from _distributed_launch import assert_ok, needs_mpi, run_ranks

COLLECTIVES = r'''
import sys
import numpy as np
import nnbox
import nnbox.distributed as dist
from nnbox.distributed import ReduceOp

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi"

DTYPES = [np.float32, np.float64, np.int64]
SHAPES = [(), (5,), (3, 4), (2, 3, 4)]
TOL = {np.float32: 1e-5, np.float64: 1e-12, np.int64: 0, np.float16: 1e-2}


def data(rank, shape, dt, salt=0):
    rng = np.random.default_rng(1000 * rank + 17 * salt + len(shape))
    if np.dtype(dt).kind == "i":
        return rng.integers(1, 4, size=shape).astype(dt)
    return rng.uniform(0.5, 1.5, size=shape).astype(dt)


def close(got, want, dt, what):
    got = got.numpy() if hasattr(got, "numpy") else got
    assert got.dtype == np.dtype(dt), (what, got.dtype, dt)
    assert got.shape == np.shape(want), (what, got.shape, np.shape(want))
    if TOL[dt] == 0:
        assert np.array_equal(got, want), (what, got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=TOL[dt], atol=TOL[dt], err_msg=what)


def T(a):
    """A tensor owning a copy of ``a`` (0-d included)."""
    return nnbox.from_numpy(np.array(a))


def noncontig(arr):
    """A tensor whose array is a strided (non-contiguous) view holding ``arr``."""
    big = np.zeros(arr.shape + (2,), arr.dtype)
    big[..., 0] = arr
    t = nnbox.from_numpy(big)[..., 0]
    assert arr.ndim == 0 or not t.is_contiguous()
    return t


REF = {ReduceOp.SUM: lambda xs: np.sum(xs, 0), ReduceOp.PRODUCT: lambda xs: np.prod(xs, 0),
       ReduceOp.MIN: lambda xs: np.min(xs, 0), ReduceOp.MAX: lambda xs: np.max(xs, 0)}


def ref(op, xs, dt):
    if op is ReduceOp.AVG:
        s = np.sum(xs, 0)
        return (s / W).astype(dt) if np.dtype(dt).kind == "f" else np.trunc(s / W).astype(dt)
    return REF[op](xs).astype(dt)


for dt in DTYPES:
    for shape in SHAPES:
        tag = f"{np.dtype(dt).name}{shape}"
        xs = np.stack([data(r, shape, dt) for r in range(W)])
        # all_reduce: every op, sync and async, contiguous and strided
        for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
            t = T(xs[R])
            v0 = t._version
            assert dist.all_reduce(t, op=op) is None
            close(t, ref(op, xs, dt), dt, f"all_reduce {op} {tag}")
            assert t._version > v0
            t = noncontig(xs[R])
            w = dist.all_reduce(t, op=op, async_op=True)
            assert w.wait() is True and w.is_completed()
            close(t, ref(op, xs, dt), dt, f"async strided all_reduce {op} {tag}")
        if np.dtype(dt).kind == "i":
            for op, fn in ((ReduceOp.BAND, np.bitwise_and), (ReduceOp.BOR, np.bitwise_or), (ReduceOp.BXOR, np.bitwise_xor)):
                t = T(xs[R])
                dist.all_reduce(t, op=op)
                close(t, fn.reduce(xs, 0), dt, f"all_reduce {op} {tag}")
        # broadcast from every source
        for src in range(W):
            t = T(xs[R])
            dist.broadcast(t, src=src)
            close(t, xs[src], dt, f"broadcast {src} {tag}")
            t = noncontig(xs[R])
            dist.broadcast(t, src=src, async_op=True).wait()
            close(t, xs[src], dt, f"async strided broadcast {src} {tag}")
        # reduce to every destination; the others keep their input
        for dst in range(W):
            for op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.AVG):
                t = T(xs[R])
                dist.reduce(t, dst=dst, op=op)
                close(t, ref(op, xs, dt) if R == dst else xs[R], dt, f"reduce {dst} {op} {tag}")
        # all_gather (list form, then into one tensor)
        outs = [T(np.zeros(shape, dt)) for _ in range(W)]
        dist.all_gather(outs, T(xs[R]))
        for r in range(W):
            close(outs[r], xs[r], dt, f"all_gather {tag}")
        out = T(np.zeros((W,) + shape, dt))
        dist.all_gather_into_tensor(out, T(xs[R]), async_op=True).wait()
        close(out, xs, dt, f"all_gather_into_tensor {tag}")
        # reduce_scatter: rank r gets the reduction of everybody's chunk r
        chunks = np.stack([np.stack([data(r, shape, dt, salt=c) for c in range(W)]) for r in range(W)])
        for op in (ReduceOp.SUM, ReduceOp.MIN, ReduceOp.AVG):
            out = T(np.zeros(shape, dt))
            dist.reduce_scatter(out, [T(chunks[R, c]) for c in range(W)], op=op)
            close(out, ref(op, chunks[:, R], dt), dt, f"reduce_scatter {op} {tag}")
            out = T(np.zeros(shape, dt))
            dist.reduce_scatter_tensor(out, T(chunks[R]), op=op)
            close(out, ref(op, chunks[:, R], dt), dt, f"reduce_scatter_tensor {op} {tag}")
        # scatter / gather through every root
        for root in range(W):
            out = T(np.zeros(shape, dt))
            lst = [T(chunks[root, c]) for c in range(W)] if R == root else None
            dist.scatter(out, lst, src=root)
            close(out, chunks[root, R], dt, f"scatter {root} {tag}")
            glist = [T(np.zeros(shape, dt)) for _ in range(W)] if R == root else None
            dist.gather(T(xs[R]), glist, dst=root)
            if R == root:
                for r in range(W):
                    close(glist[r], xs[r], dt, f"gather {root} {tag}")

# float16 and bool all_reduce
h = np.stack([data(r, (4,), np.float16) for r in range(W)])
t = T(h[R]); dist.all_reduce(t)
close(t, h.astype(np.float32).sum(0).astype(np.float16), np.float16, "float16 all_reduce")
b = nnbox.tensor([R == 0, False, True]); dist.all_reduce(b)
assert b.tolist() == [True, False, True], b

# all_gather with a different size on every rank (Allgatherv)
outs = [nnbox.zeros(r + 1, dtype=nnbox.float64) for r in range(W)]
dist.all_gather(outs, nnbox.full((R + 1,), float(R), dtype=nnbox.float64))
for r in range(W):
    assert outs[r].tolist() == [float(r)] * (r + 1), outs

# all_to_all (lists) and all_to_all_single with uneven splits
ins = [nnbox.tensor([100 * R + c]) for c in range(W)]
outs = [nnbox.zeros(1, dtype=nnbox.int64) for _ in range(W)]
dist.all_to_all(outs, ins)
assert [o.item() for o in outs] == [100 * c + R for c in range(W)], outs
in_split = [c + 1 for c in range(W)]               # rank R sends c+1 rows to rank c
out_split = [R + 1] * W                            # ...so it receives R+1 rows from everyone
inp = nnbox.cat([nnbox.full((c + 1, 2), float(10 * R + c)) for c in range(W)])
out = nnbox.zeros(sum(out_split), 2)
dist.all_to_all_single(out, inp, out_split, in_split)
want = np.concatenate([np.full((R + 1, 2), 10.0 * c + R) for c in range(W)])
assert np.array_equal(out.numpy(), want.astype(np.float32)), out

# point to point: a ring with send/recv, then isend/irecv, then recv from any source
nxt, prv = (R + 1) % W, (R - 1) % W
buf = nnbox.zeros(3, dtype=nnbox.float64)
if R % 2 == 0:
    dist.send(nnbox.full((3,), float(R), dtype=nnbox.float64), nxt)
    assert dist.recv(buf, prv) == prv
else:
    assert dist.recv(buf, prv) == prv
    dist.send(nnbox.full((3,), float(R), dtype=nnbox.float64), nxt)
assert buf.tolist() == [float(prv)] * 3, buf
rw = dist.irecv(buf, src=prv, tag=7)
sw = dist.isend(nnbox.full((3,), R + 0.5, dtype=nnbox.float64), nxt, tag=7)
sw.wait(); rw.wait()
assert buf.tolist() == [prv + 0.5] * 3, buf
ops = [dist.P2POp(dist.isend, nnbox.full((2,), float(R)), nxt, tag=3), dist.P2POp(dist.irecv, buf2 := nnbox.zeros(2), prv, tag=3)]
works = dist.batch_isend_irecv(ops)
while not all(w.is_completed() for w in works):
    pass
assert buf2.tolist() == [float(prv)] * 2, buf2
if R == 0:
    got = sorted(dist.recv(nnbox.zeros(1), None) for _ in range(W - 1))
    assert got == list(range(1, W)), got
else:
    dist.send(nnbox.ones(1), 0)

# picklable objects
objs = [None] * W
dist.all_gather_object(objs, {"rank": R, "name": f"r{R}"})
assert objs == [{"rank": r, "name": f"r{r}"} for r in range(W)], objs
lst = [R, "x", None] if R == 1 else [None, None, None]
dist.broadcast_object_list(lst, src=1)
assert lst == [1, "x", None], lst
g = [None] * W if R == 0 else None
dist.gather_object(("g", R), g, dst=0)
assert R != 0 or g == [("g", r) for r in range(W)], g
o = [None]
dist.scatter_object_list(o, [f"s{r}" for r in range(W)] if R == W - 1 else None, src=W - 1)
assert o == [f"s{R}"], o

# a sub-group of the even ranks: global src, group-local ranks
evens = list(range(0, W, 2))
sub = dist.new_group(evens)
if R in evens:
    assert dist.get_rank(sub) == R // 2 and dist.get_world_size(sub) == len(evens)
    t = nnbox.tensor([float(R)]); dist.all_reduce(t, group=sub)
    assert t.item() == float(sum(evens)), t
    t = nnbox.tensor([float(R)]); dist.broadcast(t, src=evens[-1], group=sub)
    assert t.item() == float(evens[-1]), t
else:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    assert dist.all_reduce(nnbox.ones(1), group=sub) is None
assert dist.get_process_group_ranks(dist.group.WORLD) == list(range(W))

# argument errors, torch's types
def raises(exc, fn, match):
    try:
        fn()
    except exc as e:
        assert match in str(e), (match, str(e))
    else:
        raise AssertionError(f"expected {exc.__name__}: {match}")

raises(TypeError, lambda: dist.all_reduce(np.ones(2)), "Expected parameter `tensor` of type torch.Tensor")
raises(ValueError, lambda: dist.all_gather([nnbox.zeros(2)], nnbox.zeros(2)), "expected a list of")
raises(ValueError, lambda: dist.all_gather_into_tensor(nnbox.zeros(1), nnbox.zeros(2)), "world_size")
raises(ValueError, lambda: dist.init_process_group("mpi"), "twice")
raises(TypeError, lambda: dist.all_reduce(nnbox.ones(1), op="sum"), "ReduceOp")
raises(RuntimeError, lambda: dist.all_reduce(nnbox.ones(1), op=ReduceOp.BAND), "non-integral")
raises(ValueError, lambda: dist.broadcast(nnbox.ones(1), src=W), "not part of group")

dist.barrier()
dist.barrier(async_op=True).wait()
import datetime
dist.monitored_barrier(timeout=datetime.timedelta(seconds=30))
dist.destroy_process_group()
assert not dist.is_initialized()
sys.stdout.write(f"OK {R}\n"); sys.stdout.flush()  # one write: ranks share the pipe
'''


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_match_numpy(tmp_path, n):
    proc = run_ranks(COLLECTIVES, n, tmp_path, timeout=180)
    assert_ok(proc, n)


def test_not_initialized_errors_like_torch():
    msg = "Default process group has not been initialized, please make sure to call init_process_group."
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(nnbox.ones(2)),
               lambda: dist.broadcast(nnbox.ones(2), 0), lambda: dist.destroy_process_group()):
        with pytest.raises(ValueError, match=msg):
            fn()


def test_reduce_op_and_backend_names():
    import torch.distributed as tdist

    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert repr(getattr(dist.ReduceOp, name)) == repr(getattr(tdist.ReduceOp, name))
    assert dist.Backend("MPI") == "mpi" and dist.Backend("nccl") == "nccl"
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.Backend("carrier-pigeon")
    import importlib.util

    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    assert dist.default_pg_timeout == tdist.default_pg_timeout


def test_import_does_not_load_mpi():
    import subprocess
    import sys

    code = "import nnbox.distributed, sys; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
