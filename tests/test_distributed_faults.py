"""Faults end the job with a clear error on every rank, never a hang.

Each job gets a generous subprocess timeout (a hang would fail the test by TimeoutExpired); the
checks are that the job ended non-zero, promptly, with a message naming the failing rank.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from _distributed_launch import ROOT, needs_mpi, run_ranks

pytestmark = needs_mpi

RAISES = r'''
import sys, time
import nnbox, nnbox.distributed as dist
dist.init_process_group("mpi")
r = dist.get_rank()
dist.barrier()
if r == 1:
    raise ZeroDivisionError("rank one broke")
for _ in range(3):
    dist.all_reduce(nnbox.ones(4))   # the others wait here for rank 1, which is gone
print("UNREACHED", r)
'''


@pytest.mark.parametrize("n", [2, 4])
def test_rank_that_raises_aborts_all_launcher(tmp_path, n):
    t0 = time.monotonic()
    proc = run_ranks(RAISES, n, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "ZeroDivisionError: rank one broke" in out
    assert "rank 1" in out and "abort" in out.lower()
    assert "UNREACHED" not in out
    assert time.monotonic() - t0 < 30


def test_rank_that_raises_aborts_all_plain_mpiexec(tmp_path):
    """Without the launcher: the excepthook installed by init_process_group calls MPI_Abort."""
    from nnbox.distributed.run import find_mpiexec

    path = tmp_path / "job.py"
    path.write_text(RAISES)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([find_mpiexec(), "-n", "3", sys.executable, str(path)], capture_output=True,
                          text=True, timeout=60, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "nnbox.distributed: rank 1 raised ZeroDivisionError" in out
    assert "UNREACHED" not in out


def test_nonzero_exit_aborts_all(tmp_path):
    script = RAISES.replace('raise ZeroDivisionError("rank one broke")', 'sys.exit(3)')
    proc = run_ranks(script, 2, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "rank 1 failed (exit code 3)" in out, out
    assert "UNREACHED" not in out


def test_rank_that_leaves_early_times_out(tmp_path):
    """A rank that exits cleanly while the others wait: the watchdog aborts after `timeout`."""
    script = r'''
import datetime, sys, time
import nnbox, nnbox.distributed as dist
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
if dist.get_rank() == 0:
    time.sleep(20)   # never joins the collective
    sys.exit(0)
dist.all_reduce(nnbox.ones(2))
print("UNREACHED")
'''
    t0 = time.monotonic()
    proc = run_ranks(script, 2, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Allreduce did not complete within 2 s" in out
    assert time.monotonic() - t0 < 15
    assert "UNREACHED" not in out


def test_world_size_mismatch_is_explained(tmp_path):
    script = r'''
import nnbox.distributed as dist
dist.init_process_group("gloo", rank=0, world_size=3)
'''
    proc = run_ranks(script, 2, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "world_size=3 but MPI started 2 process(es)" in out


def test_launcher_command_line():
    from nnbox.distributed.run import build_command

    cmd = build_command(["-n", "8", "--hostfile", "hosts", "--mpi-arg=-iface", "--mpi-arg=eth0",
                         "train.py", "--lr", "0.1"])
    assert cmd[1:5] == ["-n", "8", "-f", "hosts"] and cmd[5:7] == ["-iface", "eth0"]
    assert cmd[-3:] == ["train.py", "--lr", "0.1"] and "nnbox.distributed.run" in cmd
    cmd = build_command(["-n", "2", "--hosts", "a,b", "--ppn", "1", "-m", "pkg.train", "x"])
    assert ["-hosts", "a,b", "-ppn", "1"] == cmd[3:7] and cmd[-3:] == ["-m", "pkg.train", "x"]


def test_launcher_env_args_module_and_exit_code(tmp_path):
    """The worker sets torchrun's variables, passes the script's arguments, runs -m modules."""
    script = r'''
import os, sys
import nnbox.distributed as dist
dist.init_process_group("gloo")
r = dist.get_rank()
assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == "2", dict(os.environ)
assert os.environ["LOCAL_RANK"] == str(r) and os.environ["LOCAL_WORLD_SIZE"] == "2"
assert sys.argv[1:] == ["--lr", "0.5"], sys.argv
assert dist.get_node_local_rank() == r
sys.stdout.write(f"OK {r}\n"); sys.stdout.flush()
'''
    from _distributed_launch import assert_ok

    assert_ok(run_ranks(script, 2, tmp_path, args=["--lr", "0.5"]), 2)
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text("import sys, os\nsys.stdout.write(f\"OK {os.environ['RANK']} {sys.argv[1:]}\\n\")\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "nnbox.distributed.run", "-n", "2", "-m", "mypkg.train", "x"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "OK 0 ['x']" in proc.stdout and "OK 1 ['x']" in proc.stdout


def test_nccl_without_gpu_is_refused():
    import nnbox.distributed as dist

    if __import__("nnbox").cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="ProcessGroupNCCL is only supported with GPUs"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
