"""The docstring examples of the switches, compile/jit, checkpointing, special functions,
distributions and parametrizations run and print what they claim."""
import doctest
import importlib

import pytest

import nnbox

pytestmark = pytest.mark.cpu_only(reason="the docstrings show CPU tensors' reprs")

MODULES = [
    "nnbox.backends", "nnbox.backends.cudnn", "nnbox.backends.cuda", "nnbox.backends.mps", "nnbox.backends.cpu",
    "nnbox.accelerator", "nnbox.version", "nnbox._version", "nnbox._switches", "nnbox.compiler", "nnbox.jit",
    "nnbox.utils.checkpoint", "nnbox.ops.special", "nnbox.ops.decomp", "nnbox.special",
    "nnbox.distributions", "nnbox.distributions.constraints", "nnbox.distributions.normal",
    "nnbox.distributions.uniform", "nnbox.distributions.exponential", "nnbox.distributions.poisson",
    "nnbox.distributions.bernoulli", "nnbox.distributions.categorical", "nnbox.distributions.gamma",
    "nnbox.distributions.multivariate_normal", "nnbox.distributions.independent",
    "nnbox.distributions.transforms", "nnbox.distributions.transformed_distribution", "nnbox.distributions.kl",
    "nnbox.nn.utils.parametrize", "nnbox.nn.utils.parametrizations", "nnbox.nn.utils.weight_norm",
    "nnbox.nn.utils.spectral_norm",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    nnbox.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
