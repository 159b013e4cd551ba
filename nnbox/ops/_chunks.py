"""Blocks of a large NumPy array pass run on nnbox's intra-op threads.

NumPy's copies and ufuncs release the GIL, so a long pass split into blocks (of channels, say) runs
on ``get_num_threads()`` cores, as torch's OpenMP loops do.  With one thread
(``nnbox.set_num_threads(1)``) or a small array the pass runs whole on the calling thread.

>>> import numpy as np
>>> out = np.zeros(10); chunked(10, 1 << 20, lambda lo, hi: out.__setitem__(slice(lo, hi), 1.0)); float(out.sum())
10.0
"""
from __future__ import annotations

from .._backend import threads as _threads

PAR_MIN = 1 << 17  # below this many elements a pass stays on the calling thread (a pool hand-off costs ~20 us)


def chunked(n: int, size: int, task) -> None:
    """``task(lo, hi)`` over blocks covering ``range(n)``: one block per thread when the pass touches
    ``size >= PAR_MIN`` elements and more than one thread is set, else ``task(0, n)``.  Blocks must
    write disjoint outputs; the first exception raised by any block is re-raised here."""
    threads = _threads.get_num_threads() if size >= PAR_MIN else 1
    if threads <= 1 or n < 2:
        task(0, n)
        return
    parts = min(n, threads)
    bounds = [n * i // parts for i in range(parts + 1)]
    _threads.parallel_for(parts, lambda i, _w: task(bounds[i], bounds[i + 1]))
