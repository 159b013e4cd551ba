"""Doctests: every ``>>>`` example in ``nnbox/`` runs under ``python -m pytest`` (pyproject's
``--doctest-modules`` with ``nnbox`` in ``testpaths``), so a docstring cannot drift from the code.

Each example starts from nnbox's defaults, as a reader who pastes it would: seed 0, float32,
grad mode on, tensors on the CPU (also on the device pass, ``--device=cuda-standin``: the examples
show CPU tensors' reprs).  A module that imports an optional GPU or MPI library at module level is skipped
when that library is absent (nnbox imports CuPy and mpi4py lazily today, so every module runs);
any other import error fails the collection, loudly.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

_OPTIONAL_AT_IMPORT = ("cupy", "cupyx", "mpi4py")  # the [gpu] and [dist] extras


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:  # module level only: imports inside functions are lazy
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def pytest_ignore_collect(collection_path: Path, config):
    if collection_path.suffix != ".py" or "nnbox" not in collection_path.parts:
        return None
    missing = [m for m in _module_level_imports(collection_path) & set(_OPTIONAL_AT_IMPORT)
               if importlib.util.find_spec(m) is None]
    return True if missing else None


@pytest.fixture(autouse=True)
def _doctest_defaults(request):
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    import nnbox

    dtype, grad, device = nnbox.get_default_dtype(), nnbox.is_grad_enabled(), nnbox.get_default_device()
    nnbox.manual_seed(0)
    nnbox.set_default_dtype(nnbox.float32)
    nnbox.set_grad_enabled(True)
    nnbox.set_default_device("cpu")
    yield
    nnbox.set_default_dtype(dtype)  # nor may an example's changes leak into what runs next
    nnbox.set_grad_enabled(grad)
    nnbox.set_default_device(device)
