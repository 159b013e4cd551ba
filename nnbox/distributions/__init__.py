"""``torch.distributions``: probability distributions with sampling, reparameterised sampling,
``log_prob``, ``entropy``, moments, argument validation and ``kl_divergence``.

>>> import nnbox
>>> from nnbox.distributions import Normal
>>> d = Normal(nnbox.tensor(0.0, requires_grad=True), 1.0)
>>> x = d.rsample((3,))
>>> x.shape, x.requires_grad
(torch.Size([3]), True)
"""
from . import constraints, transforms  # noqa: F401
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Beta, Dirichlet, Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Laplace, Normal
from .poisson import Poisson
from .transformed_distribution import LogNormal, TransformedDistribution
from .transforms import (  # noqa: F401
    AbsTransform,
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    SoftmaxTransform,
    TanhTransform,
    Transform,
)
from .uniform import Uniform

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Exponential", "Gamma", "Independent",
    "Laplace", "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson",
    "TransformedDistribution", "Uniform", "kl_divergence", "register_kl", "constraints", "transforms",
]
