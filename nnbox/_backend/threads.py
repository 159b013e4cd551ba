"""Intra-op threads: ``torch.set_num_threads`` / ``get_num_threads`` and a small worker pool.

NumPy's ufuncs release the GIL on large arrays, so splitting a long element-wise pass into slices
and running them on a few threads uses the cores torch uses (its OpenMP loops do the same).  The
pool starts on first use, holds ``get_num_threads() - 1`` workers (the calling thread takes a share
too) and is rebuilt when the count changes.  BLAS follows the same setting through threadpoolctl
when it is installed.

>>> import nnbox
>>> n = nnbox.get_num_threads()
>>> nnbox.set_num_threads(1); nnbox.get_num_threads()
1
>>> nnbox.set_num_threads(n)
"""
from __future__ import annotations

import os
import threading

_state = {"threads": None, "interop": None, "pool": None, "pool_size": 0}
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
    except ImportError:
        return
    threadpool_limits(n, user_api="blas")


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


def _pool(size: int):
    if _state["pool_size"] != size:
        with _lock:
            if _state["pool_size"] != size:
                from concurrent.futures import ThreadPoolExecutor

                old = _state["pool"]
                _state["pool"] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="nnbox")
                _state["pool_size"] = size
                if old is not None:
                    old.shutdown(wait=False)
    return _state["pool"]


def parallel_for(n_tasks: int, task) -> None:
    """Run ``task(i, worker)`` for ``i`` in ``range(n_tasks)`` on up to ``get_num_threads()``
    threads; ``worker`` (0 .. threads-1) lets a task pick per-thread scratch buffers.  Tasks must be
    independent; the first exception raised by any task is re-raised here."""
    threads = min(get_num_threads(), n_tasks)
    if threads <= 1:
        for i in range(n_tasks):
            task(i, 0)
        return
    pool = _pool(threads - 1)

    def run(worker: int) -> None:
        for i in range(worker, n_tasks, threads):
            task(i, worker)

    futures = [pool.submit(run, w) for w in range(1, threads)]
    try:
        run(0)
    finally:
        for f in futures:
            f.result()
