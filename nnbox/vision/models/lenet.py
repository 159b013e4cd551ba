"""LeNet-5 (LeCun et al., 1998) for 28 x 28 single-channel digits (MNIST), with ReLU and max-pool."""
from __future__ import annotations

from typing import Any

from ... import nn

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """conv(6, 5x5, pad 2) - pool - conv(16, 5x5) - pool - 120 - 84 - ``num_classes``
    (61,706 parameters for 10 classes).

    >>> import nnbox
    >>> lenet5()(nnbox.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(**kwargs: Any) -> LeNet5:
    return LeNet5(**kwargs)
