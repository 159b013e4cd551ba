"""Process groups over MPI: ``init_process_group``, ranks, sizes, ``new_group``, teardown.

Ranks and the world size come from the MPI launcher (``mpiexec -n N``, ``nnbox run -n N``);
there is no home-made rendezvous.  A ``ProcessGroup`` wraps an MPI communicator (a duplicate of
``COMM_WORLD``, so the library's messages never mix with the user's own mpi4py traffic) and
dispatches each collective: NumPy arrays to the MPI engine, CuPy arrays to NCCL when the backend
includes ``nccl`` (else through host memory over MPI).
"""
from __future__ import annotations

import datetime
import os

from . import _fault
from ._mpi import MPIEngine

default_pg_timeout = datetime.timedelta(minutes=30)

_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."
_BACKENDS = ("mpi", "gloo", "nccl")


class Backend(str):
    """Backend names, as ``torch.distributed.Backend``.

    >>> from nnbox.distributed import Backend
    >>> Backend("MPI")
    'mpi'
    """

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    UNDEFINED = "undefined"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        low = name.lower()
        parts = [p.split(":")[-1] for p in low.split(",")]
        if not all(p in _BACKENDS for p in parts):
            raise ValueError(
                f"Invalid backend: '{name}'. nnbox.distributed runs over MPI: use 'mpi', 'gloo' "
                "(the same MPI transport, for programs written for torch's CPU backend) or 'nccl'"
            )
        return str.__new__(cls, low)


class ProcessGroup:
    """A set of ranks that run collectives together (one MPI communicator)."""

    def __init__(self, comm, backend: str, ranks: list[int], watchdog):
        self._comm = comm
        self._backend = backend
        self._ranks = list(ranks)  # global rank of each group rank
        self._mpi = MPIEngine(comm, watchdog)
        self._nccl = None
        if "nccl" in backend:
            from ._nccl import NCCLEngine

            self._nccl = NCCLEngine(comm, watchdog)

    def rank(self) -> int:
        return self._mpi.rank

    def size(self) -> int:
        return self._mpi.size

    def name(self) -> str:
        return self._backend

    def engine(self, arr):
        """The engine that moves ``arr``: NCCL for CuPy arrays on an NCCL group, else MPI."""
        if self._nccl is not None and type(arr).__module__.startswith("cupy"):
            return self._nccl
        return self._mpi

    def group_rank(self, global_rank: int, what: str = "rank") -> int:
        try:
            return self._ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"{what} {global_rank} is not part of group {self._ranks}") from None

    def __repr__(self) -> str:
        return f"<nnbox.distributed.ProcessGroup backend={self._backend} ranks={self._ranks}>"


class _NonGroupMember:
    def __repr__(self) -> str:
        return "<NON_GROUP_MEMBER>"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialised."""

    WORLD = None
    NON_GROUP_MEMBER = _NonGroupMember()


class _Group:
    """``dist.group.WORLD``, read lazily like torch's."""

    @property
    def WORLD(self):  # noqa: N802 - torch's name
        return GroupMember.WORLD


group = _Group()

_state: dict = {"world": None, "watchdog": None, "groups": []}


def is_available() -> bool:
    """True when mpi4py can be imported (``pip install mpi4py mpich``)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


is_gloo_available = is_mpi_available  # 'gloo' runs over the same MPI transport


def is_nccl_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cupy") is not None


def is_torchelastic_launched() -> bool:
    return False


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _state["world"] is not None


def _world() -> ProcessGroup:
    pg = _state["world"]
    if pg is None:
        raise ValueError(_NOT_INIT)
    return pg


def _resolve(grp) -> ProcessGroup | None:
    """The group to run on: the default for None; None when this rank is not a member."""
    world = _world()
    if grp is None or grp is GroupMember.WORLD:
        return world
    if grp is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(grp, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup or None, got {type(grp).__name__}")
    return grp


def _timeout_seconds(timeout) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the default process group: every rank started by ``mpiexec``.

    ``backend``: ``'mpi'`` (default), ``'gloo'`` (the same MPI transport, so torch CPU programs
    run unchanged) or ``'nccl'`` (GPU tensors through NCCL, unique id broadcast over MPI).
    ``init_method`` is accepted and unused: MPI's launcher already did the rendezvous.
    ``world_size``/``rank``, when given, must agree with MPI's.  ``timeout`` bounds every blocking
    wait: past it the job is aborted on all ranks (never a hang).

    >>> import nnbox.distributed as dist           # run as: nnbox run -n 2 script.py
    >>> dist.init_process_group("mpi")             # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()     # doctest: +SKIP
    (0, 2)
    """
    if _state["world"] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise ValueError("nnbox.distributed does not take a store: ranks meet through the MPI launcher")
    if pg_options is not None:
        raise ValueError("nnbox.distributed does not support pg_options")
    name = Backend(backend or "mpi")
    seconds = _timeout_seconds(timeout)
    if not is_available():
        raise RuntimeError("nnbox.distributed needs mpi4py and an MPI library: pip install mpi4py mpich")
    if "nccl" in name:
        from .._backend.device import cupy_or_none

        if cupy_or_none() is None:
            raise RuntimeError("ProcessGroupNCCL is only supported with GPUs, no GPUs found! (nnbox needs CuPy "
                               "and an NVIDIA GPU for the 'nccl' backend; use 'mpi' or 'gloo' on the CPU)")
    from mpi4py import MPI  # noqa: PLC0415

    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    if world_size not in (-1, None) and int(world_size) != size:
        raise ValueError(
            f"world_size={world_size} but MPI started {size} process(es): nnbox.distributed takes its "
            f"ranks from the MPI launcher; start the program with `nnbox run -n {world_size} script.py` "
            f"(or `mpiexec -n {world_size} python script.py`)"
        )
    if rank not in (-1, None) and int(rank) != me:
        raise ValueError(f"rank={rank} but MPI gave this process rank {me}: ranks come from the MPI launcher")
    comm = world.Dup()
    watchdog = _fault.Watchdog(comm, me, seconds)
    _state["watchdog"] = watchdog
    pg = ProcessGroup(comm, str(name), list(range(size)), watchdog)
    _state["world"] = pg
    GroupMember.WORLD = pg
    _fault.install_excepthook(world, me, size)
    # torchrun's variables, for code that reads them after init
    os.environ.setdefault("RANK", str(me))
    os.environ.setdefault("WORLD_SIZE", str(size))


def destroy_process_group(group=None) -> None:
    """Leave ``group`` (default: everything); ``is_initialized()`` is then False."""
    if group is None or group is GroupMember.WORLD:
        for pg in _state["groups"]:
            pg._comm.Free()
        _state["groups"] = []
        pg = _state["world"]
        if pg is None:
            raise ValueError(_NOT_INIT)
        pg._comm.Free()
        _state["world"] = None
        GroupMember.WORLD = None
        _state["watchdog"].stop()
        _fault.uninstall_excepthook()
        return
    if isinstance(group, ProcessGroup) and group in _state["groups"]:
        _state["groups"].remove(group)
        group._comm.Free()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of some ranks; every rank of the world must call it (as in torch).

    Ranks outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``.
    """
    world = _world()
    ranks = sorted(range(world.size())) if ranks is None else sorted(int(r) for r in ranks)
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"Invalid rank {r} for a world of size {world.size()}")
    mpi_group = world._comm.Get_group().Incl(ranks)
    comm = world._comm.Create_group(mpi_group)
    mpi_group.Free()
    from mpi4py import MPI  # noqa: PLC0415

    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, str(Backend(backend)) if backend else world.name(), ranks, _state["watchdog"])
    _state["groups"].append(pg)
    return pg


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default: the world); -1 when not a member."""
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:
    """Number of ranks in ``group`` (default: the world); -1 when not a member."""
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    pg = _resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.name()


def get_process_group_ranks(group) -> list[int]:
    pg = _resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return list(pg._ranks)


def get_global_rank(group, group_rank: int) -> int:
    return get_process_group_ranks(group)[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    pg = _resolve(group)
    return pg.group_rank(global_rank)


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's index among the ranks on its node (``LOCAL_RANK``)."""
    for var in ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment: launch with `nnbox run` or mpiexec")
