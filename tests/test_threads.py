"""``set_num_threads`` / ``get_num_threads`` as torch's, and the worker pool that element-wise work
(optimizer updates) is split over."""
import sys
import threading

import numpy as np
import pytest
import torch

import nnbox
from nnbox._backend.threads import parallel_for


@pytest.fixture(autouse=True)
def _restore_threads():
    n = nnbox.get_num_threads()
    yield
    nnbox.set_num_threads(n)


def test_set_and_get_like_torch():
    nnbox.set_num_threads(3)
    assert nnbox.get_num_threads() == 3
    for bad in (0, -1, 1.5):
        with pytest.raises(RuntimeError) as t:
            torch.set_num_threads(bad)
        with pytest.raises(RuntimeError) as n:
            nnbox.set_num_threads(bad)
        assert str(n.value) == str(t.value)
    assert nnbox.get_num_interop_threads() >= 1


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_parallel_for_runs_every_task_once_on_its_threads(threads):
    nnbox.set_num_threads(threads)
    seen, names = [], set()
    lock = threading.Lock()

    def task(i, worker):
        assert 0 <= worker < threads
        with lock:
            seen.append(i)
            names.add(threading.current_thread().name)

    parallel_for(10, task)
    assert sorted(seen) == list(range(10))
    assert len(names) <= threads


def test_parallel_for_reraises_a_task_error():
    nnbox.set_num_threads(2)

    def task(i, worker):
        if i == 3:
            raise ValueError("task 3")

    with pytest.raises(ValueError, match="task 3"):
        parallel_for(6, task)


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_optimizer_step_equals_torch(threads):
    nnbox.set_num_threads(threads)
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal(300_000).astype(np.float32), rng.standard_normal(300_000).astype(np.float32)
    out = []
    for m in (torch, nnbox):
        p = m.tensor(w.copy(), requires_grad=True)
        opt = m.optim.Adam([p], lr=1e-2)
        for _ in range(3):
            p.grad = m.tensor(g.copy())
            opt.step()
        out.append(p.detach().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-6, atol=1e-7)


def test_parallel_for_hands_tasks_to_whichever_thread_is_free():
    # task 0 holds its thread until every other task is done: a fixed split of the tasks between
    # the threads would deadlock here, claiming the next free task lets the other thread run them all
    nnbox.set_num_threads(2)
    n = 8
    done = threading.Semaphore(0)
    finished = []

    def task(i, worker):
        if i == 0:
            finished.append(all(done.acquire(timeout=10) for _ in range(n - 1)))
        else:
            done.release()

    parallel_for(n, task)
    assert finished == [True]


def test_parallel_for_inside_a_task_runs_on_that_thread():
    nnbox.set_num_threads(2)
    inner = []

    def outer(i, worker):
        me = threading.current_thread().name
        parallel_for(3, lambda j, w: inner.append((i, j, w, threading.current_thread().name == me)))

    parallel_for(2, outer)
    assert sorted((i, j) for i, j, _, _ in inner) == [(i, j) for i in range(2) for j in range(3)]
    assert all(w == 0 and same for _, _, w, same in inner)


def test_parallel_for_after_fewer_threads_uses_only_that_many():
    nnbox.set_num_threads(3)
    parallel_for(6, lambda i, w: None)  # three threads exist now
    nnbox.set_num_threads(2)
    workers = set()
    lock = threading.Lock()

    def task(i, worker):
        with lock:
            workers.add(worker)

    for _ in range(20):
        parallel_for(6, task)
    assert workers <= {0, 1}


def test_parallel_for_from_several_threads_at_once():
    # two callers share the workers: each call still runs each of its own tasks exactly once
    nnbox.set_num_threads(3)
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, size=(2, 60))
    results, errors = [], []

    def caller(k):
        try:
            for n in sizes[k]:
                hits = np.zeros(n, np.int64)

                def task(i, worker, hits=hits):
                    hits[i] += 1

                parallel_for(int(n), task)
                results.append(bool((hits == 1).all()))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    ts = [threading.Thread(target=caller, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert not errors and len(results) == sizes.size and all(results)


@pytest.mark.cpu_only(reason="asks NumPy's OpenBLAS how many threads a call from this thread uses")
@pytest.mark.parametrize("n", [1, 2])
def test_blas_in_tasks_runs_on_one_thread_and_the_count_comes_back(n):
    from nnbox._backend import openblas

    if openblas.num_threads() is None:
        pytest.skip("NumPy runs on another BLAS")
    nnbox.set_num_threads(2)
    before = openblas.num_threads()
    seen = []
    parallel_for(n, lambda i, w: seen.append(openblas.num_threads()))  # n=1 runs on this thread
    assert seen == [1] * n
    assert openblas.num_threads() == before == 2


@pytest.mark.cpu_only(reason="asks NumPy's OpenBLAS for its thread count")
def test_set_num_threads_limits_blas_without_threadpoolctl(monkeypatch):
    from nnbox._backend import openblas

    if openblas.num_threads() is None:
        pytest.skip("NumPy runs on another BLAS")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # the core install has no threadpoolctl
    nnbox.set_num_threads(1)
    assert openblas.num_threads() == 1
    nnbox.set_num_threads(2)
    assert openblas.num_threads() == 2
