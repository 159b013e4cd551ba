import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

# Hypothesis draws the same examples on every run: a CI failure is reproducible.
try:
    from hypothesis import settings

    settings.register_profile("nnbox", derandomize=True)
    settings.load_profile("nnbox")
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass


@pytest.fixture(autouse=True)
def _seed(request):
    """Every test starts from the same random state, whatever ran before it: nnbox's generator
    and the oracle's input generator are both reseeded from the test's own name."""
    import nnbox
    import oracle

    nnbox.manual_seed(0)
    seed = zlib.crc32(request.node.nodeid.encode())
    oracle.RNG.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    yield
