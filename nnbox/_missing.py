"""The error for a name nnbox lacks: "nnbox does not implement torch.xyz yet" when torch has it.

A torch program that reaches for a name nnbox has not built should learn that, and which names
nnbox does have nearby; a plain typo (a name torch lacks too) keeps Python's ordinary message.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

_sets: dict = {}


def torch_has(space: str, name: str) -> bool:
    """Whether torch 2.13's namespace ``space`` (e.g. ``"torch.nn"``) has the public ``name``."""
    s = _sets.get(space)
    if s is None:
        if space.startswith("torchvision."):
            from ._torchvision_names import NAMES
        else:
            from ._torch_names import NAMES
        s = _sets[space] = frozenset(NAMES[space].split())
    return name in s


def attribute_error(space: str, name: str, have: Iterable[str], ordinary: str) -> AttributeError:
    """The AttributeError to raise for ``space.name``; ``ordinary`` is Python's own message."""
    if name.startswith("_") or not torch_has(space, name):
        return AttributeError(ordinary)
    near = difflib.get_close_matches(name, [h for h in have if not h.startswith("_")], n=3, cutoff=0.6)
    msg = f"nnbox does not implement {space}.{name} yet"
    if near:
        msg += f" (nearest names nnbox has: {', '.join(near)})"
    return AttributeError(msg)
