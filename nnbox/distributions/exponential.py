"""``Exponential`` with rate ``rate``."""
from __future__ import annotations

import nnbox

from ..ops.shape import Size
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, finfo_tiny

__all__ = ["Exponential"]


class Exponential(Distribution):
    """Exponential with density ``rate * exp(-rate * x)`` on x >= 0; ``rsample`` is reparameterised.

    >>> import nnbox
    >>> from nnbox.distributions import Exponential
    >>> Exponential(2.0).mean
    tensor(0.5000)
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Exponential, batch_shape, _instance, ("rate",))

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return nnbox.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        u = nnbox.rand(*shape, dtype=self.rate.dtype, device=self.rate.device).clamp(min=finfo_tiny(self.rate))
        return -u.log() / self.rate  # -log(U) is a standard exponential draw

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
