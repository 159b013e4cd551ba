"""The switches programs set at the top of a script, compared with torch 2.13's defaults,
read-back and errors (torch.backends, torch.accelerator, torch.version, default type, ...)."""
from __future__ import annotations

import warnings

import pytest
import torch

import nnbox


@pytest.fixture(autouse=True)
def _restore():
    """Every test leaves both libraries' switches as it found them."""
    yield
    for lib in (torch, nnbox):
        lib.backends.cudnn.benchmark = False
        lib.backends.cudnn.deterministic = False
        lib.backends.cudnn.enabled = True
        lib.backends.cudnn.allow_tf32 = True
        lib.backends.cuda.matmul.allow_tf32 = False
        lib.backends.mkldnn.enabled = True
        lib.use_deterministic_algorithms(False)
        lib.set_default_dtype(lib.float32)
    nnbox.set_float32_matmul_precision("highest")


def test_cudnn_flags_default_and_read_back_as_torch():
    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(nnbox.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    for lib in (torch, nnbox):
        lib.backends.cudnn.benchmark = True
        lib.backends.cudnn.deterministic = True
        lib.backends.cudnn.enabled = False
    for name in ("benchmark", "deterministic", "enabled"):
        assert getattr(nnbox.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert nnbox.backends.cudnn.is_available() == torch.backends.cudnn.is_available()  # both False here
    assert nnbox.backends.cudnn.version() is None


def test_cudnn_flags_do_not_change_results():
    x = nnbox.randn(2, 3, 8, 8)
    conv = nnbox.nn.Conv2d(3, 4, 3)
    a = conv(x)
    nnbox.backends.cudnn.benchmark = True
    nnbox.backends.cudnn.deterministic = True
    assert bool((conv(x) == a).all())


@pytest.mark.cpu_only(reason="Winograd is a NumPy (CPU) kernel; on cuda 3x3 convolutions run im2col + GEMM")
def test_mkldnn_flag_chooses_winograd_or_the_exact_convolution(monkeypatch):
    """torch.backends.mkldnn.enabled picks torch's fast CPU conv kernel; on nnbox it picks Winograd
    (the default, as torch's) or im2col + GEMM.  Same defaults, read-back, flags() and type check."""
    import numpy as np

    from nnbox.ops import _winograd

    assert (nnbox.backends.mkldnn.enabled, nnbox.backends.mkldnn.deterministic) == (
        torch.backends.mkldnn.enabled, torch.backends.mkldnn.deterministic)
    assert nnbox.backends.mkldnn.is_available()
    runs = []
    real = _winograd.conv3x3
    monkeypatch.setattr(_winograd, "conv3x3", lambda *a: runs.append(1) or real(*a))
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal(s).astype(np.float32) for s in ((8, 32, 16, 16), (32, 32, 3, 3)))
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    fast = nnbox.nn.functional.conv2d(nnbox.tensor(x), nnbox.tensor(w), padding=1).numpy()
    assert runs == [1]
    with nnbox.backends.mkldnn.flags(enabled=False):
        assert not nnbox.backends.mkldnn.enabled
        exact = nnbox.nn.functional.conv2d(nnbox.tensor(x), nnbox.tensor(w), padding=1).numpy()
    assert runs == [1] and nnbox.backends.mkldnn.enabled
    # relative to the output's largest magnitude: float32 rounding (measured 6e-7 of float64's
    # result; torch's own 4e-7) against Winograd's stated tolerance (measured 2e-6)
    scale = np.abs(want).max()
    assert np.abs(exact - want).max() <= 2e-6 * scale
    assert np.abs(fast - want).max() <= 1e-5 * scale
    for lib in (torch, nnbox):
        with pytest.raises(RuntimeError, match="set_enabled_mkldnn expects a bool, but got int"):
            lib.backends.mkldnn.enabled = 1


def test_import_forms_work():
    import nnbox.backends.cudnn as cudnn
    from nnbox.backends import cudnn as cudnn2

    assert cudnn is cudnn2 is nnbox.backends.cudnn
    cudnn.benchmark = True
    assert nnbox.backends.cudnn.benchmark is True


def test_cuda_matmul_allow_tf32_and_precision_as_torch():
    assert nnbox.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    assert nnbox.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    nnbox.set_float32_matmul_precision("high")
    torch.set_float32_matmul_precision("high")
    assert nnbox.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "high"
    assert nnbox.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is True
    assert nnbox.backends.cudnn.allow_tf32 is torch.backends.cudnn.allow_tf32 is True
    nnbox.set_float32_matmul_precision("highest")
    torch.set_float32_matmul_precision("highest")
    assert nnbox.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    assert nnbox.backends.cudnn.allow_tf32 is torch.backends.cudnn.allow_tf32 is True  # not touched


def test_bad_precision_warns_and_changes_nothing_as_torch():
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        nnbox.set_float32_matmul_precision("bad")
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        torch.set_float32_matmul_precision("bad")
    assert nnbox.get_float32_matmul_precision() == "highest"


def test_unknown_matmul_attribute_raises():
    with pytest.raises(AttributeError, match="Unknown attribute allow_tf33"):
        nnbox.backends.cuda.matmul.allow_tf33 = True
    with pytest.raises(AttributeError, match="Unknown attribute allow_tf33"):
        torch.backends.cuda.matmul.allow_tf33 = True


def test_mps_and_cuda_is_built():
    assert nnbox.backends.mps.is_available() == torch.backends.mps.is_available()
    assert nnbox.backends.mps.is_built() == torch.backends.mps.is_built()
    assert nnbox.backends.cuda.is_built() == nnbox.cuda.is_available()


def test_accelerator_as_torch_on_this_machine():
    assert nnbox.accelerator.is_available() == nnbox.cuda.is_available()
    assert nnbox.accelerator.device_count() == nnbox.cuda.device_count()
    if not nnbox.cuda.is_available():
        assert nnbox.accelerator.is_available() == torch.accelerator.is_available()
        assert nnbox.accelerator.current_accelerator() is None
        assert torch.accelerator.current_accelerator() is None
        assert nnbox.accelerator.device_count() == torch.accelerator.device_count() == 0
    else:
        assert nnbox.accelerator.current_accelerator() == nnbox.device("cuda")


def test_deterministic_algorithms_as_torch():
    for lib in (torch, nnbox):
        assert lib.are_deterministic_algorithms_enabled() is False
        lib.use_deterministic_algorithms(True, warn_only=True)
        assert lib.are_deterministic_algorithms_enabled() is True
        assert lib.is_deterministic_algorithms_warn_only_enabled() is True
        assert lib.get_deterministic_debug_mode() == 1
        lib.set_deterministic_debug_mode("error")
        assert lib.get_deterministic_debug_mode() == 2
        lib.use_deterministic_algorithms(False)
        assert lib.get_deterministic_debug_mode() == 0
    for bad in ("yes", 1):
        with pytest.raises(TypeError) as t:
            torch.use_deterministic_algorithms(bad)
        with pytest.raises(TypeError) as n:
            nnbox.use_deterministic_algorithms(bad)
        assert str(n.value) == str(t.value)
    with pytest.raises(RuntimeError):
        nnbox.set_deterministic_debug_mode("loud")
    with pytest.raises(RuntimeError):
        torch.set_deterministic_debug_mode("loud")


@pytest.mark.parametrize("t", ["DoubleTensor", "HalfTensor", "FloatTensor"])
def test_set_default_tensor_type_as_torch(t):
    with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
        nnbox.set_default_tensor_type(getattr(nnbox, t))
    with warnings.catch_warnings():  # torch warns once per process
        warnings.simplefilter("ignore")
        torch.set_default_tensor_type(getattr(torch, t))
    assert str(nnbox.get_default_dtype()) == str(torch.get_default_dtype())
    assert str(nnbox.tensor([1.0]).dtype) == str(torch.tensor([1.0]).dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lib in (torch, nnbox):
            lib.set_default_tensor_type("torch.DoubleTensor")
    assert str(nnbox.zeros(2).dtype) == str(torch.zeros(2).dtype) == "torch.float64"


@pytest.mark.parametrize("bad", [lambda lib: lib.LongTensor, lambda lib: 3, lambda lib: lib.float64,
                                 lambda lib: "torch.Foo", lambda lib: "FloatTensor"])
def test_set_default_tensor_type_errors_as_torch(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as t:
            torch.set_default_tensor_type(bad(torch))
        with pytest.raises(Exception) as n:
            nnbox.set_default_tensor_type(bad(nnbox))
    assert type(n.value) is type(t.value)
    assert str(nnbox.get_default_dtype()) == "torch.float32"  # nothing half-changed


@pytest.mark.skipif(nnbox.cuda.is_available(), reason="the CPU-only message")
def test_cuda_default_tensor_type_without_gpu():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="type torch.cuda.FloatTensor not available"):
            nnbox.set_default_tensor_type("torch.cuda.FloatTensor")
        with pytest.raises(TypeError, match="type torch.cuda.FloatTensor not available"):
            torch.set_default_tensor_type("torch.cuda.FloatTensor")


def test_versions():
    v = nnbox.__version__
    assert isinstance(v, str) and v == "0.1.0"
    assert v >= "0.1" and v < "0.10" and v > (0, 0, 9) and v < (1,) and v != "0.2"
    assert nnbox.vision.__version__ == v
    assert torch.__version__ >= "2.0"  # the same comparisons work on torch's
    assert nnbox.version.__version__ == v
    assert nnbox.version.debug is torch.version.debug is False
    assert nnbox.version.hip is torch.version.hip is None
    if not nnbox.cuda.is_available():
        assert nnbox.version.cuda is torch.version.cuda is None
    else:
        assert isinstance(nnbox.version.cuda, str)


def test_version_orders_numerically_not_as_text():
    from nnbox._version import Version

    assert Version("0.10.0") > "0.9" and Version("2.13.0+cpu") == "2.13.0"
    assert sorted([Version("1.10"), Version("1.9"), Version("1.2")]) == ["1.2", "1.9", "1.10"]


def test_tf32_flag_reaches_cupys_gemm_setting(monkeypatch):
    """On CuPy, matmul.allow_tf32 (and set_float32_matmul_precision) set CuPy's float32 compute
    type; checked with a stand-in for CuPy's switch, so it runs without a GPU."""
    import sys
    import types

    import numpy as np

    calls = []
    lin = types.SimpleNamespace(COMPUTE_TYPE_TF32=5, COMPUTE_TYPE_DEFAULT=1)
    core = types.SimpleNamespace(_routines_linalg=lin, set_compute_type=lambda dt, ct: calls.append((np.dtype(dt), ct)))
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(_core=core))
    nnbox.backends.cuda.matmul.allow_tf32 = True
    nnbox.backends.cuda.matmul.allow_tf32 = False
    nnbox.set_float32_matmul_precision("medium")
    nnbox.backends.cudnn.allow_tf32 = False  # cuDNN's flag: nnbox has no cuDNN, nothing to set
    assert calls == [(np.dtype(np.float32), 5), (np.dtype(np.float32), 1), (np.dtype(np.float32), 5)]


HEADER = '''
import torch
import torchvision
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.deterministic = False
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.set_float32_matmul_precision("high")
torch.use_deterministic_algorithms(False)
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, cuda {torch.version.cuda}")
if torch.cuda.is_available():
    device = torch.device("cuda")
elif torch.backends.mps.is_available():
    device = torch.device("mps")
else:
    device = torch.device("cpu")
acc = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).to(device)
if int(torch.__version__.split(".")[0]) >= 2 or torch.__version__ >= "0.1":
    model = torch.compile(model)
out = model(torch.randn(3, 4, device=device))
'''


def test_a_typical_script_header_runs_unchanged(capsys):
    import sys

    saved = {k: sys.modules.get(k) for k in ("torch", "torchvision")}
    sys.modules["torch"], sys.modules["torchvision"] = nnbox, nnbox.vision
    try:
        scope: dict = {}
        exec(compile(HEADER, "<header>", "exec"), scope)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    assert tuple(scope["out"].shape) == (3, 2)
    assert "torch 0.1.0, torchvision 0.1.0" in capsys.readouterr().out
