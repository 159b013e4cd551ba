"""The NCCL engine: collectives between GPUs on CuPy arrays, through ``cupy.cuda.nccl``.

The communicator is created on the first GPU collective (the device the caller selected with
``nnbox.cuda.set_device`` must be current by then, as in torch): rank 0 draws NCCL's unique id
and MPI broadcasts it.  Operations are enqueued on the current CuPy stream, so they are ordered
with the surrounding kernels; ``async_op=True`` returns a ``Work`` whose ``wait()`` synchronises
on an event recorded after the operation.  Scatter and gather (which NCCL lacks) are grouped
point-to-point sends and receives.

Not exercised on the development machine (no GPU there); guarded so that importing nnbox never
touches CuPy.
"""
from __future__ import annotations

from .reduce_op import ReduceOp
from .work import Work


def _nccl():
    from cupy.cuda import nccl  # noqa: PLC0415 - optional

    return nccl


def _dtype(nccl, dt):
    table = {
        "int8": nccl.NCCL_INT8, "uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32,
        "uint32": nccl.NCCL_UINT32, "int64": nccl.NCCL_INT64, "uint64": nccl.NCCL_UINT64,
        "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64,
        "bool": nccl.NCCL_UINT8,
    }
    if hasattr(nccl, "NCCL_BFLOAT16"):  # NCCL reduces bfloat16 natively (a CuPy that knows the type)
        table["bfloat16"] = nccl.NCCL_BFLOAT16
    try:
        return table[str(dt)]
    except KeyError:
        raise RuntimeError(f"NCCL does not support tensors of dtype {dt}") from None


def _op(nccl, op: ReduceOp, dtype=None):
    if dtype is not None and str(dtype) == "bool":
        # bools travel as uint8: OR is a MAX, AND a MIN (a SUM could store 2 in a bool)
        if op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.BOR):
            return nccl.NCCL_MAX
        if op in (ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.BAND):
            return nccl.NCCL_MIN
    if op is ReduceOp.AVG:
        return nccl.NCCL_SUM  # divided afterwards: not every NCCL build cupy wraps has ncclAvg
    table = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
             ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
    if op not in table:
        raise RuntimeError(f"ReduceOp.{op.name} is not supported by the NCCL backend")
    return table[op]


class NCCLEngine:
    """Collectives of one NCCL communicator (one GPU per rank)."""

    def __init__(self, mpi_comm, watchdog):
        self.mpi_comm = mpi_comm
        self.watchdog = watchdog
        self.rank = mpi_comm.Get_rank()
        self.size = mpi_comm.Get_size()
        self._comm = None

    def _communicator(self):
        if self._comm is None:
            nccl = _nccl()
            uid = nccl.get_unique_id() if self.rank == 0 else None
            uid = self.mpi_comm.bcast(uid, root=0)  # the rendezvous is MPI's
            self._comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        return self._comm

    def _launch(self, enqueue, async_op: bool, finish=None, keep=(), what="collective"):
        import cupy  # noqa: PLC0415

        stream = cupy.cuda.get_current_stream()
        enqueue(self._communicator(), stream.ptr)
        if not async_op:
            if finish is not None:
                finish()
            return None
        event = cupy.cuda.Event()
        event.record(stream)
        return Work(finish=finish, watchdog=self.watchdog, what=what, keep=keep,
                    waiter=event.synchronize, poller=lambda: event.done)

    @staticmethod
    def _contig(arr):
        import cupy  # noqa: PLC0415

        if arr.flags.c_contiguous:
            return arr, False
        return cupy.ascontiguousarray(arr), True

    def _reduced(self, arr, buf, copied, op):
        def finish():
            if op is ReduceOp.AVG and buf.dtype.kind != "b":
                if buf.dtype.kind in "fV":
                    buf[...] /= self.size
                else:  # integers truncate toward zero, as the MPI engine and ncclAvg
                    import cupy  # noqa: PLC0415

                    buf[...] = cupy.trunc(buf / self.size).astype(buf.dtype)
            if copied:
                arr[...] = buf

        return finish

    def barrier(self, async_op: bool):
        import cupy  # noqa: PLC0415

        one = cupy.zeros(1, cupy.float32)
        return self.all_reduce(one, ReduceOp.SUM, async_op)

    def all_reduce(self, arr, op, async_op):
        nccl = _nccl()
        buf, copied = self._contig(arr)
        dt, nop = _dtype(nccl, buf.dtype), _op(nccl, op, buf.dtype)
        enq = lambda c, s: c.allReduce(buf.data.ptr, buf.data.ptr, buf.size, dt, nop, s)  # noqa: E731
        return self._launch(enq, async_op, self._reduced(arr, buf, copied, op), (buf,), "all_reduce")

    def broadcast(self, arr, root, async_op):
        nccl = _nccl()
        buf, copied = self._contig(arr)
        dt = _dtype(nccl, buf.dtype)
        enq = lambda c, s: c.broadcast(buf.data.ptr, buf.data.ptr, buf.size, dt, root, s)  # noqa: E731
        fin = (lambda: arr.__setitem__(Ellipsis, buf)) if copied else None
        return self._launch(enq, async_op, fin, (buf,), "broadcast")

    def reduce(self, arr, root, op, async_op):
        nccl = _nccl()
        buf, copied = self._contig(arr)
        dt, nop = _dtype(nccl, buf.dtype), _op(nccl, op, buf.dtype)
        enq = lambda c, s: c.reduce(buf.data.ptr, buf.data.ptr, buf.size, dt, nop, root, s)  # noqa: E731
        fin = self._reduced(arr, buf, copied, op) if self.rank == root else None
        return self._launch(enq, async_op, fin, (buf,), "reduce")

    def all_gather(self, outs, arr, async_op):
        import cupy  # noqa: PLC0415

        nccl = _nccl()
        send, _ = self._contig(arr)
        if any(int(o.size) != send.size for o in outs):
            raise RuntimeError("the NCCL backend needs all_gather tensors of equal size on every rank")
        recv = cupy.empty((self.size,) + send.shape, send.dtype)
        dt = _dtype(nccl, send.dtype)
        enq = lambda c, s: c.allGather(send.data.ptr, recv.data.ptr, send.size, dt, s)  # noqa: E731

        def finish():
            for i, o in enumerate(outs):
                o[...] = recv[i].reshape(o.shape)

        return self._launch(enq, async_op, finish, (send, recv), "all_gather")

    def all_gather_into(self, out, arr, async_op):
        nccl = _nccl()
        send, _ = self._contig(arr)
        buf, copied = self._contig(out)
        dt = _dtype(nccl, send.dtype)
        enq = lambda c, s: c.allGather(send.data.ptr, buf.data.ptr, send.size, dt, s)  # noqa: E731
        fin = (lambda: out.__setitem__(Ellipsis, buf)) if copied else None
        return self._launch(enq, async_op, fin, (send, buf), "all_gather_into_tensor")

    def reduce_scatter(self, out, inputs, op, async_op):
        import cupy  # noqa: PLC0415

        nccl = _nccl()
        if any(int(i.size) != out.size for i in inputs):
            raise RuntimeError("the NCCL backend needs reduce_scatter inputs of equal size")
        send = cupy.concatenate([i.reshape(-1) for i in inputs])
        buf, copied = self._contig(out)
        dt, nop = _dtype(nccl, send.dtype), _op(nccl, op, send.dtype)
        enq = lambda c, s: c.reduceScatter(send.data.ptr, buf.data.ptr, buf.size, dt, nop, s)  # noqa: E731
        return self._launch(enq, async_op, self._reduced(out, buf, copied, op), (send, buf), "reduce_scatter")

    def _p2p_group(self, pairs, async_op, finish, keep, what):
        """``pairs``: (kind, array, peer) with kind 'send' or 'recv', issued as one NCCL group."""
        nccl = _nccl()

        def enq(c, s):
            nccl.groupStart()
            try:
                for kind, a, peer in pairs:
                    dt = _dtype(nccl, a.dtype)
                    if kind == "send":
                        c.send(a.data.ptr, a.size, dt, peer, s)
                    else:
                        c.recv(a.data.ptr, a.size, dt, peer, s)
            finally:
                nccl.groupEnd()

        return self._launch(enq, async_op, finish, keep, what)

    def scatter(self, out, inputs, root, async_op):
        buf, copied = self._contig(out)
        own = None
        if self.rank == root:
            srcs = [self._contig(i)[0] for i in inputs]
            pairs = [("send", a, r) for r, a in enumerate(srcs) if r != root]
            own = srcs[root]
        else:
            pairs = [("recv", buf, root)]

        def finish():
            if self.rank == root:
                buf[...] = own.reshape(buf.shape)
            if copied:
                out[...] = buf

        return self._p2p_group(pairs, async_op, finish, (buf, pairs), "scatter")

    def gather(self, outs, arr, root, async_op):
        import cupy  # noqa: PLC0415

        send, _ = self._contig(arr)
        if self.rank != root:
            return self._p2p_group([("send", send, root)], async_op, None, (send,), "gather")
        recvs = [cupy.empty_like(send) for _ in range(self.size)]
        pairs = [("recv", recvs[r], r) for r in range(self.size) if r != root]

        def finish():
            for r, o in enumerate(outs):
                o[...] = (send if r == root else recvs[r]).reshape(o.shape)

        return self._p2p_group(pairs, async_op, finish, (send, recvs), "gather")

    def all_to_all(self, outs, inputs, async_op):
        import cupy  # noqa: PLC0415

        srcs = [self._contig(i)[0] for i in inputs]
        recvs = [cupy.empty(int(o.size), o.dtype) for o in outs]
        pairs = [("send", srcs[r], r) for r in range(self.size)] + [("recv", recvs[r], r) for r in range(self.size)]

        def finish():
            for o, r in zip(outs, recvs):
                o[...] = r.reshape(o.shape)

        return self._p2p_group(pairs, async_op, finish, (srcs, recvs), "all_to_all")

    def send(self, arr, dst, tag, async_op):
        send, _ = self._contig(arr)
        return self._p2p_group([("send", send, dst)], async_op, None, (send,), "send")

    def recv(self, arr, src, tag, async_op):
        if src is None:
            raise RuntimeError("the NCCL backend cannot receive from any source: pass src")
        buf, copied = self._contig(arr)
        fin = (lambda: arr.__setitem__(Ellipsis, buf)) if copied else None
        w = self._p2p_group([("recv", buf, src)], async_op, fin, (buf,), "recv")
        return w if async_op else src
