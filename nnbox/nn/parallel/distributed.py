"""``DistributedDataParallel``: one model replica per process, gradients averaged after backward.

How it works (no engine changes needed):

* Construction: every rank checks that all ranks hold the same parameter names, shapes and
  dtypes (a clear error on every rank otherwise, never a hang), then rank 0's parameters and
  buffers are broadcast -- one coalesced broadcast per dtype.
* Parameters are packed into flat buckets (``_buckets.py``).  A hook on every parameter
  (``Tensor.register_hook``: the engine runs it once per backward with the parameter's summed
  gradient, just before accumulating it into ``.grad``) counts its bucket down.  While a bucket
  is incomplete the hook stands aside and the engine fills ``.grad`` as usual.  When its last
  parameter arrives, every other ``.grad`` of the bucket is final (the engine finishes one leaf
  before the next), so they are moved into the flat buffer (``.grad`` becomes a view of it, and
  stays one while gradients accumulate in place), the last gradient is summed in by the hook
  (the engine then adds a zero) and the bucket's all-reduce starts -- non-blocking, in bucket
  order so that every rank issues the same sequence.  The hook of the last bucket waits for all
  of them and divides by the world size: when ``loss.backward()`` returns, every ``.grad``
  holds the average over ranks, after a handful of large all-reduces.
* ``no_sync()``: inside it (decided at forward time, as torch), hooks stand aside and gradients
  accumulate locally; the next synchronised backward averages the accumulated sum.
* ``find_unused_parameters=True``: after forward, the autograd graph is walked from the outputs;
  parameters it does not reach are counted as ready (contributing zeros), and parameters unused
  on every rank keep ``grad=None``.  With the flag False, a parameter that got no gradient leaves
  its bucket incomplete and the next forward raises torch's error.

Unsupported (as torch): ``torch.autograd.grad`` through a DDP model (use ``backward``).
"""
from __future__ import annotations

from contextlib import contextmanager

from ..._backend.device import array_module
from ...autograd import grad_mode
from ..modules.module import Module
from ._reducer import Reducer

_UNSUPPORTED_DEFAULTS = {
    "delay_all_reduce_named_params": None, "param_to_hook_all_reduce": None, "mixed_precision": None,
    "device_mesh": None, "skip_all_reduce_unused_params": False, "bucket_cap_mb_list": None,
    "batched_grad_copy": False, "forward_sync_buffers": None,
}


def _leaves_reached(outputs) -> set:
    """ids of the leaf tensors the autograd graph of ``outputs`` reaches."""
    from ..._tensor import Tensor

    roots, stack = [], [outputs]
    while stack:  # tensors inside (nested) tuples, lists and dicts
        o = stack.pop()
        if isinstance(o, Tensor):
            roots.append(o)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    found, seen = set(), set()
    nodes = []
    for t in roots:
        if t.grad_fn is None:
            found.add(id(t))
        elif id(t.grad_fn) not in seen:
            seen.add(id(t.grad_fn))
            nodes.append(t.grad_fn)
    while nodes:
        n = nodes.pop()
        for e in n._edges:
            if e is None:
                continue
            if type(e) is tuple:
                if id(e[0]) not in seen:
                    seen.add(id(e[0]))
                    nodes.append(e[0])
            else:
                found.add(id(e))
    return found


def _verify_same_model(pg, mine: list) -> None:
    """Every rank must hold the same parameters (name, shape, dtype): a clear error on all ranks."""
    from ...distributed import collectives as C

    everyone = [None] * pg.size()
    C.all_gather_object(everyone, mine, group=pg)
    ref = everyone[0]
    for r, theirs in enumerate(everyone):
        if len(theirs) != len(ref):
            raise RuntimeError(f"DDP expects same model across all ranks, but Rank {r} has {len(theirs)} params, "
                               f"while rank 0 has inconsistent {len(ref)} params.")
        for k, (a, b) in enumerate(zip(ref, theirs)):
            if a[1:] != b[1:]:
                raise RuntimeError(
                    f"DDP expects same model across all ranks, but parameter {k} ('{b[0]}') has shape {list(b[1])} "
                    f"and dtype {b[2]} on rank {r} while rank 0 has shape {list(a[1])} and dtype {a[2]} "
                    f"('{a[0]}')."
                )


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model, train as usual, gradients are averaged.

    >>> import nnbox, nnbox.nn as nn, nnbox.distributed as dist   # under `nnbox run -n 2 train.py`
    >>> # dist.init_process_group("mpi")
    >>> # model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))
    >>> # model(x).sum().backward()   # .grad now holds the average over the 2 ranks
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, **kwargs):
        super().__init__()
        for name, value in kwargs.items():
            if name not in _UNSUPPORTED_DEFAULTS:
                raise TypeError(f"DistributedDataParallel.__init__() got an unexpected keyword argument '{name}'")
            if value != _UNSUPPORTED_DEFAULTS[name]:
                raise ValueError(f"DistributedDataParallel: argument {name}={value!r} is not supported by nnbox")
        from ...distributed.process_group import _resolve

        pg = _resolve(process_group)
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        devices = {p.device for p in module.parameters()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel's input module must be on the same type of devices, "
                             f"but input module parameters are located in {devices}.")
        if device_ids is not None and next(iter(devices)).type == "cpu":
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with single-device/"
                f"multiple-device GPU modules or CPU modules, but got device_ids {list(device_ids)}, output_device "
                f"{output_device}, and module parameters {devices}."
            )
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        self.module = module
        d = self.__dict__
        d["process_group"] = pg
        d["device_ids"] = list(device_ids) if device_ids is not None else None
        d["output_device"] = output_device
        d["dim"] = dim
        d["broadcast_buffers"] = broadcast_buffers
        d["find_unused_parameters"] = find_unused_parameters
        d["gradient_as_bucket_view"] = gradient_as_bucket_view
        d["static_graph"] = static_graph
        d["require_backward_grad_sync"] = True
        d["require_forward_param_sync"] = True
        names = {id(p): n for n, p in module.named_parameters()}
        _verify_same_model(pg, [(names.get(id(p), "?"), tuple(p.shape), str(p.dtype)) for p in params])
        if init_sync:
            self._broadcast_coalesced([p._data for p in module.parameters()] + [b._data for b in module.buffers()])
        cap = (25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024
        d["reducer"] = Reducer(params, names, pg, int(cap), find_unused_parameters)

    def _broadcast_coalesced(self, arrays: list) -> None:
        """Rank 0's values into ``arrays`` (in place): one broadcast per dtype."""
        from ..._tensor import Tensor
        from ...distributed import collectives as C

        if self.process_group.size() == 1 or not arrays:
            return
        groups: dict = {}
        for a in arrays:
            groups.setdefault((a.dtype, type(a)), []).append(a)
        root = self.process_group._ranks[0]
        for arrs in groups.values():
            xp = array_module(arrs[0])
            flat = xp.concatenate([a.reshape(-1) for a in arrs])
            C.broadcast(Tensor._make(flat), src=root, group=self.process_group)
            off = 0
            for a in arrs:
                a[...] = flat[off:off + a.size].reshape(a.shape)
                off += a.size

    # --- forward ---------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        grad_on = grad_mode.is_grad_enabled()
        sync = grad_on and self.require_backward_grad_sync
        if grad_on:
            self.reducer.prepare(sync)
            if self.broadcast_buffers and self.require_forward_param_sync:
                bufs = [b._data for b in self.module.buffers()]
                if bufs:
                    self._broadcast_coalesced(bufs)
        out = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self.reducer.mark_unused(_leaves_reached(out))
        return out

    @contextmanager
    def no_sync(self):
        """Gradients of backward passes whose forward ran inside accumulate locally, unsynchronised.

        >>> # with ddp.no_sync():
        >>> #     ddp(x1).sum().backward()      # local only
        >>> # ddp(x2).sum().backward()          # averages the sum of both
        """
        old = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = old

    # --- torch API odds and ends -----------------------------------------------------------------
    def join(self, *args, **kwargs):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not supported by nnbox")

    def register_comm_hook(self, state, hook):
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not supported by nnbox")

    def _set_static_graph(self) -> None:
        self.__dict__["static_graph"] = True
