"""``FakeData``: random images, the same for a given index (for smoke tests and benchmarks)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random ``image_size`` (C, H, W) images with labels in ``range(num_classes)``, as
    PIL images; item ``i`` is reproducible (seeded by ``random_offset + i``).

    >>> img, label = FakeData(size=3, image_size=(3, 8, 8))[0]
    >>> img.size, 0 <= label < 10
    ((8, 8), True)
    """

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224), num_classes: int = 10,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 random_offset: int = 0) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        img = Image.fromarray(img[:, :, 0] if c == 1 else img)
        return self._transformed(img, target)

    def __len__(self) -> int:
        return self.size
