"""``Work``: the handle an ``async_op=True`` collective returns, as ``torch.distributed.Work``."""
from __future__ import annotations

import time
from collections.abc import Callable

# Waiting: MPICH busy-polls inside a blocking wait, which starves the ranks that still compute when
# processes outnumber cores (4 ranks on 2 cores: the computing rank ran 2.4x slower).  So waits
# poll MPI_Test: busily for the first _SPIN_S (no added latency for quick collectives), then
# with sleeps growing to _MAX_SLEEP_S.  Measured on 2 cores: a 26 MB all-reduce takes the same
# time; a rank computing while 3 others wait runs 1.5x faster.
_SPIN_S = 1e-3
_SLEEP_STEP_S = 5e-5
_MAX_SLEEP_S = 1e-3


def wait_requests(requests: list, status=None) -> None:
    """Block until every MPI request in ``requests`` is complete (``status``: of a single one)."""
    from mpi4py import MPI  # noqa: PLC0415

    if len(requests) == 1:
        req = requests[0]
        done = (lambda: req.Test(status)) if status is not None else req.Test
    else:
        done = lambda: MPI.Request.Testall(requests)  # noqa: E731
    if done():
        return
    start = time.perf_counter()
    delay = 0.0
    while not done():
        if time.perf_counter() - start > _SPIN_S:
            delay = min(_MAX_SLEEP_S, delay + _SLEEP_STEP_S)
            time.sleep(delay)


class Work:
    """A collective in flight: ``wait()`` blocks until it is done, ``is_completed()`` polls.

    Results (a copy back into a non-contiguous tensor, the division of ``ReduceOp.AVG``, the
    split of a gather buffer) are written by the first ``wait()``/successful ``is_completed()``,
    so read the tensors only after one of them, as in torch.

    >>> import nnbox, nnbox.distributed as dist   # under ``mpiexec -n 2``
    >>> # w = dist.all_reduce(t, async_op=True); ...; w.wait()
    """

    def __init__(self, requests=(), finish: Callable[[], None] | None = None, watchdog=None,
                 what: str = "collective", keep=(), waiter=None, poller=None, result=None):
        self._requests = list(requests)  # MPI requests
        self._finish = finish
        self._watchdog = watchdog
        self._what = what
        self._keep = keep  # buffers MPI reads/writes until completion must outlive the call
        self._waiter = waiter  # for non-MPI engines (NCCL): blocks until done
        self._poller = poller  # for non-MPI engines: True when done
        self._done = not self._requests and waiter is None
        self._result = result or []
        self._source = None
        if self._done:
            self._complete()

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            fin, self._finish = self._finish, None
            fin()
        self._keep = ()

    def wait(self, timeout=None) -> bool:
        """Block until the operation completes; returns True (torch's contract)."""
        if self._done:
            return True
        wd = self._watchdog
        if wd is not None:
            wd.enter(f"wait() on an async {self._what}")
        try:
            if self._requests:
                from mpi4py import MPI

                status = MPI.Status() if len(self._requests) == 1 else None
                wait_requests(self._requests, status)
                if status is not None:
                    self._source = status.Get_source()
            if self._waiter is not None:
                self._waiter()
        finally:
            if wd is not None:
                wd.leave()
        self._complete()
        return True

    def is_completed(self) -> bool:
        if self._done:
            return True
        if self._requests:
            from mpi4py import MPI

            if len(self._requests) == 1:
                status = MPI.Status()
                if not self._requests[0].Test(status):
                    return False
                self._source = status.Get_source()
            elif not MPI.Request.Testall(self._requests):
                return False
        if self._poller is not None and not self._poller():
            return False
        self._complete()
        return True

    def is_success(self) -> bool:
        return self.is_completed()

    def exception(self):
        return None

    def result(self) -> list:
        self.wait()
        return self._result

    def _source_rank(self) -> int:
        self.wait()
        return self._source

    def synchronize(self) -> None:
        self.wait()

    def __repr__(self) -> str:
        return f"<nnbox.distributed.Work {self._what} completed={self._done}>"
