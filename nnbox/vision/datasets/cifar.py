"""CIFAR-10 and CIFAR-100 from their python pickle batches (``cifar-10-batches-py`` layout)."""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from .utils import check_integrity, download_and_extract_archive
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    """32 x 32 colour images in 10 classes: ``data`` is an N x 32 x 32 x 3 uint8 ndarray,
    ``targets`` a list of ints, items are ``(PIL image, int)`` before transforms.

    The batch files are only required to exist and parse (MD5s are checked when downloading and
    by ``_check_integrity()``), so small files in the same format load too.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
        data, self.targets = [], []
        for name, _ in self.train_list if train else self.test_list:
            entry = self._unpickle(name)
            if "data" not in entry or ("labels" not in entry and "fine_labels" not in entry):
                raise RuntimeError(f"{self._path(name)} is not a CIFAR batch (missing 'data' or labels)")
            images = np.asarray(entry["data"], dtype=np.uint8)
            labels = list(entry["labels"] if "labels" in entry else entry["fine_labels"])
            if images.ndim != 2 or images.shape[1] != 3072 or len(images) != len(labels):
                raise RuntimeError(
                    f"{self._path(name)} is corrupted: 'data' has shape {images.shape} for {len(labels)} labels "
                    "(expected N x 3072)"
                )
            data.append(images)
            self.targets.extend(labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # to N x H x W x C
        self._load_meta()

    def _path(self, name: str) -> str:
        return os.path.join(self.root, self.base_folder, name)

    def _unpickle(self, name: str) -> dict:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
        except Exception as e:  # truncated or not a pickle at all
            raise RuntimeError(f"Could not read CIFAR file {path}: {e}") from e

    def _load_meta(self) -> None:
        entry = self._unpickle(self.meta["filename"])
        if self.meta["key"] not in entry:
            raise RuntimeError(f"{self._path(self.meta['filename'])} has no {self.meta['key']!r} entry")
        self.classes = entry[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = Image.fromarray(self.data[index]), self.targets[index]
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def _check_exists(self) -> bool:
        names = [n for n, _ in self.train_list + self.test_list] + [self.meta["filename"]]
        return all(os.path.isfile(self._path(n)) for n in names)

    def _check_integrity(self) -> bool:
        """Every file present with its published MD5 (torchvision's check)."""
        files = self.train_list + self.test_list + [[self.meta["filename"], self.meta["md5"]]]
        return all(check_integrity(self._path(n), md5) for n, md5 in files)

    def download(self) -> None:
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: 100 fine classes (``fine_labels``), ``cifar-100-python`` layout."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
