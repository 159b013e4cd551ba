"""The ``Reducer`` behind ``DistributedDataParallel``: gradient hooks, buckets, all-reduces.

It holds the parameter list and per-iteration state outside the Module (so none of it is
mistaken for registered state); ``DistributedDataParallel`` tells it, at each forward, whether
this iteration synchronises and which parameters the graph does not reach.
"""
from __future__ import annotations

import numpy as np

from ..._backend.device import array_module
from ..._tensor import Tensor
from ...distributed.reduce_op import ReduceOp
from ._buckets import assign_buckets

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error "
    "indicates that your module has parameters that were not used in producing loss. You can enable unused "
    "parameter detection by passing the keyword argument `find_unused_parameters=True` to "
    "`torch.nn.parallel.DistributedDataParallel`, and by \nmaking sure all `forward` function outputs "
    "participate in calculating loss. \nIf you already have done the above, then the distributed data "
    "parallel module wasn't able to locate the output tensors in the return value of your module's "
    "`forward` function. Please include the loss function and the structure of the return value of "
    "`forward` of your module when reporting this issue (e.g. list, dict, iterable).\n"
    "Parameter indices which did not receive grad for rank {rank}: {idx}"
)


class Reducer:
    """Averages the gradients of ``params`` over ``process_group`` during backward."""

    def __init__(self, params: list, names: dict, process_group, cap_bytes: int, find_unused_parameters: bool):
        self._params = params
        self._names = names
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self._buckets = assign_buckets(params, cap_bytes, min(cap_bytes, 1024 * 1024))
        self._bucket_of = {i: b for b in self._buckets for i in b.params}
        self._sync_now = False  # this iteration's backward all-reduces (decided in forward)
        self._reset()
        self._handles = [p.register_hook(self._make_hook(i)) for i, p in enumerate(params)]

    def prepare(self, sync: bool) -> None:
        """Called at the start of forward."""
        if self._started:
            missing = [i for i, r in enumerate(self._ready) if not r]
            self._reset()
            raise RuntimeError(_UNFINISHED.format(rank=self.process_group.rank(), idx=" ".join(map(str, missing))))
        self._sync_now = sync

    def mark_unused(self, reached: set) -> None:
        """After forward (find_unused_parameters): parameters the graph does not reach are ready now."""
        self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        for i in self._unused:
            self._mark_ready(i, None)

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()

    def _make_hook(self, i: int):
        def hook(grad):
            if not self._sync_now:
                return None  # no_sync / a forward outside DDP: plain local accumulation
            return self._mark_ready(i, grad._data)

        return hook

    def _mark_ready(self, i: int, g):
        """Count parameter ``i`` (gradient ``g``, None when unused) down in its bucket.

        The engine runs each leaf's hook and then accumulates that leaf's gradient, one leaf at a
        time.  So while a bucket is incomplete the hook stands aside (the engine stores or sums
        the gradient into ``.grad`` as usual, with no extra pass); when its last parameter
        arrives, every other parameter's ``.grad`` is final: they are moved into the bucket, the
        current one is summed in by the hook itself (the engine then adds a zero), and the
        bucket's all-reduce starts.
        """
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. Parameter index {i} "
                f"('{self._names.get(id(self._params[i]), '?')}') received a gradient twice in one iteration "
                "(or was found unused by find_unused_parameters and then got a gradient)."
            )
        self._ready[i] = True
        self._started = True
        b = self._bucket_of[i]
        b.pending -= 1
        if b.pending:
            return None
        self._fill(b, i, g)
        self._launch_ready()
        return None if g is None else b.zero

    def _fill(self, b, last: int, g) -> None:
        """Make every ``.grad`` of bucket ``b`` a view of its flat buffer holding the final value."""
        for j in b.params:
            p = self._params[j]
            view = b.views[j]
            cur = p._grad
            if j == last and g is not None:  # not yet accumulated by the engine: the hook does it
                if cur is view:
                    view._data += g
                elif cur is None:
                    view._data[...] = g
                else:
                    array_module(g).add(cur._data, g, out=view._data)
                p._grad = view
            elif cur is None:  # unused here, no gradient yet: zeros; attached if some rank used it
                view._data[...] = 0
                self._none_before.add(j)
            elif cur is not view:  # the engine's fresh array, or a .grad the user set: move it in
                view._data[...] = cur._data
                p._grad = view

    def _launch_ready(self) -> None:
        from ...distributed import collectives as C

        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].pending == 0:
            b = buckets[self._next]
            # the buckets are the same on every rank (DDP checked the models): no agreement round
            b.work = C._all_reduce_agreed(Tensor._make(b.flat), ReduceOp.SUM, self.process_group, True)
            self._next += 1
        if self._next == len(buckets):
            self._finish()

    def _finish(self) -> None:
        """All buckets launched: wait, average, settle the unused parameters, reset for next step."""
        from ...distributed import collectives as C

        world = self.process_group.size()
        for b in self._buckets:
            b.work.wait()
            b.work = None
            if world > 1:
                b.flat /= world
        if self.find_unused_parameters:  # every rank takes part (the flag is the same everywhere)
            # parameters with no gradient here: attach the average if some rank used them,
            # else leave grad None as torch does for parameters unused on every rank
            used = np.ones(len(self._params), np.int32)
            used[self._unused] = 0
            C.all_reduce(Tensor._make(used), op=ReduceOp.MAX, group=self.process_group)
            for i in self._none_before:
                if used[i]:
                    self._params[i]._grad = self._bucket_of[i].views[i]
        self._reset()
        self._sync_now = False  # the next backward synchronises only after another DDP forward

    def _reset(self) -> None:
        self._started = False
        self._ready = [False] * len(self._params)
        self._next = 0
        self._unused = []
        self._none_before = set()
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None

