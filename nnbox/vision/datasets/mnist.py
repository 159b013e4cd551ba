"""MNIST-format datasets: MNIST, FashionMNIST, KMNIST, EMNIST (IDX files, gzipped or not).

Layout as torchvision: ``root/<ClassName>/raw/train-images-idx3-ubyte`` (or ``.gz``), etc.
"""
from __future__ import annotations

import gzip
import os
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from .utils import download_and_extract_archive, extract_archive, verify_str_arg
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "read_idx", "write_idx"]

# IDX type codes -> big-endian NumPy dtypes
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (the MNIST format: magic ``0 0 type ndim``, big-endian int32 sizes, data).

    Raises ``RuntimeError`` naming the file when it is truncated or not IDX at all.
    """
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise RuntimeError(f"Could not read {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"{path} is truncated: its header promises {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise RuntimeError(
            f"{path} is corrupted: header says shape {shape} ({expected} bytes) but the file has {len(raw)} bytes"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def write_idx(path: str, arr: np.ndarray) -> None:
    """Write ``arr`` as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    be = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
            np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}[arr.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">i4").tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + np.ascontiguousarray(be).tobytes())


class MNIST(VisionDataset):
    """The MNIST handwritten digits: ``data`` (N x 28 x 28 uint8 tensor), ``targets`` (int64),
    items are ``(PIL image, int)`` before transforms.

    ``download=True`` fetches the four IDX files from the mirrors (checking MD5s); without a
    network it fails with a clear error.  Files may be gzipped or not.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    training_file = "training.pt"
    test_file = "test.pt"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if self._check_legacy_exist():
            # torchvision's old layout: processed/training.pt, test.pt (torch.save'd tensors)
            self.data, self.targets = self._load_legacy_data()
            return
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        self.data, self.targets = self._load_data()

    def _check_legacy_exist(self) -> bool:
        if not os.path.isdir(self.processed_folder):
            return False
        return all(os.path.isfile(os.path.join(self.processed_folder, f)) for f in (self.training_file, self.test_file))

    def _load_legacy_data(self):
        from ...serialization import load

        path = os.path.join(self.processed_folder, self.training_file if self.train else self.test_file)
        try:
            data, targets = load(path, weights_only=True)
        except Exception as e:
            raise RuntimeError(f"Could not read {path}: {e}") from e
        return data, targets

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _file(self, stem: str) -> str | None:
        """The raw file for ``stem``, uncompressed or ``.gz``."""
        for name in (stem, stem + ".gz"):
            path = os.path.join(self.raw_folder, name)
            if os.path.isfile(path):
                return path
        return None

    def _stems(self) -> list[str]:
        return [os.path.splitext(os.path.basename(url))[0] for url, _ in self.resources]

    def _check_exists(self) -> bool:
        return all(self._file(stem) is not None for stem in self._stems())

    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _load_data(self):
        from ... import _tensor

        images_stem, labels_stem = self._split_files()
        images_path, labels_path = self._file(images_stem), self._file(labels_stem)
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise RuntimeError(f"{images_path}: expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise RuntimeError(f"{labels_path}: expected a 1-d label vector, got shape {labels.shape}")
        if len(images) != len(labels):
            raise RuntimeError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
        return _tensor.Tensor._make(images), _tensor.Tensor._make(labels.astype(np.int64))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = self.data._data[index], int(self.targets._data[index])
        img = Image.fromarray(img, mode="L")
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def download(self) -> None:
        """Fetch and unpack the raw files (each from the first mirror that answers)."""
        if self._check_exists():
            return
        for filename, md5 in self.resources:
            errors = []
            for mirror in self.mirrors:
                try:
                    download_and_extract_archive(mirror + filename, self.raw_folder, filename=filename, md5=md5)
                    break
                except RuntimeError as e:
                    errors.append(str(e))
            else:
                raise RuntimeError(f"Error downloading {filename}:\n" + "\n".join(errors))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28 x 28 greyscale clothing images in 10 classes (MNIST's format)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28 x 28 cursive Japanese characters in 10 classes (MNIST's format)."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """Extended MNIST: letters and digits, in six ``split``s (byclass, bymerge, balanced, letters,
    digits, mnist).  Files: ``root/EMNIST/raw/emnist-<split>-<train|test>-images-idx3-ubyte``."""

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root: str, split: str, **kwargs: Any) -> None:
        self.split = verify_str_arg(split, "split", self.splits)
        self.training_file = f"training_{split}.pt"
        self.test_file = f"test_{split}.pt"
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    def _stems(self) -> list[str]:
        return [f"emnist-{self.split}-{part}-{kind}-idx{n}-ubyte" for part in ("train", "test")
                for kind, n in (("images", 3), ("labels", 1))]

    def _split_files(self) -> tuple[str, str]:
        part = "train" if self.train else "test"
        return f"emnist-{self.split}-{part}-images-idx3-ubyte", f"emnist-{self.split}-{part}-labels-idx1-ubyte"

    def download(self) -> None:
        """Fetch the zip, then unpack its ``gzip/`` folder's files into the raw folder."""
        if self._check_exists():
            return
        download_and_extract_archive(self.url, download_root=self.raw_folder, md5=self.md5)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in os.listdir(gzip_folder):
            if name.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, name), self.raw_folder)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"

