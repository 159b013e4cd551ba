"""``nnbox train --nproc N``: the CLI's training on N MPI ranks under DistributedDataParallel."""
from __future__ import annotations

import os
import subprocess
import sys

import mpi4py  # noqa: F401 - in the [test] extra: a missing mpi4py fails here instead of skipping
import pytest


def _train(tmp_path, *extra, timeout=240):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout's nnbox, from tmp_path too
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPIR_CVAR_POLLS_BEFORE_YIELD="10")
    cmd = [sys.executable, "-m", "nnbox", "train", "--nproc", "2", "--model", "mlp", "--dataset", "digits",
           "--no-progress", "--out", str(tmp_path / "run"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_nproc_trains_on_two_ranks_with_one_voice_and_resumes(tmp_path):
    out = _train(tmp_path, "--epochs", "2")
    assert "2 processes (DistributedDataParallel over MPI)" in out
    for e in (1, 2):  # rank 0 alone prints: each epoch line once
        assert out.count(f"epoch {e}, loss ") == 1, out
    acc = float(out.split("test accuracy ")[1].split("%")[0])
    assert acc > 80.0, out
    assert (tmp_path / "run" / "last.pt").exists()

    out = _train(tmp_path, "--epochs", "3", "--resume")
    assert "after epoch 2" in out and out.count("epoch 3, loss ") == 1 and "epoch 1, loss" not in out, out


def test_nproc_strips_itself_before_relaunching():
    from nnbox.cli import (
        _launch_ranks,  # noqa: F401 - the helper exists and is what --nproc uses
        build_parser,
    )

    args = build_parser().parse_args(["train", "--nproc", "3"])
    assert args.nproc == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--nproc", "0"])
