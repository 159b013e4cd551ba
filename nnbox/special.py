"""``torch.special``: the special functions nnbox has, under torch.special's names.

>>> import nnbox
>>> nnbox.special.gammaln(nnbox.tensor([4.0]))
tensor([1.7918])
"""
from .ops.elementwise import (  # noqa: F401
    erf,
    exp2,
    expm1,
    log1p,
)
from .ops.elementwise import sigmoid as expit  # noqa: F401
from .ops.reduce import logsumexp  # noqa: F401
from .ops.softmax import log_softmax, softmax  # noqa: F401
from .ops.special import digamma, erfc, erfinv, logit, polygamma, xlogy  # noqa: F401
from .ops.special import lgamma as gammaln  # noqa: F401

psi = digamma
