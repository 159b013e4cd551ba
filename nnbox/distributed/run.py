"""``nnbox run``: start a training script on N processes (one or several machines) with mpiexec.

Usage::

    nnbox run -n 4 train.py --epochs 3            # 4 ranks on this machine
    python -m nnbox.distributed.run -n 4 train.py  # the same without the CLI
    nnbox run -n 2 -m mypackage.train              # a module instead of a file

The script calls ``nnbox.distributed.init_process_group("mpi")`` (or ``"nccl"`` on GPUs) and
reads its rank with ``get_rank()``; ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
``LOCAL_WORLD_SIZE`` are also set in its environment, as torchrun sets them.  A rank that fails
(an exception, or ``sys.exit`` with a non-zero code) aborts every rank: the job never hangs.

Several machines (MPICH's hydra launcher, from ``pip install mpich``):

1. Install the same Python environment (nnbox, mpi4py, mpich) at the same path on every node,
   with passwordless ``ssh`` between them and the script at the same path (a shared filesystem).
2. Write a hostfile, one ``host:slots`` per line::

       node1:4
       node2:4

3. On one node: ``nnbox run -n 8 --hostfile hosts train.py`` (ranks 0-3 on node1, 4-7 on
   node2), or ``--hosts node1,node2 --ppn 4``.  Extra mpiexec options go through ``--mpi-arg``
   (e.g. ``--mpi-arg=-iface --mpi-arg=eth0`` to pick the network interface).

GPUs: one rank per GPU; select it in the script with
``nnbox.cuda.set_device(int(os.environ["LOCAL_RANK"]))`` before the first NCCL collective.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

_WORKER_FLAG = "--_nnbox_worker"


def find_mpiexec() -> str:
    """Path of ``mpiexec``: ``$NNBOX_MPIEXEC``, next to this Python (``pip install mpich`` puts it
    there), the environment's scripts folder, then ``PATH``."""
    env = os.environ.get("NNBOX_MPIEXEC")
    if env:
        return env
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        for name in ("mpiexec", "mpiexec.hydra", "mpirun"):
            cand = folder / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("mpiexec not found: `pip install mpich` (or install an MPI library), "
                            "or point NNBOX_MPIEXEC at your launcher")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnbox run",
        description="Run a Python script on N MPI processes (nnbox.distributed).",
    )
    p.add_argument("-n", "--nproc", "--np", type=int, default=1, dest="n", help="number of processes (ranks)")
    p.add_argument("--hostfile", "-f", help="MPI hostfile, one `host:slots` per line (multi-node)")
    p.add_argument("--hosts", help="comma-separated host list (multi-node)")
    p.add_argument("--ppn", type=int, help="processes per node")
    p.add_argument("--mpiexec", help="mpiexec to use (default: found next to this Python, then on PATH)")
    p.add_argument("--mpi-arg", action="append", default=[], help="extra argument for mpiexec (repeatable)")
    p.add_argument("-m", dest="module", help="run a module (like python -m) instead of a script")
    p.add_argument("script", nargs="?", help="the training script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def build_command(argv: list[str]) -> list[str]:
    """The mpiexec command line ``main`` runs for ``argv`` (without running it)."""
    ns = _parser().parse_args(argv)
    if ns.module is None and ns.script is None:
        _parser().error("give a script (or -m module) to run")
    if ns.n < 1:
        _parser().error(f"-n must be at least 1, got {ns.n}")
    cmd = [ns.mpiexec or find_mpiexec(), "-n", str(ns.n)]
    if ns.hostfile:
        cmd += ["-f", ns.hostfile]
    if ns.hosts:
        cmd += ["-hosts", ns.hosts]
    if ns.ppn:
        cmd += ["-ppn", str(ns.ppn)]
    cmd += list(ns.mpi_arg)
    cmd += [sys.executable, "-m", "nnbox.distributed.run", _WORKER_FLAG]
    if ns.module is not None:
        cmd += ["-m", ns.module] + ([ns.script] if ns.script else []) + list(ns.args)
    else:
        cmd += [ns.script] + list(ns.args)
    return cmd


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnbox run`` (the CLI calls ``main(argv_after_run)``); returns mpiexec's code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [_WORKER_FLAG]:
        return _worker(argv[1:])
    cmd = build_command(argv)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


# --- inside each rank -----------------------------------------------------------------------------

def _launcher_env() -> None:
    """torchrun's variables from what the MPI launcher set (MPICH/hydra, Open MPI, Slurm PMI)."""
    env = os.environ
    pairs = {
        "RANK": ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"),
        "WORLD_SIZE": ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"),
        "LOCAL_RANK": ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"),
        "LOCAL_WORLD_SIZE": ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"),
    }
    for ours, theirs in pairs.items():
        if ours not in env:
            for var in theirs:
                if var in env:
                    env[ours] = env[var]
                    break
    env.setdefault("RANK", "0")
    env.setdefault("WORLD_SIZE", "1")
    env.setdefault("LOCAL_RANK", env["RANK"])
    env.setdefault("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])


def _abort_all(code: int) -> None:
    """End every rank: MPI_Abort when MPI is up (mpiexec then kills the others)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        try:
            from mpi4py import MPI  # noqa: PLC0415

            sys.stderr.write(f"nnbox run: rank {os.environ.get('RANK')} failed (exit code {code}); "
                             "aborting all ranks\n")
            sys.stderr.flush()
            time.sleep(0.3)  # mpiexec forwards output asynchronously: let ours through first
            MPI.COMM_WORLD.Abort(code or 1)
        except ImportError:
            pass
    os._exit(code or 1)


def _worker(argv: list[str]) -> int:
    import runpy
    import traceback

    _launcher_env()
    if argv[:1] == ["-m"]:
        target, args, as_module = argv[1], argv[2:], True
        sys.argv = [target] + args
    else:
        target, args, as_module = argv[0], argv[1:], False
        sys.argv = [target] + args
        sys.path.insert(0, str(Path(target).resolve().parent))
    try:
        if as_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            sys.stderr.write(f"{e.code}\n")
        if code:
            _abort_all(code)
        return 0
    except BaseException:  # noqa: BLE001 - any failure must take the other ranks down
        traceback.print_exc()
        _abort_all(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
