"""``DataLoader``: batches from a dataset, in the main process or in worker processes.

With ``num_workers > 0`` the main process hands index batches to workers round-robin through one
pipe per worker, keeping ``prefetch_factor * num_workers`` batches in flight, and reads the
results from one shared queue, putting them back in sampler order (``in_order=True``).  It waits
on the result queue *and* on the workers' process sentinels, so a worker that dies is reported at
once instead of hanging the loop.
"""
from __future__ import annotations

import glob
import itertools
import multiprocessing as _mp
import os
import pickle
import queue
import time
import warnings
from collections.abc import Callable, Iterable
from multiprocessing.connection import wait as _wait_any
from typing import Any

from . import _worker
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: the dataset decides the data, so the "index" is None."""

    def __iter__(self):
        while True:
            yield None


def _check_mp_context(ctx, num_workers: int):
    if ctx is None:
        return None
    if num_workers == 0:
        raise ValueError(
            "multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
            f"but got num_workers={num_workers}"
        )
    if isinstance(ctx, str):
        methods = _mp.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(
                "multiprocessing_context option should specify a valid start method in "
                f"{methods!r}, but got multiprocessing_context={ctx!r}"
            )
        return _mp.get_context(ctx)
    if not isinstance(ctx, _mp.context.BaseContext):
        raise TypeError(
            "multiprocessing_context option should be a valid context object or a string specifying "
            f"the start method, but got multiprocessing_context={ctx}"
        )
    return ctx


class DataLoader:
    """Iterate over ``dataset`` in batches, with torch's arguments and semantics.

    >>> import nnbox
    >>> from nnbox.utils.data import TensorDataset
    >>> ds = TensorDataset(nnbox.arange(10.), nnbox.arange(10))
    >>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    >>> len(DataLoader(ds, batch_size=4, drop_last=True))
    2
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")
    __initialized = False

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(
                        f"DataLoader with IterableDataset: expected unspecified {name} option, but got {name}={value}"
                    )
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        if pin_memory:
            _warn_pin_memory()
        self._check_worker_number_rationality()
        self.__initialized = True

    # --- configuration ---------------------------------------------------------------------------
    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx) -> None:
        self.__multiprocessing_context = _check_mp_context(ctx, self.num_workers)

    def __setattr__(self, attr, val):
        if self.__initialized and attr in self._FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _check_worker_number_rationality(self) -> None:
        if self.num_workers == 0:
            return
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total. Our suggested max "
                f"number of worker in current system is {cpus}, which is smaller than what this DataLoader is "
                "going to create. Please be aware that excessive worker creation might get DataLoader running "
                "slow or even freeze, lower the worker number to avoid potential slowness/freeze if necessary."
            )

    # --- iteration ---------------------------------------------------------------------------------
    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._is_iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


def _cuda_available() -> bool:
    from ... import cuda

    return cuda.is_available()


def pin_memory(data):
    """``data`` with every CPU tensor in it copied to page-locked memory (batches, as torch's
    pin-memory step does), so ``.to("cuda", non_blocking=True)`` can overlap the copy."""
    from ..._tensor import Tensor

    if isinstance(data, Tensor):
        return data.pin_memory() if data.is_cpu else data
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(pin_memory(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(pin_memory(d) for d in data)
    if isinstance(data, dict):
        return type(data)((k, pin_memory(v)) for k, v in data.items())
    return data


def _warn_pin_memory() -> None:
    from ... import cuda

    if not cuda.is_available():
        warnings.warn(
            "'pin_memory' argument is set as true but no accelerator is found, then device pinned memory won't be used."
        )


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = self._draw_base_seed(loader)
        self._persistent_workers = loader.persistent_workers
        self._pin = bool(loader.pin_memory) and _cuda_available()
        self._num_yielded = 0
        self._profile_name = f"enumerate(DataLoader)#{self.__class__.__name__}.__next__"

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    @staticmethod
    def _draw_base_seed(loader: DataLoader) -> int:
        """One int64 from the loader's generator: the base of every worker's seed."""
        from ... import empty, int64

        return int(empty((), dtype=int64, device="cpu").random_(generator=loader.generator).item())

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        if not first_iter:
            self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        if self._pin:
            data = pin_memory(data)
        self._num_yielded += 1
        if (self._is_iterable and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            warnings.warn(
                f"Length of IterableDataset {self._dataset} was reported to be {self._IterableDataset_len_called}"
                f" (when accessing len(dataloader)), but {self._num_yielded} samples have been fetched. "
                "For multiprocessing data-loading, this could be caused by not properly configuring the "
                "IterableDataset replica at each worker."
            )
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = _worker.create_fetcher(
            self._is_iterable, self._dataset, self._auto_collation, self._collate_fn, self._drop_last
        )

    def _next_data(self):
        index = self._next_index()  # StopIteration ends the epoch
        return self._fetcher.fetch(index)


_SKIP = object()  # a task slot that produced nothing (an exhausted IterableDataset worker)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or _mp
        self._shutdown = True  # until the workers exist, there is nothing to shut down
        self._worker_init_fn = loader.worker_init_fn
        self._data_queue = ctx.Queue()
        self._shm_prefix = _worker.shm_prefix_for_loader()
        self._workers_done_event = ctx.Event()
        # Tasks go through one pipe per worker, written synchronously: unlike a Queue's feeder
        # thread, a pipe still works while the garbage collector tears this iterator down.
        self._task_conns = []
        self._workers = []
        try:
            for i in range(self._num_workers):
                worker_end, main_end = ctx.Pipe(duplex=False)
                w = ctx.Process(
                    target=_worker._worker_loop,
                    args=(self._is_iterable, self._dataset, worker_end, self._data_queue,
                          self._workers_done_event, self._auto_collation, self._collate_fn, self._drop_last,
                          self._base_seed, self._worker_init_fn, i, self._num_workers, self._shm_prefix),
                    daemon=True,
                )
                w.start()
                worker_end.close()  # only the worker reads it: a dead worker now means a broken pipe
                self._task_conns.append(main_end)
                self._workers.append(w)
                self._shutdown = False
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    # --- epoch bookkeeping -------------------------------------------------------------------------
    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        if self._shutdown:
            raise RuntimeError("DataLoader workers were shut down; create a new iterator")
        self._send_idx = 0  # next task id to hand out
        self._rcvd_idx = 0  # next task id to yield (in_order)
        self._task_info: dict[int, list] = {}  # task id -> [worker id] or [worker id, data]
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: restart each worker's iterator and drop last epoch's leftovers.
            # Every epoch reseeds the workers from one fresh draw of the loader's generator, made
            # where a new iterator would make it: epoch k's randomness then depends only on the
            # RNG state at its start (as without persistent workers), so a run resumed from a
            # checkpoint at epoch k continues exactly (fit's promise).
            seed = self._draw_base_seed(loader)
            for worker_id in range(self._num_workers):
                self._send_task(worker_id, _worker._ResumeIteration(seed))
            acks = 0
            while acks < self._num_workers:
                task_id, _ = self._get_data()
                if isinstance(task_id, _worker._ResumeIteration):
                    acks += 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        if self._tasks_outstanding >= self._prefetch_factor * self._num_workers:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker has run out of data (IterableDataset)
        self._send_task(worker_id, (self._send_idx, index))
        self._task_info[self._send_idx] = [worker_id]
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _send_task(self, worker_id: int, task) -> None:
        try:
            self._task_conns[worker_id].send(task)
        except OSError:  # broken pipe: that worker is gone
            self._check_workers_alive()
            raise

    # --- receiving -----------------------------------------------------------------------------
    def _get_data(self):
        """The next ``(task_id, data)`` from any worker; raises if a worker died or on timeout."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        reader = getattr(self._data_queue, "_reader", None)
        while True:
            wait_s = _worker.MP_STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait_s = min(wait_s, max(0.0, deadline - time.monotonic()))
            if reader is not None:
                # wake on data or on any worker exiting, whichever comes first
                _wait_any([reader] + [w.sentinel for w in self._workers], timeout=wait_s)
                ready = reader.poll()
            else:
                ready = True
            if ready:
                try:
                    payload = self._data_queue.get(timeout=wait_s if reader is None else 1.0)
                except queue.Empty:
                    payload = None
                if payload is not None:
                    return _unpack(payload)
            self._check_workers_alive()
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _check_workers_alive(self) -> None:
        dead = [w for w in self._workers if w.exitcode is not None]
        if dead:
            pids = ", ".join(str(w.pid) for w in dead)
            how = "; ".join(_describe_exit(w.exitcode) for w in dead)
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly ({how})")

    def _next_data(self):
        while True:
            # hand out results that are ready, in sampler order
            while self._in_order and self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) < 2:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                if info[1] is not _SKIP:
                    return self._process_data(info[1])
            if self._tasks_outstanding == 0:
                # the sampler is exhausted (or every iterable worker is) and everything was yielded
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            task_id, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                data = _SKIP
            self._try_put_index()
            if not self._in_order:
                del self._task_info[task_id]
                if data is _SKIP:
                    continue
                return self._process_data(data)
            self._task_info[task_id].append(data)

    def _process_data(self, data):
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    # --- shutting down -------------------------------------------------------------------------
    def _shutdown_workers(self) -> None:
        """Stop every worker: tell them, wait a little, then terminate what is left.  Safe to call
        twice, from ``__del__`` and during interpreter exit."""
        if getattr(self, "_shutdown", True):
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for conn in self._task_conns:
                try:
                    conn.send(None)
                except (OSError, ValueError):
                    pass  # that worker is already gone
            deadline = time.monotonic() + _worker.MP_STATUS_CHECK_INTERVAL
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            for conn in self._task_conns:
                conn.close()
            self._data_queue.cancel_join_thread()
            self._data_queue.close()
            if self._shm_prefix is not None:
                # batches that were sent but never read
                for path in glob.glob(glob.escape(self._shm_prefix) + "*"):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:  # interpreter teardown: modules may already be gone
            pass


def _unpack(message):
    payload, files = message
    buffers = [_worker.map_shm(path, size) for path, size in files]
    return pickle.loads(payload, buffers=buffers)


def _describe_exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by signal: {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

