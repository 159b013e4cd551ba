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
