"""``FakeData``: random images, the same for a given index (for smoke tests and benchmarks)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random ``image_size`` (C, H, W) images with labels in ``range(num_classes)``, as
    PIL images, drawn as torchvision draws them: item ``i`` seeds the global generator with
    ``random_offset + i``, takes ``randn(C, H, W)`` and a ``randint`` label, and restores the
    generator's state (so reading items does not move the caller's stream); the image is
    ``ToPILImage`` of that tensor (``* 255`` cast to bytes, wrapping as torch's cast does).

    >>> img, label = FakeData(size=3, image_size=(3, 8, 8))[0]
    >>> img.size, label
    ((8, 8), 6)
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
        from ... import _backend
        from ...ops.creation import randint, randn
        from ..transforms import ToPILImage

        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rnd = _backend.random
        state = rnd.get_rng_state()
        rnd.manual_seed(index + self.random_offset)
        try:
            # on the CPU whatever the default device: the CPU stream is the one seeded, and PIL
            # images are host data
            img = randn(*self.image_size, device="cpu")
            target = int(randint(0, self.num_classes, size=(1,), device="cpu")[0])
        finally:
            rnd.set_rng_state(state)
        return self._transformed(ToPILImage()(img), target)

    def __len__(self) -> int:
        return self.size
