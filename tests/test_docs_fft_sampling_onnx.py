"""The docstring examples of the modules added for FFT/complex tensors, sampling grids, lazy layers,
SparseAdam, index_put and ONNX export run and print what they claim."""
import doctest
import importlib

import pytest

import nnbox

pytestmark = pytest.mark.cpu_only(reason="the docstrings show CPU tensors' reprs")

MODULES = ["nnbox.fft", "nnbox.ops.complex", "nnbox.ops.grid_sample", "nnbox.nn.modules.lazy",
           "nnbox.optim.sparse_adam", "nnbox.ops.index", "nnbox.ops.embedding"]


@pytest.mark.parametrize("name", MODULES + ["nnbox.onnx"])
def test_docstring_examples(name):
    if name == "nnbox.onnx":
        pytest.importorskip("onnx")
    nnbox.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
