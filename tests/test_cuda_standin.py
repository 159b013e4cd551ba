"""The CuPy stand-in (tests/cupy_standin) and what it exists for: nnbox on ``cuda`` without a GPU.

The stand-in must refuse what CuPy refuses (implicit conversion to NumPy, NumPy arrays in device
ufuncs), and catch what CuPy would let through silently but slowly (a host round trip in a hot
loop), so these tests plant both mistakes in a training step and watch them fail; then they count
the host<->device copies of the seeds' MLP and ResNet18 training steps, which must be the one
``loss.item()`` each step after the first, and check that the memory pool serves later steps
without fresh blocks. They run in every pass (the ``standin`` fixture installs the stand-in for
one test).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import nnbox
import nnbox.nn as nn
import nnbox.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))


# --- the stand-in's own semantics (CuPy's, from its documentation) -------------------------------------

def test_refuses_implicit_conversion_as_cupy(standin):
    import cupy_standin

    cp = standin
    x = cp.arange(6.0).reshape(2, 3)
    assert not isinstance(x, np.ndarray)
    msg = "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
    for conv in (np.asarray, np.array, lambda a: np.concatenate([a]), np.exp, lambda a: np.zeros(6) + a):
        with pytest.raises(TypeError) as e:
            conv(x)
        assert "device array" in str(e.value) or msg in str(e.value)
    with pytest.raises(TypeError):
        float(x)  # only size-1 arrays become Python scalars
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.add(x, np.ones(3))  # CuPy's ufuncs take device arrays and scalars, not NumPy arrays
    assert cupy_standin.copies() == 0
    assert float(x.sum()) == 15.0 and cupy_standin.counters["dtoh"] == 1  # explicit and counted
    np.testing.assert_array_equal(x.get(), np.arange(6.0).reshape(2, 3))
    assert cupy_standin.counters["dtoh"] == 2
    y = cp.asarray(np.ones(3))
    assert cupy_standin.counters["htod"] == 1
    assert type(y + np.float32(1)) is cp.ndarray  # a NumPy scalar is a scalar to CuPy


def test_cupy_result_rules(standin):
    cp = standin
    x = cp.arange(4.0)
    assert type(x.sum()) is cp.ndarray and x.sum().ndim == 0  # reductions: 0-d arrays, not scalars
    assert type(x[1]) is cp.ndarray
    assert x[cp.asarray([1, 5])].get().tolist() == [1.0, 1.0]  # out-of-bounds indices wrap around
    assert (x.astype(np.float32) * 2.5).dtype == np.float32  # Python scalars are weak
    v = x.reshape(2, 2)
    assert v.base is x.base or v.base is x or v.base.data.ptr == x.data.ptr
    assert v.data.ptr == x.data.ptr and x[1:].data.ptr == x.data.ptr + 8


# --- the mistakes it exists to catch ------------------------------------------------------------------

class _PlantedExp(nnbox.autograd.Function):
    """An op body written with ``np.`` instead of the input's array module: fine on NumPy."""

    @staticmethod
    def forward(ctx, x):
        y = nnbox.Tensor._make(np.exp(x._data))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class _HiddenGet(nnbox.autograd.Function):
    """An op that takes a host round trip (``.get()`` then back): right values, a sync per step."""

    @staticmethod
    def forward(ctx, x):
        a = x._data
        if type(a) is not np.ndarray:
            a = _xp(a).asarray(a.get())
        return nnbox.Tensor._make(a * 1.0)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _xp(a):
    from nnbox._backend.device import array_module

    return array_module(a)


def _mlp_step_factory(device, planted=None):
    from bench_models import make_mlp

    nnbox.manual_seed(0)
    model = make_mlp(nnbox).to(device)
    opt = nnbox.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = nnbox.tensor(rng.standard_normal((16, 1, 28, 28)).astype(np.float32), device=device)
    y = nnbox.tensor(rng.integers(0, 10, 16), device=device)

    def step():
        opt.zero_grad()
        out = model(x)
        if planted is not None:
            out = planted.apply(out)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def assert_no_host_copies(step, steps: int = 3, allowed: int = 1) -> list:
    """Run ``step`` once to warm up, then ``steps`` times: each may copy only ``allowed`` times
    (the ``loss.item()`` the program asks for)."""
    import cupy_standin

    step()
    counts = []
    for _ in range(steps):
        cupy_standin.reset_counters()
        step()
        counts.append(cupy_standin.copies())
    assert counts == [allowed] * steps, f"host<->device copies per step: {counts} (allowed {allowed})"
    return counts


@pytest.mark.cpu_only(reason="shows the planted np.exp passing on the CPU")
def test_planted_np_call_passes_on_the_cpu_unseen():
    step = _mlp_step_factory("cpu", planted=_PlantedExp)
    assert np.isfinite(step())


def test_planted_np_call_in_a_training_step_fails_on_the_standin(standin):
    step = _mlp_step_factory("cuda", planted=_PlantedExp)
    with pytest.raises(TypeError, match="numpy.exp called on a device array"):
        step()


def test_hidden_get_in_a_training_step_is_caught(standin):
    clean = _mlp_step_factory("cuda")
    assert_no_host_copies(clean)
    planted = _mlp_step_factory("cuda", planted=_HiddenGet)
    with pytest.raises(AssertionError, match="host<->device copies per step"):
        assert_no_host_copies(planted)


# --- the seeds' models on the device: copies and memory per step ----------------------------------------

def _train_step(model, x, y, opt):
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def test_seed_mlp_step_copies_only_loss_item_and_reuses_the_pool(standin):
    step = _mlp_step_factory("cuda")
    pool = standin.get_default_memory_pool()
    assert_no_host_copies(step)
    fresh = pool.n_device_mallocs
    for _ in range(3):
        step()
    assert pool.n_device_mallocs == fresh, "a training step took fresh blocks after the first"
    assert nnbox.cuda.memory_allocated() > 0


def test_seed_resnet18_step_copies_only_loss_item(standin):
    from bench_models import make_resnet18

    nnbox.manual_seed(0)
    model = make_resnet18(nnbox).to("cuda")
    opt = nnbox.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    rng = np.random.default_rng(0)
    x = nnbox.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32)).to("cuda")
    y = nnbox.tensor(rng.integers(0, 10, 2)).cuda()
    step = _train_step(model, x, y, opt)
    pool = standin.get_default_memory_pool()
    assert_no_host_copies(step, steps=2)
    fresh = pool.n_device_mallocs
    step()
    assert pool.n_device_mallocs == fresh


def test_adam_and_eval_steps_copy_nothing(standin):
    import cupy_standin

    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)).cuda()
    opt = nnbox.optim.Adam(model.parameters(), lr=1e-3)
    x, y = nnbox.randn(32, 8, device="cuda"), nnbox.randint(0, 3, (32,), device="cuda")
    assert_no_host_copies(_train_step(model, x, y, opt))
    model.eval()
    with nnbox.no_grad():
        cupy_standin.reset_counters()
        _, pred = nnbox.max(model(x).data, 1)
        correct = (pred == y).sum()
        assert cupy_standin.copies() == 0
        assert 0 <= correct.item() <= 32 and cupy_standin.copies() == 1


@pytest.mark.parametrize("build,shape", [("make_mlp", (16, 1, 28, 28)), ("make_resnet18", (2, 3, 32, 32))])
def test_seed_models_eval_step_under_no_grad_copies_only_the_item(standin, build, shape):
    """The seeds' evaluation loop (eval(), no_grad, ``torch.max(outputs.data, 1)``, ``(predicted ==
    labels).sum().item()``): the only copy per batch is the ``.item()`` the program asks for."""
    import bench_models
    import cupy_standin

    nnbox.manual_seed(0)
    model = getattr(bench_models, build)(nnbox).to("cuda")
    model.train()
    rng = np.random.default_rng(0)
    x = nnbox.tensor(rng.standard_normal(shape).astype(np.float32), device="cuda")
    y = nnbox.tensor(rng.integers(0, 10, shape[0]), device="cuda")
    model(x)  # a training-mode forward: BatchNorm's running statistics move off their start
    model.eval()

    def step():
        with nnbox.no_grad():
            _, predicted = nnbox.max(model(x).data, 1)
            counts.append(cupy_standin.copies())
            return (predicted == y).sum().item()

    counts = []
    assert_no_host_copies(step)
    assert counts[1:] == [0, 0, 0], f"copies before the .item(): {counts[1:]}"


def test_random_transforms_on_a_cuda_image_as_on_the_cpu(standin):
    """Augmenting on the GPU (torchvision's tensor transforms take cuda images): flips, crops,
    colour jitter and erasing draw their parameters from the CPU stream, as torch's ``(1,)``
    draws do, and give the CPU image's result; only erasing copies to the device (its fill value,
    made on the host as torchvision's ``torch.tensor(value)``)."""
    import cupy_standin
    from nnbox.vision import transforms as T

    rng = np.random.default_rng(0)
    img = nnbox.tensor(rng.random((3, 20, 24)).astype(np.float32), device="cpu")
    pipelines = [
        (T.Compose([T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomCrop(16, padding=2)]), 0),
        (T.ColorJitter(0.4, 0.4, 0.4, 0.1), 0),
        (T.Compose([T.CenterCrop(30), T.RandomCrop(18)]), 0),  # zero-padded crops
        (T.RandomErasing(p=1.0, value=0.5), 1),
    ]
    for t, copies in pipelines:
        for seed in range(6):
            nnbox.manual_seed(seed)
            want = t(img)
            nnbox.manual_seed(seed)
            cuda_img = img.cuda()
            cupy_standin.reset_counters()
            got = t(cuda_img)
            assert cupy_standin.copies() == copies, (t, cupy_standin.counters)
            assert got.is_cuda and got.dtype == want.dtype
            np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-6, atol=1e-6, err_msg=repr(t))


# --- torch.cuda as users call it ---------------------------------------------------------------------

def test_torch_cuda_api(standin):
    cuda = nnbox.cuda
    assert cuda.is_available() and cuda.device_count() == 1 and cuda.current_device() == 0
    cuda.set_device(0)
    assert "Stand-in" in cuda.get_device_name() and cuda.get_device_name(0) == cuda.get_device_properties(0).name
    assert cuda.is_bf16_supported() and cuda.get_device_capability() == (9, 0)
    cuda.synchronize()
    cuda.manual_seed(3)
    a = nnbox.rand(4, device="cuda")
    cuda.manual_seed_all(3)
    assert nnbox.rand(4, device="cuda").tolist() == a.tolist()

    cuda.reset_peak_memory_stats()
    base = cuda.memory_allocated()
    big = nnbox.zeros(1024, 1024, device="cuda")  # 4 MiB
    assert cuda.memory_allocated() - base == 4 * 2**20
    peak = cuda.max_memory_allocated()
    del big
    assert cuda.memory_allocated() == base and cuda.max_memory_allocated() == peak >= base + 4 * 2**20
    assert cuda.memory_reserved() >= peak
    cuda.empty_cache()
    assert cuda.memory_reserved() == cuda.memory_allocated()
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == cuda.memory_allocated()

    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    s = cuda.Stream()
    with cuda.stream(s):
        start.record()
        nnbox.ones(3, device="cuda").sum()
        end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0 and end.query() and s.query()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        cuda.Event().elapsed_time(end)
    assert cuda.current_stream() == cuda.default_stream()


@pytest.mark.cpu_only(reason="needs a machine without a GPU")
def test_torch_cuda_api_without_a_gpu():
    import torch

    assert nnbox.cuda.is_available() == torch.cuda.is_available() is False
    assert nnbox.cuda.device_count() == 0 and not nnbox.cuda.is_bf16_supported()
    assert nnbox.cuda.memory_allocated() == 0 == torch.cuda.memory_allocated()
    nnbox.cuda.manual_seed(0)  # ignored, as in torch
    nnbox.cuda.synchronize()
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
        nnbox.tensor([1.0]).pin_memory()
    assert not nnbox.tensor([1.0]).is_pinned()


def test_default_device(standin):
    nnbox.set_default_device("cuda")
    try:
        assert nnbox.get_default_device() == nnbox.device("cuda", 0)
        assert nnbox.zeros(2).is_cuda and nnbox.tensor([1.0]).is_cuda and nnbox.randn(2).is_cuda
        assert nn.Linear(2, 3).weight.is_cuda
        assert nnbox.from_numpy(np.zeros(2)).is_cpu  # torch: from_numpy is always the CPU's
        assert nnbox.arange(3, device="cpu").is_cpu
    finally:
        nnbox.set_default_device(None)
    assert nnbox.zeros(2).is_cpu


# --- the seeds' programs and the command line on the device --------------------------------------------

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_seed_train_eval_loop_trains_on_cuda_with_the_standin():
    """The seed's own ``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks cuda."""
    import subprocess

    prelude = "import sys; sys.path.insert(0, 'tests'); import cupy_standin; cupy_standin.install()\n"
    src = open(os.path.join(_ROOT, "examples", "seeds", "train_eval_loop.py"), encoding="utf-8").read()
    env = dict(os.environ, PYTHONPATH=_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", prelude + src], capture_output=True, text=True, timeout=600,
                          cwd=_ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "training on  cuda" in proc.stdout
    acc = [float(a) for a in __import__("re").findall(r"test acc (\d\.\d+)", proc.stdout)]
    assert acc and acc[-1] > 0.9, proc.stdout


def test_cli_train_on_cuda_with_the_standin(standin, tmp_path, capsys):
    import re

    from nnbox.cli import main

    out = tmp_path / "run"
    args = ["train", "--model", "mlp", "--dataset", "digits", "--batch-size", "64", "--lr", "0.05",
            "--device", "cuda", "--out", str(out), "--no-progress"]
    assert main([*args, "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^epoch 1, loss \d\.\d{4}, train acc", text, re.M), text
    ck = nnbox.load(out / "last.pt", map_location="cuda")
    assert all(t.is_cuda for t in ck["model"].values() if isinstance(t, nnbox.Tensor))
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert "epoch 2," in capsys.readouterr().out


def test_a_gradient_on_another_device_than_its_output_is_refused_as_torch(standin):
    x = nnbox.ones(3, device="cuda", requires_grad=True)
    for out, g, want in (((x * 2).cpu(), nnbox.ones(3, device="cuda"), "expected device cpu but got cuda:0"),
                         (x * 2, nnbox.ones(3, device="cpu"), "expected device cuda:0 but got cpu")):
        for call in (lambda: nnbox.autograd.grad(out, x, g, retain_graph=True),
                     lambda: nnbox.autograd.grad(out, x, g, retain_graph=True, create_graph=True),
                     lambda: out.backward(g, retain_graph=True)):
            with pytest.raises(RuntimeError, match=f"^invalid gradient at index 0 - {want}$"):
                call()
        assert x.grad is None
        (gx,) = nnbox.autograd.grad(out, x, g.to(out.device))
        assert gx.is_cuda and gx.tolist() == [2.0, 2.0, 2.0]


def test_out_of_device_memory_is_torchs_out_of_memory_error(standin):
    """More than the device holds: CuPy's OutOfMemoryError becomes torch's (a RuntimeError that
    programs catch to retry with a smaller batch), worded as torch's caching allocator words it."""
    import torch

    assert issubclass(torch.OutOfMemoryError, RuntimeError) and torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
    assert nnbox.cuda.OutOfMemoryError is nnbox.OutOfMemoryError and issubclass(nnbox.OutOfMemoryError, RuntimeError)
    with pytest.raises(standin.cuda.memory.OutOfMemoryError, match=r"^Out of memory allocating 8,796,093,022,208 bytes"):
        standin.empty(2**40)  # the stand-in's device (80 GiB) refuses it as CuPy does
    before = nnbox.cuda.memory_allocated()
    want = (r"^CUDA out of memory\. Tried to allocate 4096\.00 GiB\. GPU 0 has a total capacity of 80\.00 GiB of "
            r"which [0-9.]+ GiB is free\.")
    for make in (lambda: nnbox.empty(2**40, device="cuda"), lambda: nnbox.zeros(2**39, 2, device="cuda"),
                 lambda: nnbox.full((2**40,), 1.0, device="cuda"), lambda: nn.Linear(2**20, 2**20, device="cuda")):
        with pytest.raises(nnbox.cuda.OutOfMemoryError, match=want):
            make()
    assert nnbox.cuda.memory_allocated() == before


def test_multinomial_on_cuda_reads_back_twice(standin):
    """torch's multinomial (its path without replacement or for one sample) checks the
    probabilities with two ``.item()`` reads (valid values, a non-zero sum) and draws on the
    device; nnbox's CuPy path reads back those two times and no more (it read three)."""
    import cupy_standin

    probs = nnbox.rand(64, 5, device="cuda")
    for kw in (dict(num_samples=1), dict(num_samples=3), dict(num_samples=4, replacement=True)):
        cupy_standin.reset_counters()
        s = nnbox.multinomial(probs, **kw)
        assert cupy_standin.copies() == 2 and s.is_cuda and s.shape == (64, kw["num_samples"])
    for bad, msg in ((-1.0, "element < 0"), (float("nan"), "`nan`"), (float("inf"), "`inf`"), (0.0, "sum of probabilities")):
        p = probs.clone()
        p[3] = bad
        with pytest.raises(RuntimeError, match=msg):
            nnbox.multinomial(p, 1)


def test_index_ops_refuse_an_index_on_another_device(standin):
    x = nnbox.randn(2, 3, device="cuda")
    idx = nnbox.tensor([[0, 1], [2, 0]], device="cpu")
    msg = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    for fn in (lambda: x.gather(1, idx), lambda: x.scatter(1, idx, 1.0), lambda: x.index_select(1, idx[0]),
               lambda: x.index_add(1, idx[0], nnbox.ones(2, 2, device="cuda"))):
        with pytest.raises(RuntimeError, match=msg):
            fn()
    assert x.gather(1, idx.cuda()).shape == (2, 2)
