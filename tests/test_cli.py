"""The ``nnbox`` command: demo, train, summary, info, and its errors."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from nnbox.cli import build_model, main

# this checkout's nnbox, from any cwd (from a tmp_path, `python -m nnbox` would find the installed one)
_ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnbox", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=_ENV)


def test_help_is_lazy_and_python_m_works():
    code = (
        "import sys; from nnbox.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = [m for m in ('nnbox.nn', 'nnbox.optim', 'matplotlib', 'tensorboard', 'tqdm', 'PIL', 'torch') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "HEAVY []" in out and "demo" in out and "train" in out
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.startswith("nnbox ")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--model", "transformer9000"], "invalid choice: 'transformer9000'"),
        (["train", "--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["train", "--epochs", "0"], "must be a positive integer"),
        (["train", "--lr", "abc"], "invalid float value"),
        (["train", "--workers", "-1"], "must be 0 or more"),
        (["summary", "nope"], "invalid choice"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_says_how_to_get_it(tmp_path, capsys):
    code = main(["train", "--dataset", "mnist", "--data-root", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--download" in err and "mnist5k" in err and "usage: nnbox train" in err


def test_bad_device_exit_2(tmp_path, capsys):
    import nnbox

    if nnbox.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["train", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["train", "--device", "tpu", "--out", str(tmp_path)]) == 2


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^numpy\s+\d", out, re.M) and "BLAS" in out and "cpu" in out


def test_summary_command(capsys):
    assert main(["summary", "mlp"]) == 0
    out = capsys.readouterr().out
    n = sum(p.numel() for p in build_model("mlp", (1, 28, 28), 10).parameters())
    assert n == 784 * 300 + 300 + 2 * 300 + 300 * 100 + 100 + 2 * 100 + 100 * 10 + 10
    assert f"Total params: {n:,}" in out and "BatchNorm1d" in out
    assert main(["summary", "cnn", "--input-size", "3,32,32", "--batch-size", "2"]) == 0
    assert "[2, 10]" in capsys.readouterr().out
    assert main(["summary", "cnn", "--input-size", "3x32"]) == 2


def test_train_digits_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "mlp", "--dataset", "digits", "--batch-size", "32", "--lr", "0.05", "--out", str(out), "--no-progress"]
    assert main([*args, "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^epoch 2, loss \d\.\d{4}, train acc", text, re.M)
    assert {"last.pt", "curves.png"} <= set(os.listdir(out))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))
    assert main([*args, "--epochs", "3", "--resume"]) == 0
    text = capsys.readouterr().out
    assert "resumed from" in text and "epoch 3," in text and "epoch 1," not in text
    import nnbox

    assert nnbox.load(out / "last.pt")["epoch"] == 3


def test_train_imagefolder(tmp_path, capsys):
    from PIL import Image  # pillow is in the [test] extra

    rng = np.random.default_rng(0)
    for cls, value in (("cats", 40), ("dogs", 210)):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(6):
            pix = np.clip(value + rng.normal(0, 10, size=(12, 10, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pix).save(tmp_path / "imgs" / cls / f"{i}.png")
    code = main(["train", "--model", "cnn", "--dataset", f"imagefolder:{tmp_path / 'imgs'}", "--image-size", "8",
                 "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 0
    assert "epoch 1," in capsys.readouterr().out
    assert main(["train", "--dataset", f"imagefolder:{tmp_path / 'nothing'}", "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_demo_reaches_90_percent(tmp_path):
    r = _run("demo", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 10
    acc = float(re.search(r"test accuracy (\d+\.\d)%", r.stdout).group(1))
    secs = float(re.search(r"done in (\d+\.\d) sec", r.stdout).group(1))
    print(f"demo: test accuracy {acc}%, {secs} sec")
    assert acc >= 90.0
    demo = tmp_path / "runs" / "demo"
    assert {"last.pt", "curves.png"} <= set(os.listdir(demo))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(demo))
    for path in ("runs/demo/last.pt", "runs/demo/curves.png", "tensorboard --logdir runs/demo"):
        assert path in r.stdout


@pytest.mark.parametrize("name", ["mlp", "cnn", "lenet5", "resnet18", "resnet18_cifar", "mobilenet_v2"])
def test_models_take_one_channel_images(name):
    import nnbox

    model = build_model(name, (1, 28, 28), 7)
    model.eval()
    with nnbox.no_grad():
        assert model(nnbox.zeros(2, 1, 28, 28)).shape == (2, 7)


def test_lenet5_needs_28x28(capsys):
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--epochs", "1"]) == 2
    assert "28x28" in capsys.readouterr().err


def test_run_delegates_to_the_distributed_launcher(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0 and "usage: nnbox run" in capsys.readouterr().out
    from nnbox.distributed.run import find_mpiexec

    find_mpiexec()  # MPICH is in the [test] extra: a missing mpiexec is a broken install, not a skip
    script = tmp_path / "hello.py"
    # one write per rank: print() with several arguments writes them piecewise, and mpiexec may
    # interleave the two ranks' pieces on one line
    script.write_text("import os, sys\nsys.stdout.write(f\"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']}\\n\")\n"
                      "sys.stdout.flush()\n")
    r = _run("run", "-n", "2", str(script))
    assert r.returncode == 0, r.stderr
    assert sorted(ln for ln in r.stdout.splitlines() if ln.startswith("rank")) == ["rank 0 of 2", "rank 1 of 2"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_stops_with_checkpoints_and_exit_130(tmp_path):
    import signal

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnbox", "train", "--dataset", "digits", "--epochs", "500", "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell may have set SIG_IGN
    )
    lines = []
    for line in proc.stdout:  # wait for the first complete epoch, then press Ctrl-C
        lines.append(line)
        if line.startswith("epoch 1,"):
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    text = "".join(lines) + rest
    assert proc.returncode == 130, text
    assert "interrupted during epoch" in text and "stopped by Ctrl-C" in text
    import nnbox

    assert nnbox.load(out / "last.pt")["epoch"] >= 1
    assert (out / "interrupted.pt").exists() and (out / "curves.png").exists()


# --- the issue-17 polish: messages a user reads ----------------------------------------------
_DIGITS = ["--dataset", "digits", "--batch-size", "64", "--epochs", "1", "--no-progress"]


def test_resume_with_another_model_says_in_one_line_what_the_checkpoint_was_made_with(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--model", "mlp", *_DIGITS, "--out", out]) == 0
    capsys.readouterr()
    assert main(["train", "--model", "cnn", *_DIGITS, "--out", out, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "usage: nnbox train [options]",
        f"nnbox train: error: {os.path.join(out, 'last.pt')} was made with --model mlp --dataset digits, not "
        "--model cnn --dataset digits: resume with those, or choose another --out",
    ]
    import nnbox

    assert nnbox.load(os.path.join(out, "last.pt"))["meta"] == {"model": "mlp", "dataset": "digits"}


def test_resume_without_a_checkpoint_says_it_starts_fresh(tmp_path, capsys):
    out = tmp_path / "fresh"
    assert main(["train", "--model", "mlp", *_DIGITS, "--out", str(out), "--resume"]) == 0
    text = capsys.readouterr().out
    assert f"no checkpoint at {out / 'last.pt'}: starting fresh" in text
    assert re.search(r"on cpu for 1 epoch$", text, re.M)  # not "1 epochs"


def test_fit_names_the_checkpoint_of_another_model(tmp_path):
    import nnbox
    from nnbox.training import fit

    x, y = nnbox.randn(8, 4), nnbox.tensor([0, 1] * 4)
    loader = nnbox.utils.data.DataLoader(nnbox.utils.data.TensorDataset(x, y), batch_size=4)
    a = nnbox.nn.Linear(4, 2)
    fit(a, loader, nnbox.optim.SGD(a.parameters(), lr=0.1), nnbox.nn.CrossEntropyLoss(), 1, checkpoint_dir=str(tmp_path),
        progress=False, checkpoint_meta={"model": "linear4"})
    b = nnbox.nn.Sequential(nnbox.nn.Linear(4, 2))
    with pytest.raises(RuntimeError, match=r"last\.pt does not fit this model \(made with model linear4\): Error"):
        fit(b, loader, nnbox.optim.SGD(b.parameters(), lr=0.1), nnbox.nn.CrossEntropyLoss(), 2,
            checkpoint_dir=str(tmp_path), resume=True, progress=False)


def test_offline_download_says_it_failed_where_files_go_and_what_works_offline(tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    root = tmp_path / "data"
    assert main(["train", "--dataset", "mnist", "--download", "--data-root", str(root), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Run again with --download" not in err
    assert "downloading mnist failed" in err and "Name or service not known" in err
    assert os.path.join(str(root), "MNIST", "raw") in err and "train-images-idx3-ubyte" in err
    assert "--dataset mnist5k / digits" in err
    assert len(err.splitlines()) == 2  # one usage line, one message


def test_train_help_shows_every_option_with_its_default(capsys):
    from nnbox.cli import build_parser

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    undocumented = [a.dest for a in train._actions if not a.help]
    assert undocumented == []
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for shown in ("(default: mlp)", "(default: 0.01)", "(default: 64)", "(default: sgd)", "(default: mnist5k)"):
        assert shown in text


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["summary"], ["demo", "--lr", "x"]])
def test_usage_errors_print_one_usage_line(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith(f"usage: nnbox {argv[0]}") and "error:" in err[1]


def test_info_reads_versions_without_importing_the_libraries():
    code = ("import sys; from nnbox.cli import main; main(['info'])\n"
            "print('IMPORTED', [m for m in ('torch', 'sklearn', 'matplotlib', 'tensorboard') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "IMPORTED []" in r.stdout
    from importlib.metadata import version

    assert re.search(rf"^torch\s+{re.escape(version('torch'))}$", r.stdout, re.M)


def test_summary_uses_the_models_own_defaults_in_forward_order(capsys):
    assert main(["summary", "resnet18", "--depth", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ResNet\s+\[1, 1000\]", out, re.M)  # models.resnet18() has 1000 classes
    rows = [m.group(0) for m in re.finditer(r"\w+: \d-\d+", out)]
    first_downsampling = rows.index("Sequential: 1-6") + 1  # layer2's first block
    block = rows[first_downsampling + 1:first_downsampling + 8]
    # torchvision's BasicBlock: conv1, bn1, relu, conv2, bn2, then the downsample shortcut, relu
    assert block == ["Conv2d: 3-1", "BatchNorm2d: 3-2", "ReLU: 3-3", "Conv2d: 3-4", "BatchNorm2d: 3-5",
                     "Sequential: 3-6", "ReLU: 3-3"]
    assert main(["summary", "resnet18", "--num-classes", "10", "--input-size", "3,32,32"]) == 0
    assert re.search(r"^ResNet\s+\[1, 10\]", capsys.readouterr().out, re.M)


@pytest.mark.parametrize("accs", [[0.5], [0.5, 0.9], [0.9, 0.5], [0.5, 0.6, 0.9], [0.3] * 8 + [0.95]])
def test_curves_best_test_label_stays_inside_the_plot(accs):
    import matplotlib

    matplotlib.use("Agg")
    from nnbox.training import History

    n = len(accs)
    fig = History(train_loss=[1.0] * n, train_acc=accs, test_loss=[1.0] * n, test_acc=accs, lr=[0.1] * n,
                  time=[1.0] * n).plot()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[1]
    label = next(t for t in ax.texts if t.get_text().startswith("best test"))
    box, inside = label.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert inside.x0 <= box.x0 and box.x1 <= inside.x1, (box, inside)
