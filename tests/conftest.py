import functools
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


def _strict_warnings(items) -> None:
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


# --- the device pass: --device=cuda-standin (no GPU needed) or --device=cuda (a real GPU) ----------
# Every test runs with nnbox's default device set to cuda, so factories (tensor, randn, zeros, ...)
# and new modules put their tensors on the device, as torch.set_default_device("cuda") does; the
# oracle (torch on the CPU) is unchanged. Tests that cannot mean anything on a device carry
# @pytest.mark.cpu_only(reason=...) and are skipped there.

def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", choices=("cpu", "cuda-standin", "cuda"),
                     help="run the tests with nnbox tensors and modules on this device (cuda-standin: the "
                          "strict CuPy stand-in in tests/cupy_standin, no GPU needed)")


_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def _device_mode(config) -> str:
    return config.getoption("--device", default="cpu")


def pytest_configure(config):
    mode = _device_mode(config)
    if mode == "cpu":
        return
    if mode == "cuda-standin":
        import cupy_standin

        cupy_standin.install()
    import nnbox
    from nnbox._tensor import Tensor

    if not nnbox.cuda.is_available():
        raise pytest.UsageError(f"--device={mode}: nnbox sees no CUDA device")
    nnbox.set_default_device("cuda")  # from collection on: module-level tensors are made on cuda too
    # Test code reads results to the host with .numpy(), as CPU tests do; on the device pass that
    # read is allowed from test files only (nnbox's own code still gets torch's TypeError).
    original = Tensor.numpy
    array_code = Tensor.__array__.__code__

    @functools.wraps(original)  # the same name, module and signature (tools/gen_tensor_stub.py reads them)
    def numpy(self, *, force: bool = False):
        if not self.is_cpu:
            f = sys._getframe(1)
            if f.f_code is array_code:
                f = f.f_back
            if f.f_code.co_filename.startswith(_TESTS_DIR) and "cupy_standin" not in f.f_code.co_filename:
                return original(self.cpu(), force=force)
        return original(self, force=force)

    Tensor.numpy = numpy

    # The oracle is torch on the CPU: it reads nnbox's cuda checkpoints the way a CPU-only torch
    # user must, with map_location="cpu" (torch refuses cuda storages without a GPU).
    import torch

    torch_load = torch.load

    def load(f, map_location=None, *args, **kwargs):
        return torch_load(f, "cpu" if map_location is None else map_location, *args, **kwargs)

    torch.load = load


def pytest_collection_modifyitems(config, items):
    _strict_warnings(items)
    if _device_mode(config) == "cpu":
        return
    for item in items:
        m = item.get_closest_marker("cpu_only")
        if m is not None:
            reason = m.kwargs.get("reason") or (m.args[0] if m.args else "cpu only")
            item.add_marker(pytest.mark.skip(reason=f"cpu only: {reason}"))


@pytest.fixture(autouse=True)
def _on_device(request):
    """On a device pass, the test's nnbox tensors and modules are made on cuda."""
    if _device_mode(request.config) == "cpu":
        yield
        return
    import nnbox

    nnbox.set_default_device("cuda")
    yield
    nnbox.set_default_device("cuda")  # whatever the test set


@pytest.fixture
def device(request) -> str:
    """The device this run puts nnbox tensors on: "cpu" or "cuda"."""
    return "cpu" if _device_mode(request.config) == "cpu" else "cuda"


@pytest.fixture
def standin(request, monkeypatch):
    """The CuPy stand-in as nnbox's cupy for one test, in any pass (counters reset to zero);
    on the CPU pass it is removed again afterwards. Skipped on a real GPU (--device=cuda)."""
    if _device_mode(request.config) == "cuda":
        pytest.skip("runs on the CuPy stand-in; this pass has a real GPU")
    import cupy_standin
    import nnbox._backend.device as dev
    import nnbox._backend.random as rnd
    import nnbox.cuda.memory as cuda_memory
    from cupy_standin import _memory

    monkeypatch.setattr(cuda_memory, "_tracker", [None])
    before = {k: v for k, v in sys.modules.items() if k == "cupy" or k.startswith(("cupy.", "cupyx"))}
    cp = cupy_standin.install()
    monkeypatch.setattr(dev, "_cupy", [cp, True])
    monkeypatch.setattr(rnd, "_cuda_generators", {})
    cupy_standin.reset_counters()
    yield cp
    _memory.set_allocator(None)
    for k in [k for k in sys.modules if k == "cupy" or k.startswith(("cupy.", "cupyx"))]:
        if k not in before:
            del sys.modules[k]
