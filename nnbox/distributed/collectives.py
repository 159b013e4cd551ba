"""Collectives and point-to-point on Tensors, as ``torch.distributed``'s functions.

Each function checks its arguments, hands the tensors' raw arrays to the group's engine (MPI or
NCCL) and bumps the version counter of every tensor it writes in place (as torch does).  With
``async_op=True`` it returns a ``Work``; otherwise it returns None once the operation is done.
``src``/``dst`` are global ranks, as in torch.

>>> import nnbox, nnbox.distributed as dist        # under `nnbox run -n 2 script.py`
>>> # dist.init_process_group("mpi"); t = nnbox.ones(3) * (dist.get_rank() + 1)
>>> # dist.all_reduce(t)  ->  t == tensor([3., 3., 3.]) on both ranks
"""
from __future__ import annotations

from .._tensor import Tensor
from .process_group import _resolve
from .reduce_op import ReduceOp, _check_op

__all__ = [
    "barrier", "monitored_barrier", "all_reduce", "broadcast", "reduce", "all_gather",
    "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "scatter", "gather",
    "all_to_all", "all_to_all_single", "send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv",
    "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
]


def _tensor(t, name: str = "tensor") -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor\n"
                        f"             but got {type(t)} instead.")
    return t


def _tensor_list(ts, name: str) -> list:
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor]\n"
                        f"             but got {type(ts)} instead.")
    return list(ts)


def _bump(*ts) -> None:
    for t in ts:
        t._vc[0] += 1


def _same_dtype(ts, ref, what: str) -> None:
    for t in ts:
        if t._data.dtype != ref._data.dtype:
            raise ValueError(f"{what}: all tensors must have the same dtype, got {t.dtype} and {ref.dtype}")


def _length(ts, n: int, what: str) -> None:
    if len(ts) != n:
        raise ValueError(f"{what}: expected a list of {n} tensors (the group size), got {len(ts)}")


_KEY_MASK = (1 << 62) - 1


def _desc(ts) -> str:
    ts = ts if isinstance(ts, (list, tuple)) else [ts]
    return ", ".join(f"{t.dtype} {list(t.shape)}".replace("nnbox.", "torch.") for t in ts) or "none"


def _agree(pg, what: str, mine: tuple, shown) -> None:
    """Raise on every rank when the ranks' calls of a collective don't match (shape, dtype, root,
    op): MPI would otherwise read one rank's float32 [4] as another's float64 [8] and return
    garbage.  ``mine`` holds only ints, strings of fixed text and tuples of them, so its hash is
    the same in every process (no PYTHONHASHSEED randomisation); ``shown`` (tensors) is what
    the error message lists per rank."""
    if pg.size() == 1:
        return
    if pg._mpi.agree(_stable_hash(what, mine)):
        return
    everyone = pg._mpi.allgather_obj(_desc(shown))
    ranks = "; ".join(f"rank {pg._ranks[r]}: {d}" for r, d in enumerate(everyone))
    raise RuntimeError(f"{what}: the ranks passed tensors that don't match ({ranks}). Every rank must call "
                       f"{what} with the same shapes, dtypes and arguments (gloo: \"Received data size doesn't "
                       f"match expected size\")")


def _stable_hash(what: str, mine: tuple) -> int:
    # str hashes are salted per process: hash the name through its bytes instead
    return hash((int.from_bytes(what.encode()[:24].ljust(24, b"\0"), "little"), mine)) & _KEY_MASK


def _sig(t: Tensor) -> tuple:
    return (t._data.dtype.num, tuple(t._data.shape))


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Block until every rank of ``group`` has reached this call."""
    pg = _resolve(group)
    if pg is None:
        return None
    return pg._mpi.barrier(async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks: bool = False) -> None:
    """A barrier that raises ``RuntimeError`` (instead of waiting) when ranks are missing."""
    import time

    from .process_group import _timeout_seconds

    pg = _resolve(group)
    if pg is None:
        return
    limit = _timeout_seconds(timeout)
    req = pg._comm.Ibarrier()
    start = time.monotonic()
    while not req.Test():
        if time.monotonic() - start > limit:
            raise RuntimeError(f"Rank {pg.rank()}: monitored_barrier timed out after {limit:g} s: "
                               "not every rank of the group reached it")
        time.sleep(0.001)


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks with ``op``; every rank gets the result in place."""
    _tensor(tensor)
    _check_op(op)
    pg = _resolve(group)
    if pg is None:
        return None
    _agree(pg, "all_reduce", (_sig(tensor), op.value), tensor)
    return _all_reduce_agreed(tensor, op, pg, async_op)


def _all_reduce_agreed(tensor: Tensor, op: ReduceOp, pg, async_op: bool):
    """all_reduce without the agreement round, for callers whose ranks agree by construction:
    DDP's gradient buckets (every rank's model is verified equal when DDP wraps it).  A blocking
    check there would stall each bucket's launch until the slowest rank reaches it, and cost
    DDP its overlap of communication with the rest of backward."""
    a = tensor._data
    work = pg.engine(a).all_reduce(a, op, async_op)
    _bump(tensor)
    return work


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every rank."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_src if group_src is not None else pg.group_rank(src, "src")
    _agree(pg, "broadcast", (_sig(tensor), root), tensor)
    a = tensor._data
    work = pg.engine(a).broadcast(a, root, async_op)
    _bump(tensor)
    return work


def reduce(tensor: Tensor, dst: int = 0, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False,
           group_dst=None):
    """Reduce ``tensor`` over all ranks into ``tensor`` of rank ``dst`` (others unchanged)."""
    _tensor(tensor)
    _check_op(op)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_dst if group_dst is not None else pg.group_rank(dst, "dst")
    _agree(pg, "reduce", (_sig(tensor), root, op.value), tensor)
    a = tensor._data
    work = pg.engine(a).reduce(a, root, op, async_op)
    if pg.rank() == root:
        _bump(tensor)
    return work


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """``tensor_list[i]`` receives ``tensor`` of rank i."""
    outs = _tensor_list(tensor_list, "tensor_list")
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    _length(outs, pg.size(), "all_gather")
    _same_dtype(outs, tensor, "all_gather")
    if outs[pg.rank()].numel() != tensor.numel():
        raise ValueError(f"all_gather: tensor_list[{pg.rank()}] has {outs[pg.rank()].numel()} elements "
                         f"but this rank's tensor has {tensor.numel()}")
    _agree(pg, "all_gather", (_sig(tensor)[0], tuple(_sig(o) for o in outs)), tensor)
    a = tensor._data
    work = pg.engine(a).all_gather([o._data for o in outs], a, async_op)
    _bump(*outs)
    return work


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False):
    """Concatenate every rank's ``input_tensor`` (in rank order) into ``output_tensor``."""
    _tensor(output_tensor, "output_tensor")
    _tensor(input_tensor, "input_tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise ValueError(f"output tensor size must be equal to world_size times input tensor size "
                         f"({output_tensor.numel()} vs {pg.size()} * {input_tensor.numel()})")
    _same_dtype([output_tensor], input_tensor, "all_gather_into_tensor")
    _agree(pg, "all_gather_into_tensor", (_sig(input_tensor), _sig(output_tensor)), input_tensor)
    a = input_tensor._data
    work = pg.engine(a).all_gather_into(output_tensor._data, a, async_op)
    _bump(output_tensor)
    return work


def reduce_scatter(output: Tensor, input_list: list, op: ReduceOp = ReduceOp.SUM, group=None,
                   async_op: bool = False):
    """Reduce ``input_list[i]`` over all ranks; rank i receives the result in ``output``."""
    _tensor(output, "output")
    ins = _tensor_list(input_list, "input_list")
    _check_op(op)
    pg = _resolve(group)
    if pg is None:
        return None
    _length(ins, pg.size(), "reduce_scatter")
    _same_dtype(ins, output, "reduce_scatter")
    if ins[pg.rank()].numel() != output.numel():
        raise ValueError(f"reduce_scatter: input_list[{pg.rank()}] has {ins[pg.rank()].numel()} elements "
                         f"but output has {output.numel()}")
    _agree(pg, "reduce_scatter", (_sig(output), tuple(_sig(i) for i in ins), op.value), output)
    a = output._data
    work = pg.engine(a).reduce_scatter(a, [i._data for i in ins], op, async_op)
    _bump(output)
    return work


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM, group=None,  # noqa: A002
                          async_op: bool = False):
    """Reduce ``input`` (``world_size`` equal chunks) over ranks; rank i gets chunk i in ``output``."""
    _tensor(output, "output")
    _tensor(input, "input")
    _check_op(op)
    pg = _resolve(group)
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size():
        raise ValueError(f"input tensor must be the same size as output size times world size "
                         f"({input.numel()} vs {pg.size()} * {output.numel()})")
    _same_dtype([input], output, "reduce_scatter_tensor")
    _agree(pg, "reduce_scatter_tensor", (_sig(output), _sig(input), op.value), input)
    flat = input._data.reshape(pg.size(), -1)
    a = output._data
    work = pg.engine(a).reduce_scatter(a, list(flat), op, async_op)
    _bump(output)
    return work


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int = 0, group=None, async_op: bool = False,
            group_src=None):
    """Rank ``src`` sends ``scatter_list[i]`` to rank i, which receives it into ``tensor``."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_src if group_src is not None else pg.group_rank(src, "src")
    ins = None
    if pg.rank() == root:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        ins = _tensor_list(scatter_list, "scatter_list")
        _length(ins, pg.size(), "scatter")
        _same_dtype(ins, tensor, "scatter")
        for t in ins:
            if t.numel() != tensor.numel():
                raise ValueError("scatter: every tensor of scatter_list must have the size of `tensor`")
        ins = [t._data for t in ins]
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _agree(pg, "scatter", (_sig(tensor), root), tensor)
    a = tensor._data
    work = pg.engine(a).scatter(a, ins, root, async_op)
    _bump(tensor)
    return work


def gather(tensor: Tensor, gather_list: list | None = None, dst: int = 0, group=None, async_op: bool = False,
           group_dst=None):
    """Rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (in rank order)."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = group_dst if group_dst is not None else pg.group_rank(dst, "dst")
    outs = None
    if pg.rank() == root:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        outs = _tensor_list(gather_list, "gather_list")
        _length(outs, pg.size(), "gather")
        _same_dtype(outs, tensor, "gather")
        for t in outs:
            if t.numel() != tensor.numel():
                raise ValueError("gather: every tensor of gather_list must have the size of `tensor`")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _agree(pg, "gather", (_sig(tensor), root), tensor)
    a = tensor._data
    work = pg.engine(a).gather(None if outs is None else [o._data for o in outs], a, root, async_op)
    if outs is not None:
        _bump(*outs)
    return work


def all_to_all(output_tensor_list: list, input_tensor_list: list, group=None, async_op: bool = False):
    """Rank r sends ``input_tensor_list[i]`` to rank i, receives rank i's into ``output_tensor_list[i]``."""
    outs = _tensor_list(output_tensor_list, "output_tensor_list")
    ins = _tensor_list(input_tensor_list, "input_tensor_list")
    pg = _resolve(group)
    if pg is None:
        return None
    _length(outs, pg.size(), "all_to_all")
    _length(ins, pg.size(), "all_to_all")
    _same_dtype(outs + ins, ins[0], "all_to_all")
    _agree_all_to_all(pg, "all_to_all", [i._data for i in ins], [o._data for o in outs], ins)
    a = ins[0]._data
    work = pg.engine(a).all_to_all([o._data for o in outs], [i._data for i in ins], async_op)
    _bump(*outs)
    return work


def _splits(t: Tensor, sizes, n: int, what: str) -> list:
    rows = t.shape[0] if t.dim() else 1
    if sizes is None or len(sizes) == 0:
        if rows % n:
            raise ValueError(f"{what}: dim 0 ({rows}) is not divisible by the world size ({n})")
        sizes = [rows // n] * n
    sizes = [int(s) for s in sizes]
    if len(sizes) != n or sum(sizes) != rows:
        raise ValueError(f"{what}: split sizes {sizes} do not add up to dim 0 ({rows}) over {n} ranks")
    out, off = [], 0
    for s in sizes:
        out.append(t._data[off:off + s])
        off += s
    return out


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None, input_split_sizes=None,  # noqa: A002
                      group=None, async_op: bool = False):
    """``all_to_all`` on one input and one output tensor split along dim 0."""
    _tensor(output, "output")
    _tensor(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    _same_dtype([output], input, "all_to_all_single")
    outs = _splits(output, output_split_sizes, pg.size(), "all_to_all_single output")
    ins = _splits(input, input_split_sizes, pg.size(), "all_to_all_single input")
    _agree_all_to_all(pg, "all_to_all_single", ins, outs, [input])
    work = pg.engine(input._data).all_to_all(outs, ins, async_op)
    _bump(output)
    return work


def _agree_all_to_all(pg, what: str, ins: list, outs: list, shown) -> None:
    # sizes legitimately differ per pair: rank r's ins[i] must match rank i's outs[r].  Every
    # rank learns what each peer sends it (the sizes go around once), then all agree on the dtype
    # and on whether every rank found its sizes right.
    if pg.size() == 1:
        return
    sent = pg._mpi._obj("alltoall", [int(i.size) for i in ins])
    fine = sent == [int(o.size) for o in outs]
    # a rank whose sizes are wrong adds its rank to the key, so it differs from everyone's
    _agree(pg, what, (ins[0].dtype.num,) if fine else (ins[0].dtype.num, "sizes", pg.rank()), shown)


def send(tensor: Tensor, dst: int, group=None, tag: int = 0, group_dst=None) -> None:
    """Send ``tensor`` to rank ``dst`` (blocks until MPI has taken the data)."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    peer = group_dst if group_dst is not None else pg.group_rank(dst, "dst")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: should not be the same as the rank of the current process.")
    pg.engine(tensor._data).send(tensor._data, peer, tag, False)
    return None


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0, group_src=None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's rank."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return -1
    peer = group_src if group_src is not None else (None if src is None else pg.group_rank(src, "src"))
    got = pg.engine(tensor._data).recv(tensor._data, peer, tag, False)
    _bump(tensor)
    return pg._ranks[got]


def isend(tensor: Tensor, dst: int, group=None, tag: int = 0, group_dst=None):
    """Non-blocking ``send``: returns a ``Work``; do not modify ``tensor`` before ``wait()``."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    peer = group_dst if group_dst is not None else pg.group_rank(dst, "dst")
    return pg.engine(tensor._data).send(tensor._data, peer, tag, True)


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0, group_src=None):
    """Non-blocking ``recv``: returns a ``Work``; ``tensor`` holds the data after ``wait()``."""
    _tensor(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    peer = group_src if group_src is not None else (None if src is None else pg.group_rank(src, "src"))
    work = pg.engine(tensor._data).recv(tensor._data, peer, tag, True)
    _bump(tensor)
    return work


class P2POp:
    """One point-to-point operation for ``batch_isend_irecv``: ``op`` is ``isend`` or ``irecv``."""

    def __init__(self, op, tensor: Tensor, peer: int | None = None, group=None, tag: int = 0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer = op, _tensor(tensor), peer
        self.group, self.tag, self.group_peer = group, tag, group_peer


def batch_isend_irecv(p2p_op_list: list) -> list:
    """Start every ``P2POp`` of the list (non-blocking); returns their ``Work`` handles.

    >>> # ops = [dist.P2POp(dist.isend, t, (r + 1) % W), dist.P2POp(dist.irecv, u, (r - 1) % W)]
    >>> # for w in dist.batch_isend_irecv(ops): w.wait()
    """
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, group_dst=p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, group_src=p.group_peer))
    return works


# --- picklable Python objects ------------------------------------------------------------------

def all_gather_object(object_list: list, obj, group=None) -> None:
    """``object_list[i]`` receives ``obj`` of rank i (``object_list`` has the group's size)."""
    pg = _resolve(group)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must have {pg.size()} entries (the group size), "
                         f"got {len(object_list)}")
    object_list[:] = pg._mpi.allgather_obj(obj)


def broadcast_object_list(object_list: list, src: int = 0, group=None, device=None, group_src=None) -> None:
    """Replace ``object_list``'s entries on every rank by those of rank ``src``."""
    pg = _resolve(group)
    if pg is None:
        return
    root = group_src if group_src is not None else pg.group_rank(src, "src")
    got = pg._mpi.bcast_obj(list(object_list) if pg.rank() == root else None, root)
    if len(got) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {pg._ranks[root]} sent {len(got)} objects but this "
                         f"rank's list has {len(object_list)} entries")
    object_list[:] = got


def gather_object(obj, object_gather_list: list | None = None, dst: int = 0, group=None, group_dst=None) -> None:
    """Rank ``dst`` receives every rank's ``obj`` into ``object_gather_list``."""
    pg = _resolve(group)
    if pg is None:
        return
    root = group_dst if group_dst is not None else pg.group_rank(dst, "dst")
    if pg.rank() == root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: object_gather_list must have {pg.size()} entries on the destination rank")
    got = pg._mpi.gather_obj(obj, root)
    if pg.rank() == root:
        object_gather_list[:] = got


def scatter_object_list(scatter_object_output_list: list, scatter_object_input_list: list | None = None,
                        src: int = 0, group=None, group_src=None) -> None:
    """Rank i receives ``scatter_object_input_list[i]`` of rank ``src`` as ``scatter_object_output_list[0]``."""
    pg = _resolve(group)
    if pg is None:
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    root = group_src if group_src is not None else pg.group_rank(src, "src")
    objs = None
    if pg.rank() == root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"scatter_object_list: the source rank needs {pg.size()} objects to scatter")
        objs = list(scatter_object_input_list)
    scatter_object_output_list[0] = pg._mpi.scatter_obj(objs, root)
