"""Never hang: an uncaught exception on one rank aborts every rank, and a stuck collective times out.

MPI has no notion of a peer that died: ranks waiting in a collective for a rank that raised would
wait forever (and MPICH busy-polls while it waits).  Two guards turn that into a prompt, clear exit:

* ``install_excepthook`` wraps ``sys.excepthook``: the traceback is printed as usual, then a line
  naming the rank, then ``MPI_Abort`` -- the launcher (``mpiexec``) kills every other rank.
* ``Watchdog``: every blocking wait is bracketed by ``enter``/``leave``; a daemon thread aborts the
  job when one lasts longer than the ``timeout`` given to ``init_process_group`` (torch's default,
  30 minutes).  That catches a rank that left the training loop early or skipped a collective.
  mpi4py releases the GIL inside MPI calls, so the thread runs while the main thread waits.
"""
from __future__ import annotations

import os
import sys
import threading
import time

_hook_state: dict = {}


def _abort(comm, message: str, code: int = 1) -> None:
    try:
        sys.stdout.flush()
    except Exception:  # stdout may be closed; the message on stderr is what matters
        pass
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    time.sleep(0.3)  # mpiexec forwards output asynchronously: let it pass ours on before the teardown
    comm.Abort(code)
    os._exit(code)  # Abort does not return; belt and braces


def install_excepthook(comm, rank: int, size: int) -> None:
    """Make an uncaught exception on this rank abort all ``size`` ranks (idempotent)."""
    if _hook_state.get("installed"):
        _hook_state["comm"], _hook_state["rank"], _hook_state["size"] = comm, rank, size
        return
    previous = sys.excepthook
    _hook_state.update(installed=True, previous=previous, comm=comm, rank=rank, size=size)

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        if exc_type is KeyboardInterrupt or _hook_state.get("comm") is None or _hook_state["size"] <= 1:
            return
        _abort(
            _hook_state["comm"],
            f"nnbox.distributed: rank {_hook_state['rank']} raised {exc_type.__name__} (traceback above); "
            f"calling MPI_Abort so that the other {_hook_state['size'] - 1} rank(s) exit instead of hanging",
        )

    sys.excepthook = hook


def uninstall_excepthook() -> None:
    """Keep the hook but disarm it (after ``destroy_process_group``)."""
    _hook_state["comm"] = None


class Watchdog:
    """Aborts the job when one blocking wait outlasts ``timeout`` seconds."""

    def __init__(self, comm, rank: int, timeout: float):
        self.comm, self.rank, self.timeout = comm, rank, float(timeout)
        self._what = None  # (name, start time) of the wait in progress, or None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nnbox-distributed-watchdog", daemon=True)
        self._thread.start()

    def enter(self, what: str) -> None:
        self._what = (what, time.monotonic())

    def leave(self) -> None:
        self._what = None

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        period = min(1.0, max(0.05, self.timeout / 10))
        while not self._stop.wait(period):
            cur = self._what
            if cur is not None and time.monotonic() - cur[1] > self.timeout:
                _abort(
                    self.comm,
                    f"nnbox.distributed: rank {self.rank}: {cur[0]} did not complete within "
                    f"{self.timeout:g} s (the timeout given to init_process_group); another rank has "
                    "probably exited or skipped this collective. Calling MPI_Abort on all ranks.",
                )
