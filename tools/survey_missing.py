"""Print, by namespace, the public torch 2.13 names nnbox does not have yet.

``python tools/survey_missing.py`` (needs nothing but nnbox: torch's names come from
``nnbox/_torch_names.py``; torchvision's are listed here by hand, as torchvision is not
installable on these machines).
"""
from __future__ import annotations

import importlib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # this checkout's nnbox

from nnbox._torch_names import NAMES  # noqa: E402
from nnbox._torchvision_names import NAMES as TV_NAMES  # noqa: E402

NNBOX = {
    "torch": "nnbox",
    "torch.nn": "nnbox.nn",
    "torch.nn.functional": "nnbox.nn.functional",
    "torch.Tensor": None,
    "torch.optim": "nnbox.optim",
    "torch.utils.data": "nnbox.utils.data",
}

TORCHVISION = {
    "torchvision.transforms": ("nnbox.vision.transforms", TV_NAMES["torchvision.transforms"]),
    "torchvision.datasets": ("nnbox.vision.datasets", TV_NAMES["torchvision.datasets"]),
}


def missing() -> dict[str, list[str]]:
    import nnbox

    out = {}
    for space, names in NAMES.items():
        target = nnbox.Tensor if NNBOX[space] is None else importlib.import_module(NNBOX[space])
        out[space] = [n for n in names.split() if not hasattr(target, n)]
    for space, (mod, names) in TORCHVISION.items():
        target = importlib.import_module(mod)
        out[space] = [n for n in names.split() if not hasattr(target, n)]
    return out


if __name__ == "__main__":
    for space, names in missing().items():
        total = len(NAMES[space].split()) if space in NAMES else len(TORCHVISION[space][1].split())
        print(f"{space}: {len(names)} of {total} missing")
        print("   ", " ".join(names))
