import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

# Hypothesis draws the same examples on every run: a CI failure is reproducible.  It is in the
# [test] extra, so a missing hypothesis is a broken install and fails here, loudly.
from hypothesis import settings  # noqa: E402

settings.register_profile("nnbox", derandomize=True)
settings.load_profile("nnbox")

# The op suite runs with NumPy's warnings as errors: torch computes inf and nan silently, so a
# RuntimeWarning ("divide by zero encountered in log") reaching a user from an op is a bug.
_STRICT_WARNINGS = ("test_ops_", "test_nn_", "test_autograd", "test_tensor_", "test_hypothesis_ops",
                    "test_creation", "test_dtype", "test_optim", "test_lr_scheduler")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name.startswith(_STRICT_WARNINGS):
            item.add_marker(pytest.mark.filterwarnings("error::RuntimeWarning"))


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
