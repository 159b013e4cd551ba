"""Write nnbox/_torch_names.py: the public names of torch 2.13's main namespaces.

nnbox uses the lists to tell "torch has this, nnbox does not yet" from a plain typo, without
importing torch. Run with the oracle torch installed: ``python tools/gen_torch_names.py``.
"""
from __future__ import annotations

import pathlib
import textwrap
import types
import typing

import torch
import torch.nn
import torch.nn.functional
import torch.optim
import torch.utils.data

SPACES = {
    "torch": torch,
    "torch.nn": torch.nn,
    "torch.nn.functional": torch.nn.functional,
    "torch.Tensor": torch.Tensor,
    "torch.optim": torch.optim,
    "torch.utils.data": torch.utils.data,
}


def public(obj) -> list[str]:
    """Public names, less what the namespace merely imported (typing helpers, stdlib modules)."""
    out = []
    for n in dir(obj):
        if n.startswith("_") or n in dir(typing):
            continue
        try:
            v = getattr(obj, n)
        except Exception:
            continue
        if isinstance(v, types.ModuleType) and not v.__name__.startswith("torch"):
            continue
        if isinstance(v, (type, types.FunctionType)) and not (getattr(v, "__module__", "") or "").startswith("torch"):
            continue
        out.append(n)
    return out


def _block(names: list) -> list:
    return textwrap.fill(" ".join(names), 96, break_on_hyphens=False, break_long_words=False).splitlines()


def main() -> None:
    version = torch.__version__.split("+")[0]
    lines = [
        '"""Public names of torch ' + version + "'s namespaces, written by "
        'tools/gen_torch_names.py.\n\nUsed only to word the error for a name nnbox lacks."""',
        "",
        "from ._torch_tensor_names import TENSOR",
        "",
        "NAMES = {",
    ]
    for space, obj in SPACES.items():
        if space == "torch.Tensor":
            lines.append(f"    {space!r}: TENSOR,")
            continue
        lines.append(f"    {space!r}: \"\"\"")
        lines.extend(_block(public(obj)))
        lines.append('""",')
    lines.append("}")
    root = pathlib.Path(__file__).resolve().parents[1] / "nnbox"
    (root / "_torch_names.py").write_text("\n".join(lines) + "\n")
    # torch.Tensor's names apart: ``import nnbox`` reads them (Tensor gets a class attribute that
    # raises the error for each one it lacks), and this module alone is small
    tensor = ['"""Public names of torch ' + version + "'s ``torch.Tensor``, written by tools/gen_torch_names.py."
              '"""', "", 'TENSOR = """', *_block(public(torch.Tensor)), '"""']
    (root / "_torch_tensor_names.py").write_text("\n".join(tensor) + "\n")


if __name__ == "__main__":
    main()
