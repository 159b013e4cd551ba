"""``torch.backends.cpu``: what the CPU backend can do (NumPy picks its own SIMD kernels).

>>> import nnbox as torch
>>> torch.backends.cpu.get_cpu_capability()
'DEFAULT'
"""


def get_cpu_capability() -> str:
    """'DEFAULT': nnbox does not choose kernels by CPU capability; NumPy does it inside."""
    return "DEFAULT"
