"""What runs inside a DataLoader worker process, and the pieces the main process shares with it:
``WorkerInfo``/``get_worker_info``, the fetchers that turn indices into a collated batch, and
``ExceptionWrapper`` that carries a worker's traceback back to the main process.
"""
from __future__ import annotations

import itertools
import mmap
import os
import pickle
import random
import secrets
import sys
import traceback
from dataclasses import dataclass

# How often (seconds) a waiting worker checks that its parent is still alive.
MP_STATUS_CHECK_INTERVAL = 5.0
# How often a worker's watchdog thread checks for its parent, busy or not: a SIGKILLed main
# process leaves no worker running, nor its batch files in /dev/shm, for more than ~this long.
PARENT_CHECK_INTERVAL = 0.2

_worker_info: WorkerInfo | None = None


class WorkerInfo:
    """Who this worker is: ``id``, ``num_workers``, ``seed`` and its copy of ``dataset``.
    Read-only once made."""

    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker: its ``WorkerInfo``; in the main process: ``None``.  Use it in an
    ``IterableDataset.__iter__`` to give each worker its own share of the stream.

    >>> get_worker_info() is None
    True
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, with its formatted traceback (tracebacks do not pickle)."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the original exception type with the worker's traceback in the message."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            # KeyError repr()s its message, which would mangle the newlines
            msg = _KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # the type needs other constructor arguments: keep the text, lose the type
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            del exception  # no frame -> traceback -> exception cycle keeping the loader alive


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """Sent by a worker whose IterableDataset iterator is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch (they restart their iterator)."""

    seed: int | None = None


# --- fetchers: indices -> collated batch ----------------------------------------------------------

class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self._getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, index):
        if self.auto_collation:
            if self._getitems is not None:
                data = self._getitems(index)
            else:
                ds = self.dataset
                data = [ds[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(is_iterable: bool, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if is_iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


# --- the worker process ---------------------------------------------------------------------------

def _seed_worker(seed: int, base_seed: int, worker_id: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and nnbox's default generator, differently in
    every worker (otherwise random augmentations would repeat across workers)."""
    import numpy as np

    from ..._backend.random import manual_seed

    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


# Arrays at least this big travel through shared memory (/dev/shm) instead of the pipe: the
# worker writes each one once into a fresh file, the main process maps it and unlinks it, and the
# batch's arrays then live in that mapping (no copy on the receiving side).
SHM_MIN_BYTES = 1 << 16
_shm_counter = itertools.count()


_SHM_NAME = "nnbox_dl_"


def shm_prefix_for_loader() -> str | None:
    """A unique file-name prefix in /dev/shm for one loader iterator's batches (None: no /dev/shm).
    Batch files of loaders whose process is gone (killed before anyone could unlink them) are
    removed here, by the next run."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        return None
    remove_orphaned_shm()
    return f"/dev/shm/{_SHM_NAME}{os.getpid()}_{secrets.token_hex(6)}_"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def remove_orphaned_shm(folder: str = "/dev/shm") -> int:
    """Unlink nnbox DataLoader batch files whose owning process no longer exists; returns how many."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_SHM_NAME)]
    except OSError:
        return 0
    removed, alive = 0, {}
    for name in names:
        pid = name[len(_SHM_NAME):].split("_", 1)[0]
        if not pid.isdigit():
            continue
        if pid not in alive:
            alive[pid] = _pid_alive(int(pid))
        if not alive[pid]:
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except OSError:
                pass
    return removed


def _watch_parent(parent: int, shm_prefix: str | None, worker_id: int) -> None:
    """Daemon thread of a worker: when the main process is gone, remove this worker's unread batch
    files and end the process at once, even in the middle of a slow ``__getitem__``."""
    import glob
    import time

    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    if shm_prefix is not None:
        for path in glob.glob(glob.escape(f"{shm_prefix}{worker_id}_") + "*"):
            try:
                os.unlink(path)
            except OSError:
                pass
    os._exit(0)


def _write_shm(path: str, raw: memoryview) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, raw.nbytes)
        with mmap.mmap(fd, raw.nbytes) as mm:
            mm[:] = raw
    finally:
        os.close(fd)


class _SharedMap(mmap.mmap):
    """A mapping of one /dev/shm file, remembering its path (so a batch stacked straight into it
    is sent by name, without another copy)."""


_shm_prefix: str | None = None  # set in worker processes that send through shared memory


def shared_empty(shape: tuple[int, ...], dtype):
    """In a worker: an uninitialised array backed by a fresh /dev/shm file, for collate to stack a
    big batch into (torch's collate does the same); None elsewhere or for small arrays."""
    import numpy as np

    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if _shm_prefix is None or nbytes < SHM_MIN_BYTES:
        return None
    path = f"{_shm_prefix}{_worker_info.id}_{next(_shm_counter)}"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, nbytes)
            mm = _SharedMap(fd, nbytes)
        finally:
            os.close(fd)
    except OSError:
        return None
    mm.nnbox_path = path
    arr = np.frombuffer(mm, dtype=dtype).reshape(shape)
    mm.nnbox_addr = arr.__array_interface__["data"][0]
    return arr


def _shared_file_of(buf: memoryview) -> str | None:
    """The /dev/shm file that exactly holds ``buf`` (an array made by ``shared_empty``), if any."""
    obj = buf.obj
    start = getattr(obj, "__array_interface__", {}).get("data", (None,))[0]
    while obj is not None and not isinstance(obj, _SharedMap):  # array -> base array -> memoryview -> map
        obj = obj.obj if isinstance(obj, memoryview) else getattr(obj, "base", None)
    if obj is None or obj.nnbox_addr != start or len(obj) != buf.nbytes:
        return None
    return obj.nnbox_path


def map_shm(path: str, size: int) -> mmap.mmap:
    """Map a batch buffer written by a worker, and unlink it: the memory lives as long as the arrays."""
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)
        os.unlink(path)


def _send(data_queue, task_id, data, worker_id: int, shm_prefix: str | None = None) -> None:
    """Pickle the reply here, not in the queue's feeder thread: there a pickling error would be
    printed and the reply dropped, leaving the main process waiting forever.  Large contiguous
    arrays go out of band through shared memory (pickle protocol 5)."""
    files: list[tuple[str, int]] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        if shm_prefix is None:
            return True
        raw = buf.raw()
        if raw.nbytes < SHM_MIN_BYTES:
            return True  # small: in band
        path = _shared_file_of(raw)
        if path is not None:  # collate already put it in shared memory
            files.append((path, raw.nbytes))
            return False
        path = f"{shm_prefix}{worker_id}_{next(_shm_counter)}"
        try:
            _write_shm(path, raw)
        except OSError:
            return True  # /dev/shm full or gone: send it through the pipe instead
        files.append((path, raw.nbytes))
        return False

    try:
        payload = pickle.dumps((task_id, data), protocol=5, buffer_callback=out_of_band)
    except Exception:
        for path, _ in files:
            os.unlink(path)
        files = []
        err = ExceptionWrapper(where=f"in DataLoader worker process {worker_id} (sending the batch)")
        payload = pickle.dumps((task_id, err), protocol=5)
    data_queue.put((payload, files))


def _worker_loop(is_iterable, dataset, task_conn, data_queue, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers, shm_prefix=None):
    """Serve ``(task_id, indices)`` read from the pipe ``task_conn`` with ``(task_id, batch)`` on
    ``data_queue`` until told to stop (``None``) or until the parent process is gone.
    Every task gets exactly one reply: the batch, an ``ExceptionWrapper``, or (iterable datasets)
    ``_IterableDatasetStopIteration``."""
    global _worker_info, _shm_prefix
    try:
        _shm_prefix = shm_prefix
        import signal

        # Ctrl-C goes to the whole process group; the main process handles it and shuts us down
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        parent = os.getppid()
        import threading

        threading.Thread(target=_watch_parent, args=(parent, shm_prefix, worker_id), daemon=True,
                         name="nnbox-parent-watchdog").start()

        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        iteration_end = False
        while True:
            try:
                if not task_conn.poll(MP_STATUS_CHECK_INTERVAL):
                    if os.getppid() != parent:  # orphaned: the main process died
                        break
                    continue
                task = task_conn.recv()
            except (EOFError, OSError):  # the main process closed its end
                break
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                # new epoch for a persistent worker: restart the dataset iterator, then acknowledge
                _send(data_queue, task, None, worker_id, shm_prefix)
                iteration_end = False
                if task.seed is not None:
                    _seed_worker(task.seed + worker_id, task.seed, worker_id)
                    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=task.seed + worker_id,
                                              dataset=dataset)
                if init_exception is None:
                    fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if done_event.is_set():
                continue  # shutting down: the main process no longer wants results
            task_id, index = task
            if init_exception is not None:
                data, init_exception = init_exception, None
            elif iteration_end:
                data = _IterableDatasetStopIteration(worker_id)
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if is_iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                except Exception:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            _send(data_queue, task_id, data, worker_id, shm_prefix)
            del data, index, task
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # don't block process exit flushing results nobody will read
        data_queue.cancel_join_thread()
        data_queue.close()
