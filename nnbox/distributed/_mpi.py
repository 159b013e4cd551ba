"""The MPI engine: each collective on raw arrays, through mpi4py's buffer interface.

MPI reads and writes C-contiguous host memory.  A NumPy array that already is one is used in
place (no copy); anything else -- a non-contiguous view, a CuPy array (PyPI's MPICH is not
CUDA-aware) -- goes through a contiguous host copy that is written back when the operation
completes.  Each collective is written once: ``_call`` picks MPI's blocking form (``Allreduce``)
or its non-blocking twin (``Iallreduce``, MPI-3) for ``async_op=True``.
"""
from __future__ import annotations

import numpy as np

from .reduce_op import ReduceOp
from .work import Work, wait_requests


def _mpi():
    from mpi4py import MPI  # noqa: PLC0415 - optional, imported on first use

    return MPI


def _host(arr):
    """``(buf, copied)``: a C-contiguous NumPy array holding ``arr``'s values."""
    if arr.dtype.kind == "V":  # MPI has no bfloat16 datatype, and mpi4py no buffer format for it
        raise RuntimeError("the MPI backend cannot communicate bfloat16 tensors (MPI has no bfloat16 "
                           "datatype): cast them to float32 first, or use backend='nccl' on GPUs")
    if type(arr) is np.ndarray:
        if arr.flags.c_contiguous:
            return arr, False
        return np.ascontiguousarray(arr), True
    return np.ascontiguousarray(arr.get()), True  # CuPy -> host


def _put(arr, buf) -> None:
    """Write host buffer ``buf`` into ``arr`` (NumPy or CuPy, any strides)."""
    if type(arr) is np.ndarray:
        arr[...] = buf.reshape(arr.shape)
    else:
        import cupy  # noqa: PLC0415

        arr[...] = cupy.asarray(buf.reshape(arr.shape))


def _empty(n_or_shape, dtype):
    return np.empty(n_or_shape, dtype)


def _mpi_op(op: ReduceOp, dtype: np.dtype):
    MPI = _mpi()
    if dtype == np.bool_:
        # MPI defines only logical reductions on C bool; torch's SUM/MAX of bools is an OR
        table = {ReduceOp.SUM: MPI.LOR, ReduceOp.AVG: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                 ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
                 ReduceOp.BXOR: MPI.LXOR}
        return table[op]
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "iu":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _average(buf, n: int) -> None:
    """In place ``buf /= n``; integers truncate toward zero (C division, as NCCL's ncclAvg)."""
    if buf.dtype.kind in "fcV":
        buf /= n
    elif buf.dtype.kind in "iu":
        np.copyto(buf, np.trunc(buf / n), casting="unsafe")


class MPIEngine:
    """Collectives of one communicator on raw arrays; returns a ``Work`` (async) or None."""

    def __init__(self, comm, watchdog):
        self.comm = comm
        self.watchdog = watchdog
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    # one place starts every operation: MPI's non-blocking form (``Iallreduce`` for ``Allreduce``,
    # MPI-3); a blocking call waits on it at once, politely (``wait_requests``), under the watchdog
    def _call(self, name: str, args: tuple, async_op: bool, finish=None, keep=(), status=None, **kw):
        iname = "I" + name[0].lower() + name[1:]
        req = getattr(self.comm, iname)(*args, **kw)
        if async_op:
            return Work([req], finish, self.watchdog, name, keep=(args, keep))
        wd = self.watchdog
        wd.enter(name)
        try:
            wait_requests([req], status)
        finally:
            wd.leave()
        if finish is not None:
            finish()
        return None

    def agree(self, key: int) -> bool:
        """Whether every rank passed the same ``key`` (one tiny blocking MAX-allreduce of
        ``[key, -key]``: max == min on every rank, so all ranks learn the answer together)."""
        buf = np.array([key, -key], np.int64)
        self._call("Allreduce", (_mpi().IN_PLACE, buf, _mpi().MAX), False)
        return int(buf[0]) == -int(buf[1])

    def barrier(self, async_op: bool):
        return self._call("Barrier", (), async_op)

    def all_reduce(self, arr, op: ReduceOp, async_op: bool):
        buf, copied = _host(arr)
        mop = _mpi_op(op, buf.dtype)

        def finish():
            if op is ReduceOp.AVG:
                _average(buf, self.size)
            if copied:
                _put(arr, buf)

        return self._call("Allreduce", (_mpi().IN_PLACE, buf, mop), async_op, finish)

    def broadcast(self, arr, root: int, async_op: bool):
        buf, copied = _host(arr)
        finish = (lambda: _put(arr, buf)) if copied and self.rank != root else None
        return self._call("Bcast", (buf,), async_op, finish, root=root)

    def reduce(self, arr, root: int, op: ReduceOp, async_op: bool):
        buf, copied = _host(arr)
        mop = _mpi_op(op, buf.dtype)
        if self.rank == root:
            def finish():
                if op is ReduceOp.AVG:
                    _average(buf, self.size)
                if copied:
                    _put(arr, buf)

            return self._call("Reduce", (_mpi().IN_PLACE, buf, mop), async_op, finish, root=root)
        return self._call("Reduce", (buf, None, mop), async_op, root=root)

    def all_gather(self, outs: list, arr, async_op: bool):
        """``outs[i] <- arr`` of rank i; sizes may differ between ranks (``Allgatherv``)."""
        send, _ = _host(arr)
        counts = [int(o.size) for o in outs]
        recv = _empty(sum(counts), send.dtype)

        def finish():
            off = 0
            for o, c in zip(outs, counts):
                _put(o, recv[off:off + c])
                off += c

        return self._call("Allgatherv", (send, [recv, counts]), async_op, finish)

    def all_gather_into(self, out, arr, async_op: bool):
        send, _ = _host(arr)
        buf, copied = _host(out)
        finish = (lambda: _put(out, buf)) if copied else None
        return self._call("Allgather", (send, buf), async_op, finish)

    def reduce_scatter(self, out, inputs: list, op: ReduceOp, async_op: bool):
        counts = [int(i.size) for i in inputs]
        send = np.concatenate([_host(i)[0].reshape(-1) for i in inputs]) if inputs else _empty(0, out.dtype)
        buf, copied = _host(out)
        mop = _mpi_op(op, send.dtype)

        def finish():
            if op is ReduceOp.AVG:
                _average(buf, self.size)
            if copied:
                _put(out, buf)

        return self._call("Reduce_scatter", (send, buf, counts, mop), async_op, finish)

    def scatter(self, out, inputs: list | None, root: int, async_op: bool):
        buf, copied = _host(out)
        if self.rank == root:
            send = np.concatenate([_host(i)[0].reshape(-1) for i in inputs])
        else:
            send = None
        finish = (lambda: _put(out, buf)) if copied else None
        return self._call("Scatter", (send, buf), async_op, finish, keep=send, root=root)

    def gather(self, outs: list | None, arr, root: int, async_op: bool):
        send, _ = _host(arr)
        if self.rank == root:
            recv = _empty((self.size,) + send.shape, send.dtype)

            def finish():
                for i, o in enumerate(outs):
                    _put(o, recv[i])

            return self._call("Gather", (send, recv), async_op, finish, root=root)
        return self._call("Gather", (send, None), async_op, root=root)

    def all_to_all(self, outs: list, inputs: list, async_op: bool):
        send = np.concatenate([_host(i)[0].reshape(-1) for i in inputs])
        scounts = [int(i.size) for i in inputs]
        rcounts = [int(o.size) for o in outs]
        recv = _empty(sum(rcounts), send.dtype)

        def finish():
            off = 0
            for o, c in zip(outs, rcounts):
                _put(o, recv[off:off + c])
                off += c

        return self._call("Alltoallv", ([send, scounts], [recv, rcounts]), async_op, finish)

    def send(self, arr, dst: int, tag: int, async_op: bool):
        buf, _ = _host(arr)
        return self._call("Send", (buf,), async_op, dest=dst, tag=tag)

    def recv(self, arr, src: int | None, tag: int, async_op: bool):
        MPI = _mpi()
        buf, copied = _host(arr)
        finish = (lambda: _put(arr, buf)) if copied else None
        source = MPI.ANY_SOURCE if src is None else src
        if async_op:
            return self._call("Recv", (buf,), True, finish, source=source, tag=tag)
        status = MPI.Status()
        self._call("Recv", (buf,), False, finish, source=source, tag=tag, status=status)
        return status.Get_source()

    # --- picklable objects (MPI's lowercase API pickles) ---------------------------------------
    def _obj(self, name: str, *args, **kw):
        wd = self.watchdog
        wd.enter(name)
        try:
            return getattr(self.comm, name)(*args, **kw)
        finally:
            wd.leave()

    def allgather_obj(self, obj):
        return self._obj("allgather", obj)

    def bcast_obj(self, obj, root: int):
        return self._obj("bcast", obj, root=root)

    def gather_obj(self, obj, root: int):
        return self._obj("gather", obj, root=root)

    def scatter_obj(self, objs, root: int):
        return self._obj("scatter", objs, root=root)
