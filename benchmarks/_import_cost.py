"""What ``import <module>`` costs a fresh interpreter, for the benchmarks that report it."""
from __future__ import annotations

import os
import statistics
import sys


def import_time(module: str, repeats: int) -> float:
    """Median CPU seconds that ``import <module>`` adds to a fresh interpreter (its CPU time minus
    that of ``python -c pass``), with bytecode caching on in a private cache directory (nothing is
    written into the source tree).  CPU time, because wall time on shared cores measures the
    neighbours."""
    import resource
    import subprocess
    import tempfile

    env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "nnbox-bench-pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def cpu(stmt: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", stmt], env=env, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    cpu(f"import {module}")  # fill the bytecode cache
    return statistics.median(cpu(f"import {module}") - cpu("pass") for _ in range(repeats))
