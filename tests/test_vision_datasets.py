"""nnbox.vision.datasets: readers on small files written in the real formats, download paths
(offline error, file:// "downloads" with MD5 checks and extraction) and the packaged digits."""
from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest
from PIL import Image

import nnbox
from nnbox.utils.data import DataLoader
from nnbox.vision import datasets, transforms
from nnbox.vision.datasets import utils as dutils
from nnbox.vision.datasets.mnist import read_idx, write_idx

RNG = np.random.default_rng(0)


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, ds, fs in os.walk(root) for f in fs + ds)


def make_mnist(root, cls="MNIST", n_train=12, n_test=5, gz=False, prefix=("train", "t10k"), stems=None):
    raw = os.path.join(root, cls, "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for part, n in zip(prefix, (n_train, n_test)):
        images = RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, size=n).astype(np.uint8)
        names = stems(part) if stems else (f"{part}-images-idx3-ubyte", f"{part}-labels-idx1-ubyte")
        ext = ".gz" if gz else ""
        write_idx(os.path.join(raw, names[0] + ext), images)
        write_idx(os.path.join(raw, names[1] + ext), labels)
        out[part] = (images, labels)
    return out


# --- IDX / MNIST family ----------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    ref = make_mnist(tmp_path, gz=gz)
    train = datasets.MNIST(str(tmp_path), train=True)
    test = datasets.MNIST(str(tmp_path), train=False)
    assert len(train) == 12 and len(test) == 5
    assert train.data.dtype == nnbox.uint8 and train.data.shape == (12, 28, 28)
    assert train.targets.dtype == nnbox.int64
    np.testing.assert_array_equal(train.data.numpy(), ref["train"][0])
    np.testing.assert_array_equal(test.targets.numpy(), ref["t10k"][1])
    img, label = train[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    assert np.array_equal(np.asarray(img), ref["train"][0][3]) and label == int(ref["train"][1][3])
    assert train.classes[0] == "0 - zero" and train.class_to_idx["9 - nine"] == 9
    assert train.raw_folder == os.path.join(str(tmp_path), "MNIST", "raw")


def test_mnist_transforms_and_repr(tmp_path):
    make_mnist(tmp_path)
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(str(tmp_path), train=False, transform=t, target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == nnbox.float32 and y >= 100
    text = repr(ds)
    assert text.startswith(f"Dataset MNIST\n    Number of datapoints: 5\n    Root location: {tmp_path}\n    Split: Test")
    assert "StandardTransform\nTransform: Compose(" in text
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.dtype == nnbox.int64


@pytest.mark.parametrize("cls", [datasets.FashionMNIST, datasets.KMNIST])
def test_mnist_variants_use_their_own_folder(tmp_path, cls):
    make_mnist(tmp_path, cls=cls.__name__)
    ds = cls(str(tmp_path))
    assert len(ds) == 12 and len(ds.classes) == 10
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.MNIST(str(tmp_path))


def test_emnist_splits(tmp_path):
    make_mnist(tmp_path, cls="EMNIST", prefix=("train", "test"),
               stems=lambda part: (f"emnist-letters-{part}-images-idx3-ubyte", f"emnist-letters-{part}-labels-idx1-ubyte"))
    ds = datasets.EMNIST(str(tmp_path), split="letters", train=False)
    assert len(ds) == 5 and ds.classes[:3] == ["N/A", "a", "b"] and len(ds.classes) == 27
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(ValueError, match="Unknown value 'nope' for argument split"):
        datasets.EMNIST(str(tmp_path), split="nope")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.EMNIST(str(tmp_path), split="digits")


def test_wrong_root_is_a_clear_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    for cls in (datasets.MNIST, datasets.FashionMNIST, datasets.CIFAR10, datasets.CIFAR100):
        with pytest.raises(RuntimeError, match="Dataset not found.* You can use download=True to download it"):
            cls(str(missing))
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.SVHN(str(missing))
    assert not missing.exists() and listing(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncate", "magic", "empty"])
def test_corrupt_idx_names_the_file(tmp_path, damage):
    make_mnist(tmp_path)
    path = os.path.join(tmp_path, "MNIST", "raw", "train-images-idx3-ubyte")
    raw = open(path, "rb").read()
    bad = {"truncate": raw[:-100], "magic": b"\x01\x02" + raw[2:], "empty": b""}[damage]
    open(path, "wb").write(bad)
    with pytest.raises(RuntimeError, match=path):
        datasets.MNIST(str(tmp_path))
    datasets.MNIST(str(tmp_path), train=False)  # the other split is intact


def test_idx_roundtrip_dtypes(tmp_path):
    for dt in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        a = (RNG.standard_normal((3, 4)) * 50).astype(dt)
        p = str(tmp_path / f"x{np.dtype(dt).name}.idx.gz")
        write_idx(p, a)
        b = read_idx(p)
        assert b.dtype == a.dtype and np.array_equal(a, b)


def test_corrupt_gzip_names_the_file(tmp_path):
    make_mnist(tmp_path, gz=True)
    path = os.path.join(tmp_path, "MNIST", "raw", "train-labels-idx1-ubyte.gz")
    open(path, "wb").write(b"\x1f\x8b garbage")
    with pytest.raises(RuntimeError, match=path):
        datasets.MNIST(str(tmp_path))


# --- downloads -----------------------------------------------------------------------------------

@pytest.fixture
def offline(monkeypatch):
    def refuse(*a, **k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dutils.urllib.request, "urlopen", refuse)


def test_download_offline_fails_clearly_and_cleans_up(tmp_path, offline):
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="Error downloading train-images-idx3-ubyte.gz") as info:
        datasets.MNIST(str(root), download=True)
    assert "Failed to download https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in str(info.value)
    assert "Temporary failure in name resolution" in str(info.value)
    assert not root.exists()
    with pytest.raises(RuntimeError, match="Failed to download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"):
        datasets.CIFAR10(str(root), download=True)
    assert not root.exists()


def _mnist_mirror(tmp_path):
    """A local 'mirror' of gzipped IDX files and a dataset class pointing at it with their MD5s."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for name, shape in [("train-images-idx3-ubyte", (6, 28, 28)), ("train-labels-idx1-ubyte", (6,)),
                        ("t10k-images-idx3-ubyte", (2, 28, 28)), ("t10k-labels-idx1-ubyte", (2,))]:
        write_idx(str(mirror / (name + ".gz")), RNG.integers(0, 10, size=shape).astype(np.uint8))
        resources.append((name + ".gz", dutils.calculate_md5(str(mirror / (name + ".gz")))))

    class LocalMNIST(datasets.MNIST):
        mirrors = ["http://unreachable.invalid/", mirror.as_uri() + "/"]

    LocalMNIST.resources = resources
    return LocalMNIST


def test_download_from_mirror_with_md5_and_extraction(tmp_path):
    LocalMNIST = _mnist_mirror(tmp_path)
    LocalMNIST.mirrors = LocalMNIST.mirrors[1:]
    ds = LocalMNIST(str(tmp_path / "root"), download=True)
    assert len(ds) == 6
    raw = tmp_path / "root" / "LocalMNIST" / "raw"
    assert (raw / "train-images-idx3-ubyte").exists() and (raw / "train-images-idx3-ubyte.gz").exists()
    assert len(LocalMNIST(str(tmp_path / "root"), train=False, download=True)) == 2  # already there: no re-download


def test_download_md5_mismatch(tmp_path):
    LocalMNIST = _mnist_mirror(tmp_path)
    LocalMNIST.mirrors = LocalMNIST.mirrors[1:]
    LocalMNIST.resources = [(n, "0" * 32) for n, _ in LocalMNIST.resources]
    with pytest.raises(RuntimeError, match="MD5 does not match"):
        LocalMNIST(str(tmp_path / "root"), download=True)


def test_extract_archive_formats(tmp_path):
    src = tmp_path / "src"
    (src / "inner").mkdir(parents=True)
    (src / "inner" / "a.txt").write_text("hello")
    tgz = tmp_path / "x.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src / "inner", arcname="inner")
    dutils.extract_archive(str(tgz), str(tmp_path / "out1"))
    assert (tmp_path / "out1" / "inner" / "a.txt").read_text() == "hello"
    zp = tmp_path / "x.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.write(src / "inner" / "a.txt", "inner/a.txt")
    dutils.extract_archive(str(zp), str(tmp_path / "out2"), remove_finished=True)
    assert (tmp_path / "out2" / "inner" / "a.txt").read_text() == "hello" and not zp.exists()
    gz = tmp_path / "b.txt.gz"
    with gzip.open(gz, "wb") as f:
        f.write(b"data")
    assert open(dutils.extract_archive(str(gz)), "rb").read() == b"data"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.txt", "x")
    with pytest.raises(RuntimeError, match="Unsafe path"):
        dutils.extract_archive(str(evil), str(tmp_path / "out3"))
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(RuntimeError, match="Could not extract .*bad.tar.gz"):
        dutils.extract_archive(str(bad))
    assert dutils.check_integrity(str(gz), dutils.calculate_md5(str(gz))) and not dutils.check_integrity(str(gz), "0" * 32)


# --- CIFAR -------------------------------------------------------------------------------------------

def write_cifar(root, hundred=False, n=4):
    folder = os.path.join(root, "cifar-100-python" if hundred else "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    label_key = "fine_labels" if hundred else "labels"
    batches = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    written = {}
    for name in batches:
        data = RNG.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = RNG.integers(0, 100 if hundred else 10, size=n).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({"data": data, label_key: labels, "batch_label": name}, f)
        written[name] = (data, labels)
    meta = {"fine_label_names": [f"c{i}" for i in range(100)]} if hundred else {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
    with open(os.path.join(folder, "meta" if hundred else "batches.meta"), "wb") as f:
        pickle.dump(meta, f)
    return written


def test_cifar10_reads_pickle_batches(tmp_path):
    written = write_cifar(tmp_path)
    train = datasets.CIFAR10(str(tmp_path), train=True)
    test = datasets.CIFAR10(str(tmp_path), train=False)
    assert len(train) == 20 and len(test) == 4 and train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    row = written["data_batch_2"][0][1]  # 1024 red, then green, then blue, row-major
    np.testing.assert_array_equal(train.data[5], row.reshape(3, 32, 32).transpose(1, 2, 0))
    assert train.targets[5] == written["data_batch_2"][1][1]
    img, label = train[5]
    assert img.mode == "RGB" and np.array_equal(np.asarray(img), train.data[5])
    assert train.classes[3] == "cat" and train.class_to_idx["truck"] == 9
    assert not train._check_integrity()  # our files do not carry the published MD5s
    x, y = datasets.CIFAR10(str(tmp_path), transform=transforms.ToTensor())[0]
    assert x.shape == (3, 32, 32) and isinstance(y, int)


def test_cifar100(tmp_path):
    written = write_cifar(tmp_path, hundred=True, n=6)
    ds = datasets.CIFAR100(str(tmp_path), train=False)
    assert len(ds) == 6 and ds.targets == written["test"][1] and len(ds.classes) == 100


def test_corrupt_cifar_names_the_file(tmp_path):
    write_cifar(tmp_path)
    path = os.path.join(tmp_path, "cifar-10-batches-py", "data_batch_3")
    open(path, "wb").write(b"\x80\x04garbage")
    with pytest.raises(RuntimeError, match=path):
        datasets.CIFAR10(str(tmp_path))
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, f)
    with pytest.raises(RuntimeError, match=path + " is corrupted"):
        datasets.CIFAR10(str(tmp_path))
    datasets.CIFAR10(str(tmp_path), train=False)


def test_cifar_download_extracts_the_tarball(tmp_path):
    src = tmp_path / "src"
    write_cifar(src)
    tgz = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")

    class LocalCIFAR(datasets.CIFAR10):
        url = tgz.as_uri()
        tgz_md5 = dutils.calculate_md5(str(tgz))

    ds = LocalCIFAR(str(tmp_path / "root"), download=True)
    assert len(ds) == 20 and (tmp_path / "root" / "cifar-10-python.tar.gz").exists()


# --- SVHN, folders, fake data ------------------------------------------------------------------------

def test_svhn_reads_mat_files(tmp_path):
    import scipy.io as sio

    x = RNG.integers(0, 256, size=(32, 32, 3, 5), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9]], dtype=np.uint8)
    sio.savemat(str(tmp_path / "test_32x32.mat"), {"X": x, "y": y})
    ds = datasets.SVHN(str(tmp_path), split="test")
    assert len(ds) == 5 and ds.data.shape == (5, 3, 32, 32) and ds.labels.tolist() == [0, 1, 2, 0, 9]
    img, label = ds[1]
    assert np.array_equal(np.asarray(img), x[:, :, :, 1]) and label == 1
    with pytest.raises(ValueError, match="Unknown value 'dev' for argument split"):
        datasets.SVHN(str(tmp_path), split="dev")


def make_folder(root, classes=("cat", "dog"), per=3):
    for c in classes:
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for i in range(per):
            Image.fromarray(RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)).save(os.path.join(root, c, f"{i}.png"))
        open(os.path.join(root, c, "notes.txt"), "w").write("not an image")


def test_image_folder(tmp_path):
    make_folder(tmp_path)
    ds = datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 6 and ds.targets == [0, 0, 0, 1, 1, 1] and ds.imgs == ds.samples
    assert ds.samples[0][0].endswith(os.path.join("cat", "0.png"))
    x, y = ds[4]
    assert x.shape == (3, 6, 5) and y == 1
    txt = datasets.DatasetFolder(str(tmp_path), loader=lambda p: open(p).read(), extensions=(".txt",))
    assert len(txt) == 2 and txt[1] == ("not an image", 1)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty"):
        datasets.ImageFolder(str(tmp_path))
    assert len(datasets.ImageFolder(str(tmp_path), allow_empty=True)) == 6
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(str(tmp_path / "empty"))


def test_fake_data():
    ds = datasets.FakeData(size=7, image_size=(1, 10, 12), num_classes=3, transform=transforms.ToTensor())
    x, y = ds[2]
    assert len(ds) == 7 and x.shape == (1, 10, 12) and 0 <= y < 3
    assert np.array_equal(ds[2][0].numpy(), x.numpy())
    with pytest.raises(IndexError):
        ds[7]


# --- packaged real digits ----------------------------------------------------------------------------

def test_mnist5k_split_and_interface():
    train, test = datasets.MNIST5k(train=True), datasets.MNIST5k(train=False)
    assert len(train) == 4000 and len(test) == 1000
    assert train.data.dtype == nnbox.uint8 and train.data.shape == (4000, 28, 28) and train.targets.dtype == nnbox.int64
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    # deterministic and disjoint
    assert np.array_equal(datasets.MNIST5k(train=False).data.numpy(), test.data.numpy())
    rows = {r.tobytes() for r in train.data.numpy()}
    assert not any(r.tobytes() in rows for r in test.data.numpy())
    img, y = test[10]
    assert img.mode == "L" and img.size == (28, 28) and 0 <= y < 10
    assert train.data.numpy().max() == 255  # real pixel range


def test_digits_split_and_interface():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == 1797 and train.data.shape[1:] == (8, 8)
    assert train.data.numpy().max() == 255
    x, y = datasets.Digits(train=False, transform=transforms.ToTensor())[0]
    assert x.shape == (1, 8, 8) and x.dtype == nnbox.float32
    assert "Split: Test" in repr(test)





def test_mnist_legacy_processed_files_written_by_torch(tmp_path):
    import torch

    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    imgs = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (7,))
    torch.save((imgs, labels), processed / "training.pt")
    torch.save((imgs[:3], labels[:3]), processed / "test.pt")
    train = datasets.MNIST(str(tmp_path))
    assert train.data.dtype == nnbox.uint8 and np.array_equal(train.data.numpy(), imgs.numpy())
    assert np.array_equal(train.targets.numpy(), labels.numpy())
    assert len(datasets.MNIST(str(tmp_path), train=False)) == 3
    assert np.asarray(train[2][0]).tolist() == imgs[2].tolist()
