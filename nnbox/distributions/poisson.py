"""``Poisson`` with rate ``rate``."""
from __future__ import annotations

import nnbox

from ..ops.shape import Size
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Poisson"]


class Poisson(Distribution):
    """Counts with mean ``rate``: P(k) = rate^k e^-rate / k!.

    >>> import nnbox
    >>> from nnbox.distributions import Poisson
    >>> Poisson(2.0).log_prob(nnbox.tensor(1.0))
    tensor(-1.3069)
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Poisson, batch_shape, _instance, ("rate",))

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with nnbox.no_grad():
            return nnbox.poisson(self.rate.expand(*shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = nnbox.broadcast_tensors(self.rate, value)
        return nnbox.xlogy(value, rate) - rate - (value + 1).lgamma()
