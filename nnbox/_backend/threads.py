"""Intra-op threads: ``torch.set_num_threads`` / ``get_num_threads`` and a small worker pool.

NumPy's ufuncs release the GIL on large arrays, so splitting a long element-wise pass into slices
and running them on a few threads uses the cores torch uses (its OpenMP loops do the same).  The
workers start on first use (``get_num_threads() - 1`` of them; the calling thread takes a share
too), sleep on a lock between calls, and take tasks one at a time from a shared counter: a worker
the OS has not scheduled yet (another process holds its core) leaves its tasks to the others
instead of stalling the call.  BLAS follows the same setting: through threadpoolctl when it is
installed, else NumPy's bundled OpenBLAS directly.

>>> import nnbox
>>> n = nnbox.get_num_threads()
>>> nnbox.set_num_threads(1); nnbox.get_num_threads()
1
>>> nnbox.set_num_threads(n)
"""
from __future__ import annotations

import itertools
import os
import threading

from .openblas import set_num_threads as set_blas_threads

_state = {"threads": None, "interop": None, "pool": None}
_lock = threading.Lock()


def _default_threads() -> int:
    for var in ("OMP_NUM_THREADS", "NNBOX_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            return int(v)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """The number of threads nnbox uses for intra-op parallelism (torch's default: the cores
    available, or ``OMP_NUM_THREADS``)."""
    n = _state["threads"]
    if n is None:
        n = _state["threads"] = _default_threads()
    return n


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for element-wise work and BLAS (``torch.set_num_threads``)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the core install: NumPy's own OpenBLAS, where it is one
        set_blas_threads(n)
        return
    threadpool_limits(n, user_api="blas")  # every BLAS in the process


def get_num_interop_threads() -> int:
    n = _state["interop"]
    return _default_threads() if n is None else n


def set_num_interop_threads(n: int) -> None:
    """Accepted for torch's API: nnbox runs no inter-op parallelism, so the value is only recorded."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _state["interop"] = n


class _Job:
    """One ``parallel_for`` call: tasks are claimed one at a time from a shared counter, so a thread
    that the OS does not schedule (another process holds its core) leaves its share to the others
    instead of stalling the call, as a fixed split would."""

    __slots__ = ("task", "n", "claim", "left", "lock", "finished", "error")

    def __init__(self, task, n: int) -> None:
        self.task, self.n = task, n
        self.claim = itertools.count().__next__  # atomic under the GIL
        self.left = n
        self.lock = threading.Lock()
        self.finished = threading.Lock()
        self.finished.acquire()  # released by whichever thread completes the last task
        self.error = None

    def work(self, worker: int) -> None:
        _local.busy = True  # a parallel_for inside a task runs on its own thread
        try:
            while (i := self.claim()) < self.n:
                if self.error is None:
                    try:
                        self.task(i, worker)
                    except BaseException as e:  # noqa: BLE001 - re-raised by the caller
                        self.error = self.error or e
                with self.lock:
                    self.left -= 1
                    last = self.left == 0
                if last:
                    self.finished.release()
        finally:
            _local.busy = False


class _Worker:
    """A daemon thread that sleeps on its own lock until a job is posted (a lock hand-off measured
    about 11 us here, half of a ``ThreadPoolExecutor`` submit-and-wait)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.job = None
        self.wake = threading.Lock()
        self.wake.acquire()
        threading.Thread(target=self._loop, name=f"nnbox-{index}", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.wake.acquire()
            self.job.work(self.index)

    def post(self, job) -> None:
        self.job = job
        try:
            self.wake.release()
        except RuntimeError:  # still awake from an earlier post: it reads the newest job next
            pass


_local = threading.local()


def _workers(size: int) -> list:
    workers = _state["pool"]
    if workers is None or len(workers) < size:
        with _lock:
            workers = _state["pool"] or []
            workers = workers + [_Worker(i + 1) for i in range(len(workers), size)]
            _state["pool"] = workers
    return workers


def parallel_for(n_tasks: int, task) -> None:
    """Run ``task(i, worker)`` for ``i`` in ``range(n_tasks)`` on up to ``get_num_threads()``
    threads; ``worker`` (0 .. threads-1) lets a task pick per-thread scratch buffers.  Tasks must be
    independent; each thread claims the next unclaimed task, so more tasks than threads balance the
    load.  The first exception raised by any task is re-raised here (the tasks not yet started are
    then skipped).  A ``parallel_for`` inside a task runs its tasks on that task's thread.

    BLAS calls in tasks run on one thread each, however many threads the call has: the pool
    already uses the cores (BLAS's own split over them would oversubscribe them), and a BLAS call
    split over threads rounds a few elements at its split points apart from a one-thread call, so a
    task's result would depend on the thread count.  (OpenBLAS's thread count is process-wide, so
    the caller sets it for the whole call.)"""
    blas = set_blas_threads(1)
    try:
        threads = min(get_num_threads(), n_tasks)
        if threads <= 1 or getattr(_local, "busy", False):
            for i in range(n_tasks):
                task(i, 0)
            return
        job = _Job(task, n_tasks)
        for w in _workers(threads - 1)[:threads - 1]:
            w.post(job)
        job.work(0)
        job.finished.acquire()  # the tasks other threads claimed are done
    finally:
        if blas is not None and blas != 1:
            set_blas_threads(blas)
    if job.error is not None:
        raise job.error
