"""nnbox.utils.data.DataLoader against torch's DataLoader: batching semantics, argument checks,
and the worker processes (ordering, seeding, errors, deaths, timeouts, shutdown)."""
from __future__ import annotations

import gc
import os
import random
import signal
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import nnbox
import nnbox.utils.data as ndata
from test_data import same_error, same_structure

LIBS = [(torch, tdata), (nnbox, ndata)]


@pytest.fixture(autouse=True)
def no_hang():
    """A loader bug must fail the test, never hang the suite."""

    def boom(*_):
        raise TimeoutError("DataLoader test hung")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); read its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- datasets used in worker processes (module level so the 'spawn' context can pickle them) ---

class Nested(ndata.Dataset):
    """Samples with nested structure, built for either library."""

    def __init__(self, lib, n=11):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        m = self.lib
        return {"x": m.full((2, 3), float(i)), "y": i, "meta": (f"s{i}", np.array([i, -i], np.int32))}


class Pid(ndata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return os.getpid()


class Seeds(ndata.Dataset):
    """What each worker's RNGs produce: Python random, NumPy global, nnbox default generator."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = ndata.get_worker_info()
        return (info.id, info.seed, random.random(), float(np.random.rand()), float(nnbox.rand(1).item()))


class Raises(ndata.Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise self.exc
        return i


class Dies(ndata.Dataset):
    def __init__(self, how):
        self.how = how

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            if self.how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(ndata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(1.0 if i == 2 else 0.0)
        return i


class Stream(ndata.IterableDataset):
    """range(n), split across workers with get_worker_info (torch's documented recipe)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = ndata.get_worker_info() or tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def _init_fn(worker_id):
    os.environ["NNBOX_TEST_WORKER"] = str(worker_id)


class InitSeen(ndata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ.get("NNBOX_TEST_WORKER", -1))


# --- single-process semantics vs torch -----------------------------------------------------------

LOADER_CASES = [
    dict(batch_size=4),
    dict(batch_size=4, drop_last=True),
    dict(batch_size=11),
    dict(batch_size=20),
    dict(batch_size=None),
    dict(batch_size=3, sampler=[10, 0, 5, 5, 2]),
    dict(batch_sampler=[[3, 1], [0], [7, 8, 9]]),
    dict(batch_size=2, collate_fn=lambda b: len(b)),
]


@pytest.mark.parametrize("kw", LOADER_CASES)
def test_loader_batches_match_torch(kw):
    t = list(tdata.DataLoader(Nested(torch), **kw))
    n = list(ndata.DataLoader(Nested(nnbox), **kw))
    same_structure(t, n)
    assert len(ndata.DataLoader(Nested(nnbox), **kw)) == len(tdata.DataLoader(Nested(torch), **kw))


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)])
def test_iterable_dataset_loader_matches_torch(kw):
    t = list(tdata.DataLoader(TStream(10), **kw))
    n = list(ndata.DataLoader(Stream(10), **kw))
    same_structure(t, n)
    assert len(ndata.DataLoader(Stream(10), **kw)) == (len(t) if kw.get("batch_size") else 10)


def test_shuffle_is_a_seeded_permutation():
    ds = ndata.TensorDataset(nnbox.arange(30))

    def order(loader):
        return [i for (b,) in loader for i in b.tolist()]

    a = order(ndata.DataLoader(ds, batch_size=7, shuffle=True, generator=nnbox.Generator().manual_seed(5)))
    b = order(ndata.DataLoader(ds, batch_size=7, shuffle=True, generator=nnbox.Generator().manual_seed(5)))
    assert a == b and sorted(a) == list(range(30)) and a != list(range(30))
    loader = ndata.DataLoader(ds, batch_size=7, shuffle=True)
    assert order(loader) != order(loader)  # each epoch reshuffles
    nnbox.manual_seed(1)
    c = order(ndata.DataLoader(ds, batch_size=7, shuffle=True))
    nnbox.manual_seed(1)
    assert order(ndata.DataLoader(ds, batch_size=7, shuffle=True)) == c
    # batch shapes follow torch: 4 batches of 7 then 2
    shapes = [tuple(b.shape) for (b,) in ndata.DataLoader(ds, batch_size=7, shuffle=True)]
    tshapes = [tuple(b.shape) for (b,) in tdata.DataLoader(tdata.TensorDataset(torch.arange(30)), batch_size=7, shuffle=True)]
    assert shapes == tshapes


def test_dataset_getitems_is_used_for_batches():
    class Batched(ndata.Dataset):
        calls = 0

        def __len__(self):
            return 6

        def __getitem__(self, i):
            raise AssertionError("should fetch whole batches")

        def __getitems__(self, idx):
            Batched.calls += 1
            return [i * 10 for i in idx]

    out = [b.tolist() for b in ndata.DataLoader(Batched(), batch_size=4)]
    assert out == [[0, 10, 20, 30], [40, 50]] and Batched.calls == 2


CONSTRUCTOR_ERRORS = [
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True),
    dict(sampler=[1], shuffle=True),
    dict(batch_sampler=[[1]], batch_size=2),
    dict(batch_sampler=[[1]], shuffle=True),
    dict(batch_sampler=[[1]], drop_last=True),
    dict(batch_size=None, drop_last=True),
    dict(batch_size=0),
    dict(batch_size=2.5),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="bad"),
    dict(num_workers=1, multiprocessing_context=3),
]


@pytest.mark.parametrize("kw", CONSTRUCTOR_ERRORS)
def test_constructor_errors_match_torch(kw):
    same_error(lambda lib, data: data.DataLoader(data.TensorDataset(lib.arange(4)), **kw))


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[1]), dict(batch_sampler=[[1]])])
def test_iterable_dataset_rejects_sampling_options(kw):
    with pytest.raises(ValueError) as te:
        tdata.DataLoader(TStream(3), **kw)
    with pytest.raises(ValueError) as ne:
        ndata.DataLoader(Stream(3), **kw)
    assert str(ne.value) == str(te.value)


def test_frozen_attributes_and_len_errors():
    def set_batch_size(lib, data):
        loader = data.DataLoader(data.TensorDataset(lib.arange(4)))
        loader.batch_size = 3

    same_error(set_batch_size)
    loader = ndata.DataLoader(ndata.TensorDataset(nnbox.arange(4)))
    loader.num_workers = 0  # not frozen in torch either

    class NoLen(ndata.IterableDataset):
        def __iter__(self):
            return iter([])

    with pytest.raises(TypeError, match="has no len"):
        len(ndata.DataLoader(NoLen()))


@pytest.mark.cpu_only(reason="asserts torch's no-accelerator warning")
def test_pin_memory_is_accepted():
    ds = ndata.TensorDataset(nnbox.arange(4))
    with pytest.warns(UserWarning, match="no accelerator"):
        loader = ndata.DataLoader(ds, batch_size=2, pin_memory=True)
    assert [b.tolist() for (b,) in loader] == [[0, 1], [2, 3]]


def test_pin_memory_pins_batches_with_cuda(standin):
    ds = ndata.TensorDataset(nnbox.arange(4, device="cpu"), nnbox.arange(4, device="cpu"))
    batches = list(ndata.DataLoader(ds, batch_size=2, pin_memory=True))
    assert [x.tolist() for x, _ in batches] == [[0, 1], [2, 3]]
    assert all(x.is_pinned() and y.is_pinned() and x.is_cpu for x, y in batches)
    assert not nnbox.arange(2, device="cpu").is_pinned()
    x = batches[0][0].to("cuda", non_blocking=True)
    assert x.device.type == "cuda" and x.tolist() == [0, 1]
    assert batches[0][0].pin_memory() is batches[0][0]
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        x.pin_memory()


# --- worker processes ------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=3, drop_last=True), dict(batch_size=None),
                                dict(batch_size=2, prefetch_factor=1), dict(batch_size=1, prefetch_factor=5)])
def test_workers_give_the_single_process_result(kw):
    ref = list(ndata.DataLoader(Nested(nnbox), **{k: v for k, v in kw.items() if k != "prefetch_factor"}))
    got = list(ndata.DataLoader(Nested(nnbox), num_workers=2, **kw))
    same_structure(ref, got)
    same_structure(list(tdata.DataLoader(Nested(torch), num_workers=2, **kw)), got)


def test_out_of_order_delivery_yields_every_batch():
    got = list(ndata.DataLoader(Slow(), batch_size=None, num_workers=2, in_order=False))
    assert sorted(got) == [0, 1, 2, 3] and got.index(2) == 3  # the slow sample does not block the others


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_iterable_dataset_split_across_workers_matches_torch():
    t = [b.tolist() for b in tdata.DataLoader(TStream(11), batch_size=3, num_workers=2)]
    n = [b.tolist() for b in ndata.DataLoader(Stream(11), batch_size=3, num_workers=2)]
    assert n == t
    t = [b.tolist() for b in tdata.DataLoader(TStream(11), batch_size=3, num_workers=3, drop_last=True)]
    n = [b.tolist() for b in ndata.DataLoader(Stream(11), batch_size=3, num_workers=3, drop_last=True)]
    assert n == t


def test_worker_seeds_and_info():
    loader = ndata.DataLoader(Seeds(), batch_size=None, num_workers=2, generator=nnbox.Generator().manual_seed(3))
    rows = list(loader)
    ids = [int(r[0]) for r in rows]
    seeds = {int(r[0]): int(r[1]) for r in rows}
    assert ids == [0, 1, 0, 1] and seeds[1] == seeds[0] + 1  # worker seed = base_seed + worker_id
    first = {int(r[0]): r[2:] for r in rows[:2]}
    for k in range(3):  # Python, NumPy and nnbox streams all differ between workers
        assert float(first[0][k]) != float(first[1][k])
    again = list(ndata.DataLoader(Seeds(), batch_size=None, num_workers=2, generator=nnbox.Generator().manual_seed(3)))
    same_structure([list(map(float, r)) for r in rows], [list(map(float, r)) for r in again])
    other = list(ndata.DataLoader(Seeds(), batch_size=None, num_workers=2, generator=nnbox.Generator().manual_seed(4)))
    assert int(other[0][1]) != int(rows[0][1])
    assert ndata.get_worker_info() is None


def test_worker_init_fn_runs_in_each_worker():
    got = list(ndata.DataLoader(InitSeen(), batch_size=None, num_workers=2, worker_init_fn=_init_fn))
    assert got == [0, 1, 0, 1]


@pytest.mark.parametrize("exc,typ", [(ValueError("bad sample 5"), ValueError), (KeyError("k5"), KeyError),
                                     (IndexError("out of range"), IndexError)])
def test_worker_exception_surfaces_with_traceback(exc, typ):
    with pytest.raises(typ) as info:
        list(ndata.DataLoader(Raises(exc), batch_size=2, num_workers=2))
    msg = str(info.value)
    assert f"Caught {typ.__name__} in DataLoader worker process 0." in msg
    assert "Original Traceback (most recent call last):" in msg and "__getitem__" in msg and str(exc.args[0]) in msg


def test_worker_exception_keeps_the_loader_usable():
    it = iter(ndata.DataLoader(Raises(ValueError("x")), batch_size=2, num_workers=2))
    got = [next(it).tolist(), next(it).tolist()]
    with pytest.raises(ValueError):
        next(it)
    got.append(next(it).tolist())
    assert got == [[0, 1], [2, 3], [6, 7]]


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_dead_worker_raises_instead_of_hanging(how):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly") as info:
        list(ndata.DataLoader(Dies(how), batch_size=2, num_workers=2))
    assert ("exit code 3" if how == "exit" else "SIGKILL") in str(info.value)
    assert time.monotonic() - start < 30


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(ndata.DataLoader(Slow(), batch_size=None, num_workers=1, timeout=0.5))


def test_unpicklable_batch_is_an_error_not_a_hang():
    with pytest.raises(Exception, match="Caught .* in DataLoader worker process 0 \\(sending the batch\\)"):
        list(ndata.DataLoader(list(range(4)), batch_size=2, num_workers=1, collate_fn=lambda b: (lambda: b)))


def test_workers_stop_on_break_and_garbage_collection():
    it = iter(ndata.DataLoader(Nested(nnbox), batch_size=2, num_workers=2))
    next(it)
    pids = [w.pid for w in it._workers]
    assert all(_alive(p) for p in pids)
    del it
    gc.collect()
    assert not any(_alive(p) for p in pids)

    loader = ndata.DataLoader(Nested(nnbox), batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    gc.collect()
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_workers_stop_at_epoch_end():
    it = iter(ndata.DataLoader(Nested(nnbox), batch_size=4, num_workers=2))
    pids = [w.pid for w in it._workers]
    list(it)
    assert not any(_alive(p) for p in pids)


def test_persistent_workers_survive_epochs():
    loader = ndata.DataLoader(Pid(), batch_size=None, num_workers=2, persistent_workers=True)
    e1 = set(loader)
    it = iter(loader)
    next(it)  # a half-consumed epoch: its leftovers must not leak into the next one
    e2 = [int(p) for p in loader]
    assert len(e2) == 8 and set(e2) == {int(p) for p in e1} and len(e1) == 2
    pids = [w.pid for w in loader._iterator._workers]
    del loader, it
    gc.collect()
    assert not any(_alive(p) for p in pids)


def test_persistent_workers_restart_iterable_datasets():
    loader = ndata.DataLoader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in loader]
    assert [b.tolist() for b in loader] == first
    assert sorted(i for b in first for i in b) == list(range(7))


def test_spawn_context():
    got = [b.tolist() for b in ndata.DataLoader(Stream(6), batch_size=2, num_workers=1, multiprocessing_context="spawn")]
    assert got == [[0, 1], [2, 3], [4, 5]]


def test_too_many_workers_warns():
    with pytest.warns(UserWarning, match="suggested max number of worker"):
        ndata.DataLoader(Nested(nnbox), num_workers=(os.cpu_count() or 1) + 1)


class Big(ndata.Dataset):
    """Samples big enough that batches travel through shared memory."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return nnbox.full((3, 64, 64), float(i)), np.full((128, 128), i, np.int16)


def _shm_files():
    return {f for f in os.listdir("/dev/shm") if f.startswith(f"nnbox_dl_{os.getpid()}_")} if os.path.isdir("/dev/shm") else set()


def test_big_batches_through_shared_memory_leave_nothing_behind():
    ref = list(ndata.DataLoader(Big(), batch_size=4))
    got = list(ndata.DataLoader(Big(), batch_size=4, num_workers=2))
    same_structure(ref, got)
    x = got[0][0]
    x += 1  # batches from workers are ordinary writable tensors
    assert x[1, 0, 0, 0].item() == 2.0
    assert _shm_files() == set()
    it = iter(ndata.DataLoader(Big(), batch_size=2, num_workers=2, prefetch_factor=3))
    next(it)  # leave batches in flight, then drop the iterator
    del it
    gc.collect()
    assert _shm_files() == set()


def _bad_init(worker_id):
    raise ValueError(f"init failed in {worker_id}")


def test_worker_init_fn_error_surfaces():
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process \d.*init failed in"):
        list(ndata.DataLoader(InitSeen(), batch_size=None, num_workers=2, worker_init_fn=_bad_init))


def test_context_object_and_collate_in_workers():
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    got = list(ndata.DataLoader(Nested(nnbox, 5), batch_size=2, num_workers=1, multiprocessing_context=ctx,
                                collate_fn=lambda b: [s["y"] for s in b]))
    assert got == [[0, 1], [2, 3], [4]]
