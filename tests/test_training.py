"""nnbox.training: the seeds' loop with progress, TensorBoard, checkpoints and exact resume."""
from __future__ import annotations

import os
import random
import re

import numpy as np
import pytest

import nnbox
import nnbox.nn as nn
import nnbox.nn.functional as F
from nnbox.training import History, evaluate, fit
from nnbox.utils.data import DataLoader, TensorDataset

LINE = re.compile(r"^epoch (\d+), loss \d+\.\d{4}, train acc [01]\.\d{3}, test acc [01]\.\d{3}, time \d+\.\d sec$")


class Net(nn.Module):
    """Small, but with everything that makes exact resume hard: dropout (RNG) and momentum."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.3, self.training))


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2, 0, 0, 1], [-2, 1, 0, 0], [0, -2, 2, 0]], dtype=np.float32)
    x = centers[y] + rng.normal(scale=0.8, size=(n, 4)).astype(np.float32)
    return TensorDataset(nnbox.tensor(x), nnbox.tensor(y))


def _setup(own_generator=True, seed=0):
    nnbox.manual_seed(seed)
    model = Net()
    opt = nnbox.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = nnbox.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    gen = nnbox.Generator().manual_seed(7) if own_generator else None
    train = DataLoader(_blobs(), batch_size=32, shuffle=True, generator=gen)
    test = DataLoader(_blobs(90, seed=1), batch_size=45)
    return model, opt, sched, train, test


def test_fit_prints_the_seeds_epoch_line_and_learns(capsys):
    model, opt, sched, train, test = _setup()
    hist = fit(model, train, opt, nn.functional.cross_entropy, 4, test_loader=test, scheduler=sched)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert [int(LINE.match(ln).group(1)) for ln in lines] == [1, 2, 3, 4]
    assert len(hist) == 4 and hist.test_acc[-1] > 0.9 and hist.train_loss[-1] < hist.train_loss[0]
    assert hist.lr == [0.1, 0.1, 0.05, 0.05]  # lr used in each epoch (StepLR stepped after it)
    assert model.training  # left in training mode


def test_evaluate_matches_a_manual_pass_and_restores_mode():
    model, _, _, _, test = _setup()
    model.train()
    loss, acc = evaluate(model, test, loss_fn=nn.functional.cross_entropy)
    assert model.training
    model.eval()
    with nnbox.no_grad():
        X, y = test.dataset.tensors
        out = model(X)
        assert abs(loss - F.cross_entropy(out, y).item()) < 1e-5
        assert acc == (out.argmax(1) == y).sum().item() / len(y)
    assert np.isnan(evaluate(model, test)[0])  # no loss_fn: loss is NaN, accuracy still computed


@pytest.mark.cpu_only(reason="dropout on cuda draws from CuPy's generator, whose state cannot be saved")
@pytest.mark.parametrize("own_generator", [True, False], ids=["loader-generator", "global-rng"])
def test_resume_equals_uninterrupted_run(tmp_path, own_generator, capsys):
    model, opt, sched, train, test = _setup(own_generator)
    full = fit(model, train, opt, F.cross_entropy, 5, test, sched, checkpoint_dir=tmp_path / "a", progress=False)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched, train, test = _setup(own_generator)
    fit(model, train, opt, F.cross_entropy, 3, test, sched, checkpoint_dir=tmp_path / "b", progress=False)
    # a new process: everything rebuilt, every random source in a different state
    model, opt, sched, train, test = _setup(own_generator, seed=999)
    random.seed(5)
    np.random.seed(5)
    resumed = fit(model, train, opt, F.cross_entropy, 5, test, sched, checkpoint_dir=tmp_path / "b", resume=True, progress=False)
    assert "resumed from" in capsys.readouterr().out
    got = model.state_dict()
    assert set(got) == set(expected)
    for k in expected:
        np.testing.assert_array_equal(got[k].numpy(), expected[k], err_msg=k)
    assert resumed.train_loss == full.train_loss and resumed.test_acc == full.test_acc and len(resumed) == 5
    assert opt.param_groups[0]["lr"] == 0.025


def test_resume_from_missing_path_is_an_error(tmp_path):
    model, opt, sched, train, test = _setup()
    with pytest.raises(FileNotFoundError):
        fit(model, train, opt, F.cross_entropy, 1, resume=str(tmp_path / "nope.pt"), progress=False)
    # resume=True with an empty checkpoint_dir just starts from scratch
    hist = fit(model, train, opt, F.cross_entropy, 1, checkpoint_dir=tmp_path / "c", resume=True, progress=False)
    assert len(hist) == 1 and os.path.exists(tmp_path / "c" / "last.pt")


def test_checkpoint_is_readable_by_torch(tmp_path):
    import torch

    model, opt, sched, train, test = _setup()
    fit(model, train, opt, F.cross_entropy, 1, test, sched, checkpoint_dir=tmp_path, progress=False)
    ck = torch.load(tmp_path / "last.pt")  # weights_only=True: only plain data inside
    assert ck["epoch"] == 1 and set(ck["model"]) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert "momentum_buffer" in ck["optimizer"]["state"][0]


def test_nan_loss_is_reported_with_epoch_and_batch():
    model, opt, _, train, _ = _setup()
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        loss = F.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] == len(train) + 3 else loss

    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 2, batch 3"):
        fit(model, train, opt, loss_fn, 3, progress=False)
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())  # no NaN step taken


def test_ctrl_c_stops_cleanly_with_a_checkpoint(tmp_path, capsys):
    model, opt, sched, train, test = _setup()
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += out.requires_grad  # count training batches only (evaluate runs under no_grad)
        if calls["n"] == len(train) + 2:
            raise KeyboardInterrupt
        return F.cross_entropy(out, y)

    hist = fit(model, train, opt, loss_fn, 5, test, sched, checkpoint_dir=tmp_path, progress=False)
    assert hist.interrupted and len(hist) == 1
    out = capsys.readouterr().out
    assert "interrupted during epoch 2" in out and "interrupted.pt" in out
    assert nnbox.load(tmp_path / "last.pt")["epoch"] == 1
    snap = nnbox.load(tmp_path / "interrupted.pt")
    np.testing.assert_array_equal(snap["model"]["fc1.weight"].numpy(), model.fc1.weight.detach().numpy())


def test_tensorboard_logging(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nnbox.utils.tensorboard import SummaryWriter

    model, opt, sched, train, test = _setup()
    with SummaryWriter(tmp_path) as w:
        hist = fit(model, train, opt, F.cross_entropy, 3, test, sched, writer=w, progress=False)
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert {"Loss/train", "Accuracy/train", "Loss/test", "Accuracy/test", "lr"} <= set(acc.Tags()["scalars"])
    ev = acc.Scalars("Accuracy/test")
    assert [e.step for e in ev] == [1, 2, 3]
    np.testing.assert_allclose([e.value for e in ev], hist.test_acc, rtol=1e-6)


def test_history_plot_writes_a_png(tmp_path):
    from PIL import Image
    h = History(train_loss=[1.0, 0.5, 0.3], train_acc=[0.6, 0.8, 0.9], test_loss=[0.9, 0.6, 0.4],
                test_acc=[0.65, 0.82, 0.88], lr=[0.1] * 3, time=[1.0] * 3)
    p = h.plot(str(tmp_path / "sub" / "curves.png"))
    with Image.open(p) as im:
        assert im.format == "PNG" and im.size == (1200, 480)
    assert History.from_dict(h.to_dict()) == h


def test_resume_from_a_crafted_rng_state_runs_nothing(tmp_path):
    """The nnbox RNG state in a checkpoint is bytes: a crafted one must not execute code."""
    import pickle

    model, opt, sched, train, test = _setup()
    fit(model, train, opt, F.cross_entropy, 1, checkpoint_dir=tmp_path, progress=False)
    ck = nnbox.load(tmp_path / "last.pt")
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ck["rng"]["nnbox"] = nnbox.tensor(np.frombuffer(pickle.dumps((1, Evil())), dtype=np.uint8).copy())
    nnbox.save(ck, tmp_path / "last.pt")
    # the state is torch's raw 5056-byte layout (nothing is unpickled): anything else is refused
    with pytest.raises(RuntimeError, match="RNG state size"):
        fit(model, train, opt, F.cross_entropy, 2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert not marker.exists()


def test_plain_progress_lines_when_not_a_terminal(capsys, monkeypatch):
    from nnbox.training import _Progress

    bar = _Progress(3, "epoch 1/2", enabled=True, every=0.0)  # pytest's stderr is not a terminal
    assert bar.bar is None
    for loss in (0.5, 0.4, 0.3):
        bar.update(loss)
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("  epoch 1/2: batch 3/3, loss 0.3000,")
    silent = _Progress(3, "x", enabled=False, every=0.0)
    silent.update(1.0)
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_tqdm_bar_on_a_terminal():
    import fcntl
    import pty
    import select
    import struct
    import sys
    import termios

    import tqdm  # noqa: F401 - the bar under test is tqdm's (in the [test] extra)

    code = (
        "import time\nfrom nnbox.training import _Progress\n"
        "p = _Progress(4, 'epoch 1/1', True)\n"
        "for i in range(4):\n    time.sleep(0.15)\n    p.update(0.25)\n"  # slower than tqdm's refresh interval
        "p.close()\nprint('after')\n"
    )
    pid, fd = pty.fork()
    if pid == 0:  # child: run the bar with a terminal as stdout/stderr
        os.execvp(sys.executable, [sys.executable, "-c", code])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    out = b""
    while select.select([fd], [], [], 30)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert "epoch 1/1: 100%" in text and "4/4" in text and "loss=0.2500" in text and "after" in text


class _NoisyBlobs(nnbox.utils.data.Dataset):
    """Random augmentation in the workers (numpy's and nnbox's global RNGs, as transforms use)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return x + 0.1 * nnbox.randn(4) + float(np.random.uniform(-0.1, 0.1)), y


@pytest.mark.cpu_only(reason="dropout on cuda draws from CuPy's generator, whose state cannot be saved")
@pytest.mark.parametrize("persistent", [True, False], ids=["persistent", "per-epoch-workers"])
def test_resume_exact_with_worker_processes(tmp_path, persistent):
    # issue 16: with persistent_workers the workers' seeds were drawn once per process, so a
    # resumed run's workers (and the main RNG stream) differed from the uninterrupted run's
    def setup(seed=0):
        nnbox.manual_seed(seed)
        model = Net()
        opt = nnbox.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train = DataLoader(_NoisyBlobs(_blobs(96)), batch_size=32, shuffle=True, num_workers=2,
                           persistent_workers=persistent)
        return model, opt, train

    model, opt, train = setup()
    fit(model, train, opt, F.cross_entropy, 3, checkpoint_dir=tmp_path / "a", progress=False)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    expected.update({f"opt.{k}": v["momentum_buffer"].numpy().copy() for k, v in opt.state_dict()["state"].items()})
    del train

    model, opt, train = setup()
    fit(model, train, opt, F.cross_entropy, 1, checkpoint_dir=tmp_path / "b", progress=False)
    del train
    model, opt, train = setup(seed=123)
    fit(model, train, opt, F.cross_entropy, 3, checkpoint_dir=tmp_path / "b", resume=True, progress=False)
    got = {k: v.numpy() for k, v in model.state_dict().items()}
    got.update({f"opt.{k}": v["momentum_buffer"].numpy() for k, v in opt.state_dict()["state"].items()})
    assert set(got) == set(expected)
    differ = [k for k in expected if not np.array_equal(got[k], expected[k])]
    assert differ == [], f"{len(differ)} of {len(expected)} state entries differ after resuming"
