"""Batch and instance normalization layers with running statistics, over ``F.batch_norm`` /
``F.instance_norm``."""
from __future__ import annotations

import warnings

import numpy as np

from ..._tensor import Tensor
from ...ops import norm as _F
from .. import init
from ..parameter import Parameter
from .linear import _empty
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _NormBase(Module):
    """Parameters (``weight``, ``bias``) and buffers (``running_mean``, ``running_var``,
    ``num_batches_tracked``) shared by batch and instance norm."""

    _version = 2
    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._has_bias = bias
        if affine:
            self.weight = Parameter(_empty((num_features,), device, dtype))
            if bias:
                self.bias = Parameter(_empty((num_features,), device, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _empty((num_features,), device, dtype))
            self.register_buffer("running_var", _empty((num_features,), device, dtype))
            nbt = _empty((), device, dtype)
            self.register_buffer("num_batches_tracked", Tensor._make(nbt._data.astype(np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.affine and self._has_bias}, track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            # checkpoints from before num_batches_tracked existed: start the count at 0
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None and \
                    self.num_batches_tracked.device.type != "meta" else Tensor._make(np.array(0, dtype=np.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        d = self.__dict__  # one lookup per buffer: this runs for every layer on every step
        params, buffers = d["_parameters"], d["_buffers"]
        running_mean, running_var, nbt = buffers["running_mean"], buffers["running_var"], \
            buffers["num_batches_tracked"]
        training = d["training"]
        momentum = d["momentum"]
        factor = 0.0 if momentum is None else momentum
        if training and d["track_running_stats"] and nbt is not None:
            nbt._data += 1
            nbt._vc[0] += 1
            # momentum=None: a cumulative average over all batches seen so far
            factor = 1.0 / float(nbt._data) if momentum is None else momentum
        use_batch_stats = training or (running_mean is None and running_var is None)
        track = not training or d["track_running_stats"]
        return _F.batch_norm(input, running_mean if track else None, running_var if track else None,
                             params["weight"], params["bias"], use_batch_stats, factor, d["eps"])


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) input, PyTorch's ``nn.BatchNorm1d``.

    >>> import nnbox, nnbox.nn as nn
    >>> bn = nn.BatchNorm1d(3)
    >>> bn, bn(nnbox.randn(8, 3)).shape, int(bn.num_batches_tracked)
    (BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True), torch.Size([8, 3]), 1)
    """

    def _check_input_dim(self, input: Tensor) -> None:
        nd = input._data.ndim
        if nd != 2 and nd != 3:
            raise ValueError(f"expected 2D or 3D input (got {nd}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) input, PyTorch's ``nn.BatchNorm2d``.

    >>> import nnbox, nnbox.nn as nn
    >>> nn.BatchNorm2d(4)(nnbox.randn(2, 4, 3, 3)).shape
    torch.Size([2, 4, 3, 3])
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input._data.ndim != 4:
            raise ValueError(f"expected 4D input (got {input._data.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) input."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class _InstanceNorm(_NormBase):
    _nd = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _check_input_dim(self, input: Tensor) -> None:
        nd = self._nd
        if input.dim() not in (nd + 1, nd + 2):
            raise ValueError(f"expected {nd + 1}D or {nd + 2}D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        feature_dim = input.dim() - self._nd - 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match num_features "
                                 f"({self.num_features}), but got: {input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can silence this "
                          "warning by not passing in num_features, which is not used because affine=False",
                          stacklevel=2)
        unbatched = input.dim() == self._nd + 1
        x = input.unsqueeze(0) if unbatched else input
        y = _F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             self.training or not self.track_running_stats,
                             self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L) input."""

    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W) input, PyTorch's ``nn.InstanceNorm2d``.

    >>> import nnbox, nnbox.nn as nn
    >>> nn.InstanceNorm2d(3)(nnbox.randn(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """

    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or (C, D, H, W) input."""

    _nd = 3
