"""``nnbox.vision.datasets`` (torchvision.datasets): readers for the standard image datasets, plus
``Digits``/``MNIST5k``, real digits that work offline.

>>> from nnbox.vision.datasets import MNIST5k
>>> img, label = MNIST5k(train=False)[0]
>>> img.size, label
((28, 28), 0)
"""
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from .offline import Digits, MNIST5k
from .svhn import SVHN
from .vision import StandardTransform, VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "DatasetFolder", "Digits", "EMNIST", "FakeData", "FashionMNIST", "ImageFolder",
           "KMNIST", "MNIST", "MNIST5k", "SVHN", "StandardTransform", "VisionDataset"]


def __getattr__(name: str):
    from ..._missing import attribute_error

    raise attribute_error("torchvision.datasets", name, list(globals()), f"module '{__name__}' has no attribute '{name}'")
