"""Utilities: ``nnbox.utils.data`` (Dataset/DataLoader), hooks, and the workflow tools."""


def __getattr__(name: str):
    # workflow tools load on first use so ``import nnbox.utils`` stays light
    if name in ("data", "summary", "tensorboard", "safetensors", "checkpoint"):
        import importlib

        return importlib.import_module(f"nnbox.utils.{name}")
    raise AttributeError(f"module 'nnbox.utils' has no attribute '{name}'")
