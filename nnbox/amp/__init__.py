"""``torch.amp``: ``GradScaler`` (dynamic loss scaling). ``autocast`` is not implemented yet."""
from .grad_scaler import GradScaler  # noqa: F401
