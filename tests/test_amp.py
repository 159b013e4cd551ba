"""torch.amp.GradScaler: nnbox's against torch's (on the CPU), step by step, with inf gradients."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import nnbox


def _pair():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    nm = nnbox.nn.Sequential(nnbox.nn.Linear(4, 8), nnbox.nn.ReLU(), nnbox.nn.Linear(8, 3))
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


def _run(m, model, device, bad_steps, steps=14):
    opt = m.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = m.amp.GradScaler(device, init_scale=2.0**10, growth_interval=3)
    rng = np.random.default_rng(1)
    scales, losses = [], []
    for i in range(steps):
        x = m.tensor(rng.standard_normal((16, 4)).astype(np.float32), device=device)
        y = m.tensor(rng.integers(0, 3, 16), device=device)
        opt.zero_grad()
        loss = m.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        if i in bad_steps:  # an overflowed gradient: the step must be skipped and the scale halved
            with m.no_grad():
                model[0].weight.grad[0, 0] = math.inf if i % 2 else math.nan
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        losses.append(loss.item())
    return scales, losses, scaler


def test_scale_sequence_and_weights_equal_torch_with_injected_infs(device):
    tm, nm = _pair()
    bad = {2, 3, 7, 11}
    t_scales, t_losses, t_scaler = _run(torch, tm, "cpu", bad)
    n_scales, n_losses, n_scaler = _run(nnbox, nm, device, bad)
    assert n_scales == t_scales
    assert len(set(t_scales)) > 2  # it both backed off and grew
    np.testing.assert_allclose(n_losses, t_losses, rtol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(nm.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert n_scaler.state_dict() == t_scaler.state_dict()


def test_errors_and_state_dict_like_torch():
    for m in (torch, nnbox):
        model = m.nn.Linear(2, 1)
        opt = m.optim.SGD(model.parameters(), lr=0.1)
        s = m.amp.GradScaler("cpu", growth_interval=2)
        with pytest.raises(AssertionError, match="Attempted update but _scale is None."):
            s.update()
        s.scale(model(m.ones(1, 2)).sum()).backward()
        with pytest.raises(AssertionError, match="No inf checks were recorded prior to update."):
            s.update()
        s.unscale_(opt)
        with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer since the last update\(\)."):
            s.unscale_(opt)
        assert s.step(opt) is None
        with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)."):
            s.unscale_(opt)
        s.update()
        with pytest.raises(RuntimeError, match="Closure use is not currently supported if GradScaler is enabled."):
            s.step(opt, closure=lambda: 0)
        scaled = s.scale([m.ones(1), (m.ones(1),)])
        assert isinstance(scaled, list) and isinstance(scaled[1], tuple) and scaled[1][0].item() == 65536.0
        other = m.amp.GradScaler("cpu")
        other.load_state_dict(s.state_dict())
        assert other.state_dict() == s.state_dict() == {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                                         "growth_interval": 2, "_growth_tracker": 1}
        off = m.amp.GradScaler("cpu", enabled=False)
        assert off.get_scale() == 1.0 and off.state_dict() == {} and not off.is_enabled()
        loss = model(m.ones(1, 2)).sum()
        assert off.scale(loss) is loss


@pytest.mark.cpu_only(reason="needs a machine without a GPU")
def test_cuda_scaler_without_a_gpu_disables_itself_like_torch():
    for m in (torch, nnbox):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            s = m.cuda.amp.GradScaler()
        msgs = [str(x.message) for x in w]
        assert any("is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` instead." in x for x in msgs)
        assert "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling." in msgs
        assert not s.is_enabled() and s.get_scale() == 1.0


def test_cuda_scaler_on_the_standin_reads_one_flag_per_step(standin):
    import cupy_standin

    tm, nm = _pair()
    nm.cuda()
    bad = {2, 5}
    t_scales, t_losses, _ = _run(torch, tm, "cpu", bad, steps=8)
    n_scales, n_losses, _ = _run(nnbox, nm, "cuda", bad, steps=8)
    assert n_scales == t_scales
    np.testing.assert_allclose(n_losses, t_losses, rtol=1e-5)
    # per step: the batch in (2 host->device copies), the found-inf flag and loss.item() out
    opt = nnbox.optim.SGD(nm.parameters(), lr=0.01)
    scaler = nnbox.amp.GradScaler("cuda")
    x, y = nnbox.randn(8, 4, device="cuda"), nnbox.randint(0, 3, (8,), device="cuda")
    for i in range(3):
        cupy_standin.reset_counters()
        opt.zero_grad()
        loss = nnbox.nn.functional.cross_entropy(nm(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        loss.item()
        if i:
            assert cupy_standin.copies() == 2, cupy_standin.counters
