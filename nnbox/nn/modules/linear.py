"""Linear layers: ``Identity``, ``Linear``, ``Bilinear``, ``LazyLinear``."""
from __future__ import annotations

import math

from ..._backend import dtype as _dt
from ..._backend.device import as_device, xp_for
from ..._tensor import Tensor
from ...ops.creation import alloc_errors, check_new_shape
from ...ops.linear import bilinear, linear
from .. import init
from ..parameter import Parameter, UninitializedParameter
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear", "LazyLinear"]


def _empty(shape: tuple, device=None, dtype=None) -> Tensor:
    """An uninitialised-looking (zero) tensor of the requested factory kwargs."""
    dt = _dt.get_default_dtype() if dtype is None else dtype
    nd = _dt.to_numpy_dtype(dt)
    check_new_shape(tuple(shape), nd.itemsize)  # Linear(-1, 3): torch's RuntimeError, not NumPy's ValueError
    dev = as_device(device)
    with alloc_errors(shape, nd.itemsize, dev):
        return Tensor._make(xp_for(dev).zeros(shape, dtype=nd))


class Identity(Module):
    """Returns its input; ignores any constructor arguments.

    >>> import nnbox, nnbox.nn as nn
    >>> nn.Identity(54, unused="x")(nnbox.ones(2)).shape
    torch.Size([2])
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b, with torch's default initialisation: W ~ kaiming_uniform_(a=sqrt(5)) (that is
    U(-1/sqrt(in), 1/sqrt(in))), b ~ U(-1/sqrt(in), 1/sqrt(in)).

    >>> import nnbox, nnbox.nn as nn
    >>> fc = nn.Linear(784, 10)
    >>> fc, fc(nnbox.ones(64, 784)).shape
    (Linear(in_features=784, out_features=10, bias=True), torch.Size([64, 10]))
    """

    __constants__ = ["in_features", "out_features"]
    in_features: int
    out_features: int

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y = x1^T A x2 + b, weights ~ U(-1/sqrt(in1), 1/sqrt(in1)).

    >>> import nnbox, nnbox.nn as nn
    >>> nn.Bilinear(2, 3, 4)(nnbox.ones(5, 2), nnbox.ones(5, 3)).shape
    torch.Size([5, 4])
    """

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in1_features, in2_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class LazyLinear(Linear):
    """A ``Linear`` whose ``in_features`` is read from the first input; it then becomes a ``Linear``.

    >>> import nnbox, nnbox.nn as nn
    >>> fc = nn.LazyLinear(3)
    >>> _ = fc(nnbox.ones(2, 5)); fc
    Linear(in_features=5, out_features=3, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        """Materialise the weights for ``input.shape[-1]`` features and initialise them as Linear."""
        if self.has_uninitialized_params():
            with_grad = self.weight.requires_grad
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.weight.requires_grad_(with_grad)
            self.reset_parameters()

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        w = state_dict.get(prefix + "weight")
        if isinstance(w, Tensor) and w.ndim == 2 and self.in_features == 0:
            self.in_features = w.shape[1]

    def forward(self, input: Tensor) -> Tensor:
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
        if not self.has_uninitialized_params():
            self.__class__ = self.cls_to_become  # from now on an ordinary Linear
        return linear(input, self.weight, self.bias)
