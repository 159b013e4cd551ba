"""The seeds' programs (examples/seeds/*.py) run on nnbox unchanged, and print what the same
program prints on torch: model reprs, shapes, parameter names, learning rates.  The training
example must also learn (a stated accuracy on real digits)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "seeds"
ROOT = EXAMPLES.parent.parent

_TO_TORCH = [
    ("import nnbox as torch", "import torch"),
    ("import nnbox.nn as nn", "import torch.nn as nn"),
    ("import nnbox.nn.functional as F", "import torch.nn.functional as F"),
    ("import nnbox.optim as optim", "import torch.optim as optim"),
    ("from nnbox.utils.data import", "from torch.utils.data import"),
]


def as_torch(src: str) -> str:
    """The same program on torch: only the import lines change."""
    for a, b in _TO_TORCH:
        src = src.replace(a, b)
    return src


def run(src: str, timeout: int = 300) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=timeout,
                          cwd=str(ROOT), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def script(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["sequential_styles.py", "nn_vs_functional.py", "model_containers.py",
                                  "conv_dense_net.py", "resnet18.py", "lr_decay.py"])
def test_seed_prints_what_torch_prints(name):
    src = script(name)
    assert "import nnbox as torch" in src
    ours = run(src)
    theirs = run(as_torch(src))
    assert ours == theirs
    assert ours.strip()


def test_seed_sequential_repr_as_printed_in_seed_002():
    out = run(script("sequential_styles.py"))
    assert (
        "Sequential(\n"
        "  (linear1): Linear(in_features=784, out_features=256, bias=True)\n"
        "  (relu1): ReLU()\n"
        "  (linear2): Linear(in_features=256, out_features=10, bias=True)\n"
        ")"
    ) in out


def test_seed_train_eval_loop_learns_digits():
    src = script("train_eval_loop.py")
    out = run(src)
    acc = float(re.search(r"测试准确率: ([\d.]+)%", out).group(1))
    assert acc > 90.0, out
    assert "training on  cpu" in out
    epochs = re.findall(r"epoch (\d+), loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)", out)
    assert [int(e[0]) for e in epochs] == [1, 2, 3, 4, 5]
    assert float(epochs[-1][3]) > 0.9 and float(epochs[-1][1]) < float(epochs[0][1])


# --- the seeds' models follow torch step by step when given torch's weights ----------------------------
def _classes(name: str):
    """The seed script's imports, classes and functions, defined on nnbox and on torch (the script's
    other top-level statements are not run)."""
    import ast

    namespaces = []
    for src in (script(name), as_torch(script(name))):
        tree = ast.parse(src)
        tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef))]
        ns = {"__name__": "seed"}
        exec(compile(tree, name, "exec"), ns)
        namespaces.append(ns)
    return namespaces[0], namespaces[1]


def _ten_sgd_steps(make, x_shape, n_classes=10, steps=10, lr=0.05, rtol=1e-4, double=False):
    import numpy as np
    import torch

    import nnbox

    torch.manual_seed(0)
    t_model = make(torch)
    n_model = make(nnbox)
    if double:  # float64 end to end: differences are then bugs, not float32 rounding amplified
        t_model.double()
        n_model.double()
    # same checkpoint in both: keys map one to one
    assert list(n_model.state_dict()) == list(t_model.state_dict())
    n_model.load_state_dict({k: nnbox.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    t_opt = torch.optim.SGD(t_model.parameters(), lr=lr, momentum=0.9)
    n_opt = nnbox.optim.SGD(n_model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(0)
    t_losses, n_losses = [], []
    for _ in range(steps):
        x = rng.standard_normal(x_shape).astype(np.float64 if double else np.float32)
        y = rng.integers(0, n_classes, x_shape[0])
        for lib, model, opt, losses in ((torch, t_model, t_opt, t_losses), (nnbox, n_model, n_opt, n_losses)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(n_losses, t_losses, rtol=rtol)
    for (k, tv), nv in zip(t_model.state_dict().items(), n_model.state_dict().values()):
        np.testing.assert_allclose(nv.numpy(), tv.numpy(), rtol=1e-3, atol=1e-4, err_msg=k)
    return t_losses


def test_seed_mlps_follow_torch_for_ten_sgd_steps():
    ns_n, ns_t = _classes("model_containers.py")
    for cls in ("Model_Seq", "Model_Lay", "Model_Lst", "Model_Dict"):
        losses = _ten_sgd_steps(lambda lib: (ns_t if lib.__name__ == "torch" else ns_n)[cls](64, 32, 16, 10),
                                (16, 1, 8, 8))
        assert len(losses) == 10


def test_seed_residual_blocks_follow_torch_for_ten_sgd_steps():
    ns_n, ns_t = _classes("resnet18.py")

    def make(lib):
        ns = ns_t if lib.__name__ == "torch" else ns_n
        nn = lib.nn
        return nn.Sequential(ns["RestNetDownBlock"](3, 16, [2, 1]), ns["RestNetBasicBlock"](16, 16, 1),
                             nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10))

    _ten_sgd_steps(make, (8, 3, 16, 16), lr=0.05, rtol=1e-4)


def test_seed_resnet18_loss_and_grads_match_torch():
    # Ten SGD steps of RestNet18 on a tiny batch cannot be compared: with BatchNorm over 4 samples
    # at 1x1 resolution (layer3/4) differences of 1e-12 grow 100x per step even in float64 (torch
    # against itself does the same).  One step, in float64, is compared to rounding precision.
    import numpy as np
    import torch

    import nnbox

    ns_n, ns_t = _classes("resnet18.py")
    torch.manual_seed(0)
    tm, nm = ns_t["RestNet18"]().double(), ns_n["RestNet18"]().double()
    nm.load_state_dict({k: nnbox.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3, 16, 16)), rng.integers(0, 10, 4)
    t_loss = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
    n_loss = nnbox.nn.functional.cross_entropy(nm(nnbox.tensor(x)), nnbox.tensor(y))
    t_loss.backward()
    n_loss.backward()
    np.testing.assert_allclose(n_loss.item(), t_loss.item(), rtol=1e-12)
    for (k, tp), np_ in zip(tm.named_parameters(), nm.parameters()):
        g = tp.grad.numpy()
        # conv biases feeding a BatchNorm have a true gradient of 0: both libraries return noise
        np.testing.assert_allclose(np_.grad.numpy(), g, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(g).max()), err_msg=k)
    for (k, tb), nb in zip(tm.named_buffers(), nm.buffers()):
        np.testing.assert_allclose(nb.numpy(), tb.numpy(), rtol=1e-10, err_msg=k)
