"""TensorBoard logging with ``torch.utils.tensorboard``'s API.

``SummaryWriter`` writes real event files through the ``tensorboard`` package's own writer
(an optional dependency, imported when the first writer is made: ``pip install tensorboard``).
View them with ``tensorboard --logdir runs``.

>>> from nnbox.utils.tensorboard import SummaryWriter
>>> import tempfile
>>> with SummaryWriter(tempfile.mkdtemp()) as w:
...     w.add_scalar("loss", 0.5, global_step=1)
"""
from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
