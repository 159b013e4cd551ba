"""What every model builder shares: the ``weights`` argument (no pretrained weights offline)."""
from __future__ import annotations

from typing import Any


def check_weights(name: str, weights: Any, kwargs: dict) -> None:
    """Refuse pretrained weights with a clear message; accept ``weights=None`` and the legacy
    ``pretrained=False``."""
    pretrained = kwargs.pop("pretrained", False)
    if weights is None and not pretrained:
        return
    raise RuntimeError(
        f"{name}: pretrained weights are not available in nnbox (it has no weight hub and this machine "
        "has no network). Build the model with weights=None, then load a state_dict you have: "
        f"model = {name}(); model.load_state_dict(state_dict) (torchvision checkpoints map key by key)."
    )


def drop_progress(kwargs: dict) -> None:
    kwargs.pop("progress", None)
