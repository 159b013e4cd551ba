"""Lazy layers: ``LazyConv*``, ``LazyConvTranspose*``, ``LazyBatchNorm*``, ``LazyInstanceNorm*``
(``LazyLinear`` lives with ``Linear``).

A lazy layer is built without its input size; its parameters are ``UninitializedParameter``s until
the first call, which reads the channel count from the input, gives the weights their shapes,
initialises them exactly as the ordinary layer would, and turns the module into that layer
(``LazyConv2d`` becomes ``Conv2d``), as torch does.  Loading a state_dict also gives the weights
their shapes.

>>> import nnbox, nnbox.nn as nn
>>> conv = nn.LazyConv2d(8, 3)
>>> conv
LazyConv2d(0, 8, kernel_size=(3, 3), stride=(1, 1))
>>> conv(nnbox.ones(1, 3, 5, 5)).shape, conv
(torch.Size([1, 8, 3, 3]), Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1)))
"""
from __future__ import annotations

from ..._tensor import Tensor
from ..parameter import UninitializedBuffer, UninitializedParameter
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .module import Module

__all__ = ["LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class LazyModuleMixin:
    """First call: ``initialize_parameters(input)``, then become ``cls_to_become``."""

    cls_to_become = None

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer still waits for its shape."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, UninitializedParameter) for t in tensors)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self._lazy_size() != 0:
            super().reset_parameters()

    def __call__(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
        if not self.has_uninitialized_params():
            self.__class__ = self.cls_to_become  # from now on an ordinary layer
        return Module.__call__(self, input, *args, **kwargs)

    def _materialize(self, shapes: dict) -> None:
        for name, shape in shapes.items():
            t = getattr(self, name)
            if isinstance(t, UninitializedParameter):
                t.materialize(shape)
        self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    def _lazy_init(self, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                   device, dtype, **extra) -> None:
        # built as the ordinary layer with 0 channels (as torch: out_channels is checked against groups
        # only by the convolution itself), then the weights are left shapeless
        self.cls_to_become.__init__(self, 0, 0, kernel_size, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
                                    device=device, dtype=dtype, **extra)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def _lazy_size(self) -> int:
        return self.in_channels

    def initialize_parameters(self, input: Tensor) -> None:
        """Read ``in_channels`` from ``input`` (dim 1, or dim 0 unbatched) and materialise the weights."""
        nd = self._nd
        if input.dim() not in (nd + 1, nd + 2):
            raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {input.shape}")
        c = input.shape[1 if input.dim() == nd + 2 else 0]
        if c % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        self.in_channels = c
        if self.transposed:
            w = (c, self.out_channels // self.groups) + self.kernel_size
        else:
            w = (self.out_channels, c // self.groups) + self.kernel_size
        self._materialize({"weight": w, "bias": (self.out_channels,)})


def _lazy_conv(name: str, base, transposed: bool):
    if transposed:
        def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                     groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                     dtype=None) -> None:
            self._lazy_init(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                            device, dtype, output_padding=output_padding)
    else:
        def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                     bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
            self._lazy_init(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                            device, dtype)
    doc = (f"A ``{base.__name__}`` whose ``in_channels`` is read from the first input; it then becomes "
           f"a ``{base.__name__}``.")
    return type(name, (_LazyConvMixin, base), {"__init__": __init__, "cls_to_become": base, "__doc__": doc,
                                                "__module__": __name__})


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, False)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, False)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, False)
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d, True)
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d, True)
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d, True)


class _LazyNormMixin(LazyModuleMixin):
    def _lazy_init(self, eps, momentum, affine, track_running_stats, device, dtype) -> None:
        self.cls_to_become.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self._buffers["running_mean"] = UninitializedBuffer(device=device, dtype=dtype)
            self._buffers["running_var"] = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked.zero_()  # reset_running_stats waits for the shapes

    def _lazy_size(self) -> int:
        return self.num_features

    def initialize_parameters(self, input: Tensor) -> None:
        """Read ``num_features`` from ``input`` (the channel dim) and materialise weights and statistics."""
        self._check_input_dim(input)
        unbatched = isinstance(self, _InstanceNormLazy) and input.dim() == self._nd + 1
        self.num_features = input.shape[0 if unbatched else 1]
        n = (self.num_features,)
        self._materialize({"weight": n, "bias": n, "running_mean": n, "running_var": n})


class _InstanceNormLazy(_LazyNormMixin):
    pass


def _lazy_norm(name: str, base, defaults: tuple):
    affine0, track0 = defaults
    mixin = _InstanceNormLazy if "Instance" in name else _LazyNormMixin

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = affine0,
                 track_running_stats: bool = track0, device=None, dtype=None) -> None:
        self._lazy_init(eps, momentum, affine, track_running_stats, device, dtype)

    doc = (f"A ``{base.__name__}`` whose ``num_features`` is read from the first input; it then becomes "
           f"a ``{base.__name__}``.")
    return type(name, (mixin, base), {"__init__": __init__, "cls_to_become": base, "__doc__": doc,
                                       "__module__": __name__})


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d, (True, True))
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d, (True, True))
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d, (True, True))
LazyInstanceNorm1d = _lazy_norm("LazyInstanceNorm1d", InstanceNorm1d, (True, True))
LazyInstanceNorm2d = _lazy_norm("LazyInstanceNorm2d", InstanceNorm2d, (True, True))
LazyInstanceNorm3d = _lazy_norm("LazyInstanceNorm3d", InstanceNorm3d, (True, True))
