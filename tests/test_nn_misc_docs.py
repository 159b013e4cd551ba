"""The docstring examples of the conv/pool/norm/dropout/misc ops and their layers run and print what
they claim."""
import doctest
import importlib

import pytest

import nnbox

MODULES = [
    "nnbox.ops.conv", "nnbox.ops.pool", "nnbox.ops.norm", "nnbox.ops.dropout", "nnbox.ops.nn_misc",
    "nnbox.nn.modules.conv", "nnbox.nn.modules.pooling", "nnbox.nn.modules.batchnorm",
    "nnbox.nn.modules.normalization", "nnbox.nn.modules.dropout", "nnbox.nn.modules.padding",
    "nnbox.nn.modules.upsampling", "nnbox.nn.modules.pixelshuffle", "nnbox.nn.modules.distance",
    "nnbox.nn.modules.fold",
]


@pytest.mark.cpu_only(reason="the docstrings show CPU tensors' reprs")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    nnbox.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
