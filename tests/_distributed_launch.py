"""Run a Python script on N MPI ranks for the distributed tests (via ``nnbox.distributed.run``)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def mpi_ready() -> bool:
    """mpi4py and MPICH's mpiexec are in the [test] extra: without them the install is broken, and
    this raises (ImportError, FileNotFoundError) instead of turning every distributed test into a skip."""
    import mpi4py  # noqa: F401

    from nnbox.distributed.run import find_mpiexec

    find_mpiexec()
    return True


mpi_ready()  # at import: a broken MPI install fails the distributed test modules' collection, loudly
needs_mpi = pytest.mark.mpi  # deselect with -m "not mpi"

ROOT = Path(__file__).resolve().parents[1]


def run_ranks(script: str, n: int, tmp_path: Path, args=(), timeout: float = 120, name: str = "job.py"):
    """Write ``script`` to ``tmp_path/name`` and run it on ``n`` ranks; returns the CompletedProcess."""
    path = tmp_path / name
    path.write_text(script)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # 4 ranks on 2 cores: let a waiting rank yield the CPU sooner instead of busy-polling
    env.setdefault("MPIR_CVAR_POLLS_BEFORE_YIELD", "10")
    cmd = [sys.executable, "-m", "nnbox.distributed.run", "-n", str(n), str(path), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(tmp_path))


def assert_ok(proc, n: int, marker: str = "OK") -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for r in range(n):
        assert f"{marker} {r}" in proc.stdout, out[-4000:]
