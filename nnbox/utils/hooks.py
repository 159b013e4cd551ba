"""``RemovableHandle``: returned by every ``register_*hook``; ``handle.remove()`` undoes it."""
from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """Removes the hook it was returned for; also a context manager."""

    def __init__(self, hooks_dict: dict, *, extra_dict=None):
        self.hooks_dict_ref = hooks_dict
        self.id = next(_ids)
        self.extra_dicts = [] if extra_dict is None else ([extra_dict] if isinstance(extra_dict, dict) else list(extra_dict))

    def remove(self) -> None:
        self.hooks_dict_ref.pop(self.id, None)
        for d in self.extra_dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
