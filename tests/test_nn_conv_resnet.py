"""End to end: the seeds' ResNet18 and the small CNN, built identically in torch and nnbox with the
same weights, follow the same loss for several SGD steps (conv, batch norm, pooling, linear, loss and
optimizer all agree).  float64, so that ten steps of chaotic training stay comparable tightly."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import nnbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_models as B  # noqa: E402  (the model definitions, written once for both libraries)


@pytest.fixture
def one_thread():
    """torch's OpenMP threads spin badly on a loaded 2-core machine; one thread keeps this fast."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("build,shape,steps", [(B.make_resnet18, (4, 3, 32, 32), 3), (B.make_cnn, (8, 1, 28, 28), 10)])
def test_same_loss_curve_as_torch(build, shape, steps, one_thread, device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    y = rng.integers(0, 10, shape[0])
    torch.manual_seed(0)
    tm, nm = build(torch).double(), build(nnbox).double()
    B.copy_weights(tm, nm)
    ts, ns = B.train_step(torch, tm, x, y), B.train_step(nnbox, nm, x, y, device)
    t_losses = [float(ts().detach()) for _ in range(steps)]
    n_losses = [float(ns().detach()) for _ in range(steps)]
    np.testing.assert_allclose(n_losses, t_losses, rtol=1e-7, atol=1e-9)
    assert t_losses[-1] < t_losses[0]  # it did learn
    for k, v in tm.state_dict().items():  # weights and running statistics end up the same too
        np.testing.assert_allclose(nm.state_dict()[k].numpy(), v.numpy(), rtol=1e-6, atol=1e-8, err_msg=k)
