"""``torch.amp``: ``autocast`` (mixed precision per op) and ``GradScaler`` (dynamic loss scaling)."""
from .autocast_mode import autocast, is_autocast_available  # noqa: F401
from .grad_scaler import GradScaler  # noqa: F401
