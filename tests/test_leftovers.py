"""issue 16, Nothing left behind: temp files of killed saves are removed by the next save to that
path (never one a live writer holds), DataLoader workers of a killed parent exit within a second
and leave no /dev/shm segments."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import nnbox

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _tmps(folder: Path) -> list[str]:
    return sorted(f for f in os.listdir(folder) if f.endswith(".tmp"))


def _backdate(folder: Path, seconds: float = 30) -> None:
    for f in _tmps(folder):
        t = time.time() - seconds
        os.utime(folder / f, (t, t))


def _kill_while_saving(target: Path) -> None:
    script = textwrap.dedent(f"""
        import nnbox
        big = [nnbox.zeros(16 * 1024 * 1024 // 4) + i for i in range(8)]
        print("go", flush=True)
        nnbox.save(big, {str(target)!r})
        print("finished before the kill", flush=True)
        """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "go"
        deadline = time.time() + 60
        while time.time() < deadline:
            tmps = [f for f in _tmps(target.parent) if f.startswith(f".{target.name}.")]
            fresh = [f for f in tmps if time.time() - os.path.getmtime(target.parent / f) < 5]
            if fresh and os.path.getsize(target.parent / fresh[0]) > 1 << 20:
                break
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


def test_killed_saves_temp_files_removed_by_next_save(tmp_path):
    target = tmp_path / "model.pt"
    nnbox.save({"epoch": 0}, target)
    for _ in range(3):
        _kill_while_saving(target)  # each later save already removes the older (> 1 s) leftovers
    assert 1 <= len(_tmps(tmp_path)) <= 3  # what SIGKILL leaves behind
    other = tmp_path / ".other.pt.0123456789ab.tmp"  # another path's temp file: not ours to remove
    other.write_bytes(b"x")
    _backdate(tmp_path)
    nnbox.save({"epoch": 1}, target)
    assert _tmps(tmp_path) == [other.name]
    assert nnbox.load(target) == {"epoch": 1}


def test_live_writers_temp_file_is_left_alone(tmp_path):
    target = tmp_path / "model.pt"
    script = textwrap.dedent(f"""
        import sys, time
        from nnbox.serialization import atomic_write
        with atomic_write({str(target)!r}) as fh:
            fh.write(b"slow writer")
            fh.flush()
            print("writing", flush=True)
            sys.stdin.readline()   # hold the file open (and locked) until told to finish
        print("done", flush=True)
        """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "writing"
        _backdate(tmp_path)  # old, but locked: alive
        nnbox.save({"epoch": 1}, target)
        assert len(_tmps(tmp_path)) == 1
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
    finally:
        proc.wait(timeout=30)
    assert target.read_bytes() == b"slow writer" and _tmps(tmp_path) == []


def test_fit_checkpoint_dir_cleans_stale_temp(tmp_path):
    from nnbox.training import fit
    from nnbox.utils.data import DataLoader, TensorDataset

    nnbox.manual_seed(0)
    ds = TensorDataset(nnbox.randn(16, 4), nnbox.randint(0, 2, (16,)))
    model = nnbox.nn.Linear(4, 2)
    opt = nnbox.optim.SGD(model.parameters(), lr=0.1)
    fit(model, DataLoader(ds, batch_size=8), opt, nnbox.nn.CrossEntropyLoss(), epochs=1,
        checkpoint_dir=str(tmp_path), progress=False)
    names = [f for f in os.listdir(tmp_path) if not f.startswith(".")]
    assert names, os.listdir(tmp_path)
    stale = tmp_path / f".{names[0]}.00000000cafe.tmp"  # what a killed epoch-end save leaves
    stale.write_bytes(b"\0" * 1024)
    _backdate(tmp_path)
    fit(model, DataLoader(ds, batch_size=8), opt, nnbox.nn.CrossEntropyLoss(), epochs=2,
        checkpoint_dir=str(tmp_path), resume=True, progress=False)
    assert _tmps(tmp_path) == []


MAIN = r'''
import os, sys, time
import numpy as np
import nnbox
from nnbox.utils.data import DataLoader, Dataset

class Big(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        if i >= 40:
            time.sleep(30)   # busy workers: they must still notice the parent's death
        # batches 1..4 are ready and sent but never read when the main process dies
        return np.full((64, 64), i, np.float32)   # 16 KiB each: a batch of 8 goes through /dev/shm

it = iter(DataLoader(Big(), batch_size=8, num_workers=2, prefetch_factor=2))
first = next(it)
time.sleep(0.5)
print(it._shm_prefix, *[w.pid for w in it._workers], flush=True)
time.sleep(60)
'''


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc") or not os.path.isdir("/dev/shm"), reason="needs Linux /proc and /dev/shm")
def test_workers_of_a_killed_main_exit_within_a_second_and_leave_no_shm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", MAIN], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        line = proc.stdout.readline().split()
        assert len(line) == 3, line
        prefix, pids = line[0], [int(p) for p in line[1:]]
        assert all(_alive(p) for p in pids)
        name = os.path.basename(prefix)
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        proc.wait(timeout=10)
        while any(_alive(p) for p in pids) and time.monotonic() - t0 < 10:
            time.sleep(0.02)
        took = time.monotonic() - t0
    finally:
        proc.kill()
        proc.stdout.close()
    assert not any(_alive(p) for p in pids)
    assert took < 1.5, f"workers outlived their parent by {took:.2f} s"
    time.sleep(0.1)
    assert [f for f in os.listdir("/dev/shm") if f.startswith(name)] == []


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_next_run_removes_batch_files_of_dead_loaders():
    from nnbox.utils.data import _worker

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"/dev/shm/nnbox_dl_{dead.pid}_0123456789ab_0_0"
    mine = f"/dev/shm/nnbox_dl_{os.getpid()}_0123456789ab_0_0"
    for p in (stale, mine):
        with open(p, "wb") as fh:
            fh.write(b"\0" * 100)
    try:
        _worker.shm_prefix_for_loader()
        assert not os.path.exists(stale)
        assert os.path.exists(mine)  # a live process's files are its own business
    finally:
        for p in (stale, mine):
            if os.path.exists(p):
                os.unlink(p)
