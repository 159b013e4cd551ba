"""torch.autocast against torch on the CPU: a small CNN trained 20 steps under bfloat16 autocast,
the per-op cast lists (output dtypes op by op), nesting, enabled=False, the decorator form, the
switches, the deprecated aliases, and GradScaler with autocast."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import nnbox

pytest.importorskip("ml_dtypes")
pytestmark = pytest.mark.cpu_only(reason="CPU autocast (bfloat16) against torch's CPU autocast")


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def _same_init():
    torch.manual_seed(0)
    tm = _cnn(torch)
    nm = _cnn(nnbox)
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


def _train(lib, model, batches, steps=20):
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    losses, dtypes = [], []
    for i in range(steps):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = model(lib.tensor(x))
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(y))
        loss.backward()
        dtypes.append((str(out.dtype), str(loss.dtype), str(model[0].weight.grad.dtype)))
        opt.step()
        losses.append(loss.item())
    return np.array(losses), dtypes


@pytest.fixture
def one_thread_each():
    """Both libraries on one thread: how many threads torch's oneDNN and NumPy's BLAS split a sum
    over changes its order, and with it which bfloat16 neighbour an activation rounds to; the test
    below compares at that level, whatever thread counts earlier tests left behind."""
    t, n = torch.get_num_threads(), nnbox.get_num_threads()
    torch.set_num_threads(1)
    nnbox.set_num_threads(1)
    yield
    torch.set_num_threads(t)
    nnbox.set_num_threads(n)


def test_small_cnn_20_steps_under_bfloat16_autocast_matches_torch(one_thread_each):
    tm, nm = _same_init()
    rng = np.random.default_rng(0)
    # four fixed batches, cycled: the labels depend on the images, so the loss has something to learn
    batches = []
    for _ in range(4):
        x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
        batches.append((x, (x[:, 0, :4].sum((1, 2)) > 0).astype(np.int64) + 2 * (x[:, 0, 4:].sum((1, 2)) > 0)))
    t_losses, t_dtypes = _train(torch, tm, batches)
    n_losses, n_dtypes = _train(nnbox, nm, batches)
    # conv/linear outputs in bfloat16, the loss in float32, float32 parameters get float32 gradients
    assert n_dtypes == t_dtypes == [("torch.bfloat16", "torch.float32", "torch.float32")] * 20
    assert t_losses[-1] < 0.8 * t_losses[0]  # it trains
    # Tolerance: the convolutions and the linear round their outputs to bfloat16 (8 significant
    # bits, a relative step of 2**-8 = 0.4%).  torch (oneDNN) and nnbox (im2col + float32 GEMM)
    # sum in different orders, so an activation may round to the neighbouring bfloat16 value; such
    # one-step differences reach the loss (float32 from bfloat16 logits) at well under one step,
    # and 20 SGD steps carry them along: two bfloat16 steps, 2**-7 relative, bound it.
    np.testing.assert_allclose(n_losses, t_losses, rtol=2.0**-7)
    # That bound would also hold for a run without autocast (float32 throughout lands within 1e-3
    # of torch's bfloat16 losses here), so the test also holds nnbox to what it measured: both
    # round the same float32 results once, and the losses agree to float32 rounding (1.7e-7
    # relative) until an activation first rounds to the neighbouring bfloat16 value; on one
    # thread each that happens at step 17 (2.3e-4 relative by step 19), so the first 16 steps are
    # held to 1e-6, which tells bfloat16 from float32 arithmetic.
    np.testing.assert_allclose(n_losses[:16], t_losses[:16], rtol=1e-6)
    # the parameters stay float32 and end where torch's do (to the same bfloat16 tolerance)
    for k, v in tm.state_dict().items():
        n = nm.state_dict()[k]
        assert n.dtype is nnbox.float32
        np.testing.assert_allclose(n.numpy(), v.numpy(), rtol=2.0**-7, atol=2.0**-7 * float(v.abs().max()), err_msg=k)


# --- which ops run in bfloat16, which in float32 (output dtypes against torch, op by op) ------------

def _ops(L):
    F = L.nn.functional
    r = np.random.default_rng(0)

    def T(shape):
        return L.tensor(r.standard_normal(shape).astype(np.float32))

    x, w, m, b = T((4, 8)), T((3, 8)), T((8, 8)), T((2, 4, 4))
    img, cw = T((2, 3, 8, 8)), T((4, 3, 3, 3))
    xb, ib = x.bfloat16(), img.bfloat16()
    tgt = L.tensor([0, 1, 2, 1])
    spd = (m @ m.T + L.eye(8)).bfloat16()
    return {
        # torch's CPU list "to bfloat16": float32 inputs come out bfloat16
        "linear": lambda: F.linear(x, w), "linear_bias_mixed": lambda: F.linear(xb, w, w[:, 0]),
        "linear_3d": lambda: F.linear(b, w[:, :4]), "mm": lambda: x.mm(m), "matmul": lambda: x @ m,
        "bmm": lambda: b.bmm(b), "addmm": lambda: L.addmm(x, x, m), "baddbmm": lambda: L.baddbmm(b, b, b),
        "einsum": lambda: L.einsum("ij,jk->ik", x, m), "conv2d": lambda: F.conv2d(img, cw),
        "conv1d": lambda: F.conv1d(img[:, :, 0], cw[:, :, 0]),
        "conv_transpose2d": lambda: F.conv_transpose2d(img, cw.transpose(0, 1).contiguous()),
        "prelu": lambda: F.prelu(x, L.tensor([0.25])), "sdpa": lambda: F.scaled_dot_product_attention(b, b, b),
        "lstm": lambda: L.nn.LSTM(8, 4)(x[None])[0], "rnn_cell": lambda: L.nn.RNNCell(8, 4)(x),
        # not in any list: run in their inputs' dtype (float32 in, float32 out; bfloat16 in, bfloat16 out)
        "mv": lambda: m.mv(x[0]), "dot": lambda: x[0].dot(x[1]), "outer": lambda: L.outer(x[0], x[1]),
        "tensordot": lambda: L.tensordot(x, m, dims=1), "rtruediv": lambda: 1 / x,
        "gru": lambda: L.nn.GRU(8, 4)(x[None])[0], "gru_cell": lambda: L.nn.GRUCell(8, 4)(x),
        "lstm_cell": lambda: L.nn.LSTMCell(8, 4)(x)[0], "embedding": lambda: F.embedding(tgt, w),
        "softmax": lambda: F.softmax(xb, 1), "log_softmax": lambda: F.log_softmax(xb, 1),
        "layer_norm": lambda: F.layer_norm(xb, (8,)), "group_norm": lambda: F.group_norm(ib, 1),
        "batch_norm": lambda: F.batch_norm(ib, None, None, training=True), "sum": lambda: xb.sum(),
        "mean": lambda: xb.mean(), "cumsum": lambda: xb.cumsum(0), "exp": lambda: xb.exp(),
        "log": lambda: xb.abs().log(), "pow": lambda: xb.pow(2), "relu": lambda: F.relu(xb),
        "gelu": lambda: F.gelu(xb), "tanh": lambda: xb.tanh(), "max_pool2d": lambda: F.max_pool2d(ib, 2),
        "avg_pool2d": lambda: F.avg_pool2d(ib, 2), "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(ib, 1),
        "norm": lambda: xb.norm(), "normalize": lambda: F.normalize(xb),
        "cosine_similarity": lambda: F.cosine_similarity(xb, xb), "dropout": lambda: F.dropout(xb),
        "softplus": lambda: F.softplus(xb), "interpolate": lambda: F.interpolate(ib, scale_factor=2),
        "std": lambda: xb.std(), "var": lambda: xb.var(), "logsumexp": lambda: xb.logsumexp(1),
        "dist": lambda: L.dist(xb, xb), "cumprod": lambda: xb.cumprod(0), "rsqrt": lambda: xb.abs().rsqrt(),
        "pad": lambda: F.pad(ib, (1, 1)),
        # plain promotion (bfloat16 with float32 is float32), and the "promote" list (cat, stack)
        "add": lambda: xb + x, "mul": lambda: xb * x, "atan2": lambda: L.atan2(xb, x),
        "cat": lambda: L.cat([xb, x]), "stack": lambda: L.stack([xb, x]),
        # torch's CPU list "to float32": bfloat16 inputs come out float32
        "prod": lambda: xb.prod(), "avg_pool3d": lambda: F.avg_pool3d(ib[None], 2),
        "max_pool3d": lambda: F.max_pool3d(ib[None], 2), "adaptive_avg_pool3d": lambda: F.adaptive_avg_pool3d(ib[None], 1),
        "max_unpool2d": lambda: F.max_unpool2d(*F.max_pool2d(ib, 2, return_indices=True), 2),
        "mse_loss": lambda: F.mse_loss(xb, x), "l1_loss": lambda: F.l1_loss(xb, xb),
        "smooth_l1_loss": lambda: F.smooth_l1_loss(xb, xb), "huber_loss": lambda: F.huber_loss(xb, xb),
        "cross_entropy": lambda: F.cross_entropy(xb, tgt), "nll_loss": lambda: F.nll_loss(xb, tgt),
        "kl_div": lambda: F.kl_div(xb, xb, reduction="batchmean"),
        "binary_cross_entropy": lambda: F.binary_cross_entropy(xb.sigmoid(), xb.sigmoid()),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(xb, xb.sigmoid()),
        "margin_ranking_loss": lambda: F.margin_ranking_loss(xb[0], xb[1], L.ones(8)),
        "hinge_embedding_loss": lambda: F.hinge_embedding_loss(xb, L.ones(4, 8)),
        "soft_margin_loss": lambda: F.soft_margin_loss(xb, L.ones(4, 8)),
        "triplet_margin_loss": lambda: F.triplet_margin_loss(xb, xb, xb),
        "poisson_nll_loss": lambda: F.poisson_nll_loss(xb, xb.abs()),
        "cosine_embedding_loss": lambda: F.cosine_embedding_loss(xb, xb, L.ones(4)),
        "multi_margin_loss": lambda: F.multi_margin_loss(xb, tgt),
        "multilabel_margin_loss": lambda: F.multilabel_margin_loss(xb, L.zeros(4, 8, dtype=L.long)),
        "cdist": lambda: L.cdist(xb, xb), "trace": lambda: m.bfloat16().trace(),
        "inverse": lambda: L.inverse(spd), "cholesky": lambda: L.linalg.cholesky(spd),
        "grid_sample": lambda: F.grid_sample(ib, L.zeros(2, 4, 4, 2).bfloat16(), align_corners=False),
        "fft": lambda: L.fft.fft(xb),
    }


_NAMES = sorted(_ops(torch))


@pytest.mark.parametrize("name", _NAMES)
def test_output_dtype_under_autocast_matches_torch(name):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = _ops(torch)[name]()
    with nnbox.autocast("cpu", dtype=nnbox.bfloat16):
        n = _ops(nnbox)[name]()
    assert str(n.dtype) == str(t.dtype)
    assert not nnbox.is_autocast_enabled("cpu")


def test_lists_cover_both_kinds():
    # the table above exercises both directions (guards against a table that tests nothing)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = {k: str(f().dtype) for k, f in _ops(torch).items()}
    assert got["linear"] == got["conv2d"] == "torch.bfloat16"
    assert got["cross_entropy"] == got["prod"] == got["max_pool3d"] == "torch.float32"


def test_autocast_float16_on_cpu_and_values():
    r = np.random.default_rng(3)
    a, b = r.standard_normal((5, 7)).astype(np.float32), r.standard_normal((7, 3)).astype(np.float32)
    for dt in ("bfloat16", "float16"):
        with torch.autocast("cpu", dtype=getattr(torch, dt)):
            t = torch.tensor(a) @ torch.tensor(b)
        with nnbox.autocast("cpu", dtype=getattr(nnbox, dt)):
            n = nnbox.tensor(a) @ nnbox.tensor(b)
        assert str(n.dtype) == str(t.dtype) == f"torch.{dt}"
        np.testing.assert_allclose(n.float().numpy(), t.float().numpy(), rtol=2.0**-7, atol=1e-2)


def test_gradients_flow_to_float32_leaves_through_the_casts():
    r = np.random.default_rng(4)
    a, w0 = r.standard_normal((4, 3)).astype(np.float32), r.standard_normal((3, 2)).astype(np.float32)
    grads, names = [], []
    for lib in (torch, nnbox):
        w = lib.tensor(w0, requires_grad=True)
        with lib.autocast("cpu"):
            y = lib.tensor(a) @ w
        names.append((y.grad_fn.name(), y.grad_fn.next_functions[1][0].name()))
        (y.float() ** 2).sum().backward()
        assert w.grad.dtype == lib.float32
        grads.append(w.grad.numpy())
    assert names[0] == names[1] == ("MmBackward0", "ToCopyBackward0")
    np.testing.assert_allclose(grads[1], grads[0], rtol=2.0**-7, atol=1e-2)


def test_nested_and_disabled_regions():
    x = nnbox.ones(2, 2)
    assert not nnbox.is_autocast_enabled("cpu")
    with nnbox.autocast("cpu"):
        assert nnbox.is_autocast_enabled("cpu") and not nnbox.is_autocast_enabled("cuda")
        assert not nnbox.is_autocast_enabled()  # no argument: CUDA's, as torch
        assert (x @ x).dtype is nnbox.bfloat16
        with nnbox.autocast("cpu", enabled=False):
            assert not nnbox.is_autocast_enabled("cpu")
            assert (x @ x).dtype is nnbox.float32
            with nnbox.autocast("cpu", dtype=nnbox.float16):
                assert (x @ x).dtype is nnbox.float16 and nnbox.get_autocast_dtype("cpu") is nnbox.float16
            assert (x @ x).dtype is nnbox.float32
        assert nnbox.is_autocast_enabled("cpu") and (x @ x).dtype is nnbox.bfloat16
        assert nnbox.get_autocast_dtype("cpu") is nnbox.bfloat16
    assert not nnbox.is_autocast_enabled("cpu") and (x @ x).dtype is nnbox.float32


def test_region_left_by_an_exception_is_restored():
    with pytest.raises(ValueError), nnbox.autocast("cpu"):
        raise ValueError("boom")
    assert not nnbox.is_autocast_enabled("cpu")
    assert (nnbox.ones(2, 2) @ nnbox.ones(2, 2)).dtype is nnbox.float32


def test_decorator_form():
    @nnbox.autocast("cpu")
    def f(a, b):
        assert nnbox.is_autocast_enabled("cpu")
        return a @ b

    @nnbox.amp.autocast("cpu", enabled=False)
    def g(a, b):
        return a @ b

    x = nnbox.ones(2, 2)
    assert f(x, x).dtype is nnbox.bfloat16 and not nnbox.is_autocast_enabled("cpu")
    with nnbox.autocast("cpu"):
        assert g(x, x).dtype is nnbox.float32
    assert f.__name__ == "f"


def test_switches_and_defaults_match_torch():
    for lib in (torch, nnbox):
        assert str(lib.get_autocast_dtype("cpu")) == "torch.bfloat16"
        assert str(lib.get_autocast_dtype("cuda")) == "torch.float16"
        assert lib.is_autocast_cache_enabled() is True
        assert lib.amp.is_autocast_available("cpu")
        a = lib.autocast("cpu")
        assert a.fast_dtype == lib.bfloat16 and a.device == "cpu"
        lib.set_autocast_enabled("cpu", True)
        assert lib.is_autocast_enabled("cpu")
        lib.set_autocast_enabled("cpu", False)
        lib.set_autocast_dtype("cpu", lib.float16)
        assert lib.get_autocast_dtype("cpu") == lib.float16
        lib.set_autocast_dtype("cpu", lib.bfloat16)
    with pytest.warns(DeprecationWarning, match=r"get_autocast_cpu_dtype\(\) is deprecated"):
        assert nnbox.get_autocast_cpu_dtype() is nnbox.bfloat16
    with pytest.warns(DeprecationWarning, match="is_autocast_cpu_enabled"):
        assert nnbox.is_autocast_cpu_enabled() is False


def test_bad_arguments_like_torch():
    for lib in (torch, nnbox):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`, got: `<class 'int'>`"):
            lib.autocast(device_type=3)
        with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
            lib.autocast("xyz")
        for dt in (lib.float32, lib.float64):
            with pytest.warns(UserWarning, match="CPU Autocast only supports dtypes of torch.bfloat16, torch.float16"):
                ctx = lib.autocast("cpu", dtype=dt)
            with ctx:
                assert not lib.is_autocast_enabled("cpu")


def test_cuda_autocast_without_a_gpu_disables_itself_like_torch():
    if nnbox.cuda.is_available():
        pytest.skip("a CUDA device (or the stand-in) is present")
    for lib in (torch, nnbox):
        with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported. Disabling autocast."):
            ctx = lib.autocast("cuda")
        with ctx:
            assert not lib.is_autocast_enabled("cuda")


def test_deprecated_aliases_warn_and_work():
    x = nnbox.ones(2, 2)
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.autocast\(args...\)` is deprecated. Please use "
                                           r"`torch.amp.autocast\('cpu', args...\)` instead."):
        ctx = nnbox.cpu.amp.autocast()
    with ctx:
        assert (x @ x).dtype is nnbox.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (no GPU: it disables itself)
        with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.autocast\(args...\)` is deprecated"):
            nnbox.cuda.amp.autocast()


def test_weight_cast_once_per_region_and_refreshed_after_an_update():
    w = nnbox.ones(3, 3, requires_grad=True)
    x = nnbox.ones(2, 3)
    with nnbox.autocast("cpu"):
        a, b = x @ w, x @ w
        assert a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]  # one cached cast
        with nnbox.no_grad():
            w.add_(1.0)  # the parameter changed: its cached copy must not be reused
        c = x @ w
        assert c.float().tolist() == [[6.0, 6.0, 6.0]] * 2
    with nnbox.autocast("cpu", cache_enabled=False):
        a, b = x @ w, x @ w
        assert a.grad_fn.next_functions[1][0] is not b.grad_fn.next_functions[1][0]


# --- GradScaler with autocast ------------------------------------------------------------------------

def _scaler_run(lib, model, bad_steps, steps=12):
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    rng = np.random.default_rng(1)
    scales, losses = [], []
    for i in range(steps):
        x = lib.tensor(rng.standard_normal((16, 1, 8, 8)).astype(np.float32))
        y = lib.tensor(rng.integers(0, 10, 16))
        opt.zero_grad()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            loss = lib.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        if i in bad_steps:
            with lib.no_grad():
                model[0].weight.grad[0, 0, 0, 0] = math.inf if i % 2 else math.nan
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        losses.append(loss.item())
    return scales, np.array(losses)


def test_grad_scaler_under_autocast_matches_torch():
    tm, nm = _same_init()
    bad = {2, 3, 7}
    t_scales, t_losses = _scaler_run(torch, tm, bad)
    n_scales, n_losses = _scaler_run(nnbox, nm, bad)
    assert n_scales == t_scales and len(set(t_scales)) > 2
    np.testing.assert_allclose(n_losses, t_losses, rtol=2.0**-7)  # the CNN test's tolerance, same reason


def test_dispatch_costs_nothing_until_bfloat16_or_autocast_is_used():
    import os
    import subprocess
    import sys

    code = """
import nnbox
from nnbox.autograd import function
x = nnbox.ones(3, 3, requires_grad=True)
(x @ x).sum().backward()
print(function._mixed[0])
with nnbox.autocast("cpu", enabled=False):
    print(function._mixed[0])
with nnbox.autocast("cpu"):
    print(function._mixed[0], (x @ x).dtype)
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(nnbox.__file__)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60)
    assert r.stdout.split("\n")[:3] == ["False", "False", "True torch.bfloat16"], r.stderr


# --- CUDA autocast on the CuPy stand-in: torch's CUDA lists (float16), no host round trips ----------

# torch's "CUDA Ops that can autocast to float16 / to float32 / promote" (docs, Autocast Op Reference)
_CUDA_EXPECTED = {
    "linear": "float16", "matmul": "float16", "bmm": "float16", "addmm": "float16", "conv2d": "float16",
    "prelu": "float16", "softmax": "float32", "log_softmax": "float32", "layer_norm": "float32",
    "sum": "float32", "exp": "float32", "log": "float32", "pow": "float32", "rsqrt": "float32",
    "cumsum": "float32", "prod": "float32", "norm": "float32", "softplus": "float32",
    "cross_entropy": "float32", "mse_loss": "float32", "nll_loss": "float32",
    "relu": "float16", "max_pool2d": "float16", "add": "float16", "tanh": "float16",
    "cat_promote": "float32", "atan2_promote": "float32", "mv": "float16", "lstm_cell": "float16",
    "gru_cell": "float16", "rnn_cell": "float16", "erfinv": "float32", "rtruediv": "float32",
    "dot_promote": "float32", "tensordot_promote": "float32", "bilinear_promote": "float32", "outer": "float32",
}


def _cuda_ops(L, dev):
    F = L.nn.functional
    x, m = L.randn(4, 8, device=dev), L.randn(8, 8, device=dev)
    b, img, cw = L.randn(2, 4, 4, device=dev), L.randn(2, 3, 8, 8, device=dev), L.randn(4, 3, 3, 3, device=dev)
    h = x.half()
    tgt = L.tensor([0, 1, 2, 1], device=dev)
    return {
        "linear": lambda: F.linear(x, m), "matmul": lambda: x @ m, "bmm": lambda: b.bmm(b),
        "addmm": lambda: L.addmm(x, x, m), "conv2d": lambda: F.conv2d(img, cw),
        "prelu": lambda: F.prelu(x, L.tensor([0.25], device=dev)), "softmax": lambda: F.softmax(h, 1),
        "log_softmax": lambda: F.log_softmax(h, 1), "layer_norm": lambda: F.layer_norm(h, (8,)),
        "sum": lambda: h.sum(), "exp": lambda: h.exp(), "log": lambda: h.abs().log(), "pow": lambda: h.pow(2),
        "rsqrt": lambda: h.abs().rsqrt(), "cumsum": lambda: h.cumsum(0), "prod": lambda: h.prod(),
        "norm": lambda: h.norm(), "softplus": lambda: F.softplus(h), "cross_entropy": lambda: F.cross_entropy(h, tgt),
        "mse_loss": lambda: F.mse_loss(h, h), "nll_loss": lambda: F.nll_loss(h, tgt), "relu": lambda: F.relu(h),
        "max_pool2d": lambda: F.max_pool2d(img.half(), 2), "add": lambda: h + h, "tanh": lambda: h.tanh(),
        "cat_promote": lambda: L.cat([h, x]), "atan2_promote": lambda: L.atan2(h, x),
        "mv": lambda: m.mv(x[0]), "lstm_cell": lambda: L.nn.LSTMCell(8, 4, device=dev)(x)[0],
        "gru_cell": lambda: L.nn.GRUCell(8, 4, device=dev)(x), "rnn_cell": lambda: L.nn.RNNCell(8, 4, device=dev)(x),
        "erfinv": lambda: (h * 0.1).erfinv(), "rtruediv": lambda: 1 / h, "dot_promote": lambda: h[0].dot(x[1]),
        "tensordot_promote": lambda: L.tensordot(h, x, dims=([1], [1])), "outer": lambda: L.outer(x[0], x[1]),
        "bilinear_promote": lambda: F.bilinear(h, x, L.randn(2, 8, 8, device=dev)),
    }


def test_cuda_autocast_float16_lists_on_the_standin(standin):
    got = {}
    with nnbox.autocast("cuda"):
        assert nnbox.is_autocast_enabled() and nnbox.get_autocast_dtype("cuda") is nnbox.float16
        for k, f in _cuda_ops(nnbox, "cuda").items():
            out = f()
            assert out.is_cuda, k
            got[k] = out.dtype.name
    assert got == _CUDA_EXPECTED
    with nnbox.autocast("cuda"), pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"):
        nnbox.nn.functional.binary_cross_entropy(nnbox.rand(4, device="cuda"), nnbox.rand(4, device="cuda"))
    # CPU tensors are not touched by CUDA autocast
    with nnbox.autocast("cuda"):
        assert (nnbox.ones(2, 2) @ nnbox.ones(2, 2)).dtype is nnbox.float32


def test_cuda_autocast_training_step_makes_no_host_copies(standin):
    import cupy_standin

    nnbox.manual_seed(0)
    model = _cnn(nnbox).cuda()
    opt = nnbox.optim.SGD(model.parameters(), lr=0.1)
    scaler = nnbox.amp.GradScaler("cuda")
    x, y = nnbox.randn(16, 1, 8, 8, device="cuda"), nnbox.randint(0, 10, (16,), device="cuda")
    for i in range(3):
        cupy_standin.reset_counters()
        opt.zero_grad()
        with nnbox.autocast("cuda"):
            out = model(x)
            loss = nnbox.nn.functional.cross_entropy(out, y)
        assert out.dtype is nnbox.float16 and loss.dtype is nnbox.float32
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        assert model[0].weight.dtype is nnbox.float32 and model[0].weight.grad.dtype is nnbox.float32
        loss.item()
        if i:  # GradScaler's found-inf flag and loss.item(): nothing more for the casts
            assert cupy_standin.copies() == 2, cupy_standin.counters


def test_cuda_autocast_bfloat16_on_the_standin(standin):
    assert nnbox.cuda.is_bf16_supported()  # the stand-in reports an Ampere-class device
    x, w = nnbox.randn(4, 8, device="cuda"), nnbox.randn(8, 3, device="cuda", requires_grad=True)
    with nnbox.autocast("cuda", dtype=nnbox.bfloat16):
        y = x @ w
        s = nnbox.nn.functional.softmax(y, 1)
    assert y.dtype is nnbox.bfloat16 and s.dtype is nnbox.float32 and y.is_cuda
    s.sum().backward()
    assert w.grad.dtype is nnbox.float32 and w.grad.is_cuda
    ref = (x.cpu().bfloat16() @ w.detach().cpu().bfloat16()).float()
    np.testing.assert_allclose(y.detach().float().cpu().numpy(), ref.numpy(), rtol=2.0**-7, atol=1e-2)


def test_bfloat16_to_a_cupy_without_it_says_so(standin, monkeypatch):
    real = standin.asarray

    def old_cupy_asarray(a, *args, **kwargs):  # CuPy before v14: no bfloat16 dtype
        if getattr(a, "dtype", None) is not None and str(a.dtype) == "bfloat16":
            raise TypeError("Unsupported dtype bfloat16")
        return real(a, *args, **kwargs)

    monkeypatch.setattr(standin, "asarray", old_cupy_asarray)
    with pytest.raises(TypeError, match="has no bfloat16 arrays; CuPy 14 or newer with ml_dtypes"):
        nnbox.ones(2, dtype=nnbox.bfloat16).cuda()
    assert nnbox.ones(2).cuda().is_cuda


def test_checkpoint_recomputes_under_the_same_autocast():
    from nnbox.utils.checkpoint import checkpoint

    r = np.random.default_rng(5)
    x0, w0 = r.standard_normal((4, 6)).astype(np.float32), r.standard_normal((6, 6)).astype(np.float32)
    grads = []
    for use_ckpt in (False, True):
        w = nnbox.tensor(w0, requires_grad=True)

        def block(x):
            return nnbox.relu(x @ w) @ w

        with nnbox.autocast("cpu"):
            y = checkpoint(block, nnbox.tensor(x0), use_reentrant=False) if use_ckpt else block(nnbox.tensor(x0))
        assert y.dtype is nnbox.bfloat16
        y.float().square().sum().backward()  # outside the region: the recomputation must re-enter it
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


def test_is_bf16_supported_follows_cupy_and_the_device(standin, monkeypatch):
    import nnbox.cuda as cuda

    monkeypatch.setattr(cuda, "_BF16_IN_CUPY", {})
    assert cuda.is_bf16_supported() and cuda.is_bf16_supported(including_emulation=False)  # (9, 0)
    monkeypatch.setattr(standin.cuda.Device, "compute_capability", property(lambda self: "75"))
    assert cuda.is_bf16_supported() and not cuda.is_bf16_supported(including_emulation=False)
    real = standin.zeros

    def no_bf16_zeros(shape, dtype=float, *args, **kwargs):  # a CuPy before v14
        if str(np.dtype(dtype)) == "bfloat16":
            raise TypeError("Unsupported dtype bfloat16")
        return real(shape, dtype, *args, **kwargs)

    monkeypatch.setattr(standin, "zeros", no_bf16_zeros)
    monkeypatch.setattr(cuda, "_BF16_IN_CUPY", {})
    assert not cuda.is_bf16_supported()
    with pytest.raises(RuntimeError, match="Current CUDA Device does not support bfloat16. Please switch dtype to float16."):
        nnbox.autocast("cuda", dtype=nnbox.bfloat16)
    with nnbox.autocast("cuda", dtype=nnbox.float16):
        assert (nnbox.ones(2, 2, device="cuda") @ nnbox.ones(2, 2, device="cuda")).dtype is nnbox.float16


def test_cpu_and_cuda_autocast_together(standin):
    a, g = nnbox.ones(3, 3), nnbox.ones(3, 3, device="cuda")
    with nnbox.autocast("cpu"), nnbox.autocast("cuda"):
        assert (a @ a).dtype is nnbox.bfloat16 and (g @ g).dtype is nnbox.float16
        assert a.mv(a[0]).dtype is nnbox.float32 and g.mv(g[0]).dtype is nnbox.float16  # CPU list vs CUDA list
        assert a[0].dot(a[1]).dtype is nnbox.float32
        assert nnbox.nn.LSTMCell(3, 2)(a)[0].dtype is nnbox.float32
        assert nnbox.nn.LSTMCell(3, 2, device="cuda")(g)[0].dtype is nnbox.float16
        assert nnbox.is_autocast_enabled("cpu") and nnbox.is_autocast_enabled("cuda")
    assert not nnbox.is_autocast_enabled("cpu") and not nnbox.is_autocast_enabled("cuda")
