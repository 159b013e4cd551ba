"""``nnbox.vision.models`` (torchvision.models): architectures with torchvision's module names and
initialisation (``weights=None`` only: there are no pretrained weights offline), plus LeNet-5, a
CIFAR ResNet-18 and the seed tutorial's ``RestNet18``.

>>> from nnbox.vision import models
>>> sum(p.numel() for p in models.resnet18().parameters())
11689512
"""
from .alexnet import AlexNet, alexnet
from .lenet import LeNet5, lenet5
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet18_cifar,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)
from .restnet_seed import RestNet18, RestNetBasicBlock, RestNetDownBlock
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = [
    "AlexNet", "alexnet", "LeNet5", "lenet5", "MobileNetV2", "mobilenet_v2", "ResNet", "BasicBlock", "Bottleneck",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
    "resnet18_cifar", "RestNet18", "RestNetBasicBlock", "RestNetDownBlock", "VGG", "vgg11", "vgg11_bn", "vgg13",
    "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
]
