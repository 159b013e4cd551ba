"""``nnbox.distributed``: torch.distributed's API over MPI (mpi4py), with NCCL for CuPy tensors.

Start one process per rank with the MPI launcher; ranks and world size come from it::

    nnbox run -n 4 train.py                  # or: python -m nnbox.distributed.run -n 4 train.py
    mpiexec -n 4 python train.py             # the same, by hand

Several machines: list them in a hostfile (``host1:4`` per line) and pass it through, e.g.
``nnbox run -n 8 --hostfile hosts train.py`` (see ``nnbox.distributed.run``).

>>> import nnbox, nnbox.distributed as dist
>>> dist.is_initialized()
False
>>> # in train.py:  dist.init_process_group("mpi"); t = nnbox.ones(2); dist.all_reduce(t)

An uncaught exception on any rank aborts every rank (``MPI_Abort``), and a blocking wait longer
than ``init_process_group(timeout=...)`` aborts the job: failures end the run, never hang it.
mpi4py is imported only by ``init_process_group``.
"""
from .collectives import *  # noqa: F401,F403
from .collectives import __all__ as _coll_all
from .process_group import (  # noqa: F401
    Backend,
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_node_local_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    new_group,
)
from .reduce_op import RedOpType, ReduceOp  # noqa: F401
from .work import Work  # noqa: F401

__all__ = list(_coll_all) + [
    "Backend", "GroupMember", "ProcessGroup", "ReduceOp", "RedOpType", "Work", "default_pg_timeout",
    "destroy_process_group", "get_backend", "get_global_rank", "get_group_rank", "get_node_local_rank",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "is_available",
    "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available", "is_torchelastic_launched",
    "new_group",
]
