"""Docstring examples of the activation, loss, embedding, recurrent and attention code (all in this area)."""
import doctest
import importlib

import pytest

MODULES = ["nnbox.ops.activation", "nnbox.ops.loss", "nnbox.ops.embedding", "nnbox.ops.rnn", "nnbox.ops.attention",
           "nnbox.ops._erf", "nnbox.nn.modules.activation", "nnbox.nn.modules.loss", "nnbox.nn.modules.sparse",
           "nnbox.nn.modules.rnn", "nnbox.nn.modules.transformer", "nnbox.nn.utils.rnn", "nnbox.nn.modules.adaptive"]


@pytest.mark.cpu_only(reason="the docstrings show CPU tensors' reprs")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
