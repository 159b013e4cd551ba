"""``torch.backends.mps``: Apple's Metal backend, which nnbox does not have.

>>> import nnbox as torch
>>> torch.backends.mps.is_available(), torch.backends.mps.is_built()
(False, False)
"""


def is_available() -> bool:
    """False: nnbox runs on NumPy (CPU) and CuPy (NVIDIA GPUs) only."""
    return False


def is_built() -> bool:
    """False: nnbox has no MPS backend."""
    return False
