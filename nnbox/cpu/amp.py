"""``torch.cpu.amp``: the deprecated spelling of ``torch.amp`` with ``device_type="cpu"``."""
from ..amp.autocast_mode import cpu_autocast as autocast  # noqa: F401
