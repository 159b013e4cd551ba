"""``Gamma``, ``Dirichlet`` and ``Beta``: the gamma family, with reparameterised samples whose
gradients come from ``_gamma_sample`` (implicit differentiation of the gamma CDF)."""
from __future__ import annotations

import nnbox

from ..ops.shape import Size
from . import constraints
from ._gamma_sample import StandardGamma
from .distribution import Distribution
from .utils import broadcast_all, finfo_eps, finfo_tiny

__all__ = ["Gamma", "Dirichlet", "Beta"]


class Gamma(Distribution):
    """Gamma with shape ``concentration`` and inverse scale ``rate``.

    >>> import nnbox
    >>> from nnbox.distributions import Gamma
    >>> Gamma(2.0, 1.0).log_prob(nnbox.tensor(2.0))
    tensor(-1.3069)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        value = StandardGamma.apply(self.concentration.expand(*shape)) / self.rate.expand(*shape)
        value.detach().clamp_(min=finfo_tiny(value))  # a draw divided into the subnormals stays normal, as torch's
        return value

    def log_prob(self, value):
        value = nnbox.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (
            nnbox.xlogy(self.concentration, self.rate)
            + nnbox.xlogy(self.concentration - 1, value)
            - self.rate * value
            - self.concentration.lgamma()
        )

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + c.lgamma() + (1.0 - c) * c.digamma()


class Dirichlet(Distribution):
    """Dirichlet over the simplex of the last dimension of ``concentration``.

    >>> import nnbox
    >>> from nnbox.distributions import Dirichlet
    >>> Dirichlet(nnbox.tensor([1.0, 1.0, 1.0])).log_prob(nnbox.tensor([0.2, 0.3, 0.5]))
    tensor(0.6931)
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape, event_shape = concentration.shape[:-1], concentration.shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        new.concentration = self.concentration.expand(*(tuple(batch_shape) + tuple(self.event_shape)))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        c = self.concentration.expand(*shape)
        # torch's Dirichlet kernel draws and normalises in double whatever the dtype, then rounds
        wide = c.device.type == "cpu" and c.dtype != nnbox.float64
        g = StandardGamma.apply(c.double() if wide else c)
        x = g / g.sum(-1, keepdim=True)
        if wide:
            x = x.to(c.dtype)
        # keep draws strictly inside the simplex, as torch's sampler does: at least the smallest
        # normal number, at most the largest number below 1 (1 - eps/2), in the output dtype
        return x.clamp(min=finfo_tiny(x), max=1 - finfo_eps(x) / 2)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return nnbox.xlogy(c - 1.0, value).sum(-1) + c.sum(-1).lgamma() - c.lgamma().sum(-1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        concentrationm1 = (self.concentration - 1).clamp(min=0.0)
        mode = concentrationm1 / concentrationm1.sum(-1, True)
        mask = (self.concentration < 1).all(dim=-1)
        onehot = nnbox.nn.functional.one_hot(self.concentration.argmax(dim=-1), concentrationm1.shape[-1]).to(mode.dtype)
        return nnbox.where(mask.unsqueeze(-1), onehot, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.size(-1)
        a0 = c.sum(-1)
        return c.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma() - ((c - 1.0) * c.digamma()).sum(-1)


class Beta(Distribution):
    """Beta on [0, 1] with ``concentration1`` (α) and ``concentration0`` (β).

    >>> import nnbox
    >>> from nnbox.distributions import Beta
    >>> Beta(2.0, 2.0).mean
    tensor(0.5000)
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        c1, c0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(nnbox.stack([c1, c0], -1), validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self):
        c = self._dirichlet.concentration[..., 0]
        return c

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=Size()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = nnbox.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()
