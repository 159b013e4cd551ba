"""``SyncBatchNorm``: batch normalization whose statistics cover the whole global batch.

In training with more than one rank, each rank computes per-channel (count, mean, M2 = sum of
squared deviations) of its shard; one ``all_gather`` brings everyone's, combined with the
parallel-variance formula (stable, unlike sum/sum-of-squares).  Backward all-reduces the two
per-channel sums the input gradient needs (sum(dy), sum(dy * xhat)); weight and bias gradients
stay local, as in torch, and ``DistributedDataParallel`` averages them.  In eval mode, or on one
rank, it is exactly ``BatchNorm``.

Unlike torch (CUDA only), CPU tensors work too: the statistics travel over MPI.
"""
from __future__ import annotations

from ..._tensor import Tensor
from ...autograd.function import Function
from ...distributed.reduce_op import ReduceOp
from ...ops import norm as _F
from ...ops._util import xp_of
from ..modules.batchnorm import _BatchNorm
from ..modules.module import Module


class _SyncBatchNormFn(Function):
    """Training-mode batch norm over (N, C, L) with statistics reduced over ``pg``."""

    _array_api = True
    # its backward is a fused kernel with a collective inside; not written for create_graph
    _twice = "nnbox cannot differentiate SyncBatchNorm's gradient again (create_graph=True)"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, pg):
        xp = xp_of(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        m_local = n * x3.shape[2]
        mean_l = _F._chan_sum(x3) / max(m_local, 1)
        dev = x3 - mean_l[:, None]
        m2_l = _F._chan_dot(dev, dev)
        # one all_gather of [count, mean(C), M2(C)] per rank
        mine = xp.concatenate([xp.asarray([m_local], x.dtype), mean_l, m2_l])
        everyone = [xp.empty_like(mine) for _ in range(pg.size())]
        pg.engine(mine).all_gather(everyone, mine, False)
        stats = xp.stack(everyone)
        counts, means, m2s = stats[:, :1], stats[:, 1:1 + c], stats[:, 1 + c:]
        total = float(counts.sum())
        if total <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(x.shape)}")
        mean = (counts * means).sum(0) / total
        var = (m2s + counts * (means - mean) ** 2).sum(0) / total
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat = (x3 - mean[:, None]) * invstd[:, None]
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * total / (total - 1)) * var
        y = xhat * weight[:, None] if weight is not None else xhat.copy()
        if bias is not None:
            y += bias[:, None]
        ctx.x_shape, ctx.total, ctx.pg = x.shape, total, pg
        ctx.save_for_backward(xhat, invstd, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xp = xp_of(gy)
        need = ctx.needs_input_grad
        xhat, invstd, weight = ctx.saved_tensors
        n, c = ctx.x_shape[0], ctx.x_shape[1]
        g3 = gy.reshape(n, c, -1)
        sg = _F._chan_sum(g3)
        sgx = _F._chan_dot(g3, xhat)
        gw = sgx.copy() if need[1] else None  # local, as torch: DDP averages parameter grads
        gb = sg.copy() if need[2] else None
        gx = None
        if need[0]:
            both = xp.concatenate([sg, sgx])
            ctx.pg.engine(both).all_reduce(both, ReduceOp.SUM, False)
            sg_all, sgx_all = both[:c], both[c:]
            k = invstd if weight is None else weight * invstd
            m = ctx.total
            gx = xhat * (-(sgx_all / m) * k)[:, None]
            gx += g3 * k[:, None]
            gx -= (sg_all / m * k)[:, None]
            gx = gx.reshape(ctx.x_shape)
        return gx, gw, gb, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch norm with statistics over all ranks of ``process_group`` (torch's ``nn.SyncBatchNorm``).

    >>> import nnbox, nnbox.nn as nn
    >>> nn.SyncBatchNorm(3)
    SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> nn.SyncBatchNorm(3)(nnbox.randn(4, 3)).shape      # one process: plain batch norm
    torch.Size([4, 3])
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.__dict__["process_group"] = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _group(self):
        """The process group to synchronise over, or None when there is nothing to synchronise."""
        from ...distributed import process_group as P

        if not P.is_initialized():
            return None
        pg = P._resolve(self.process_group)
        return pg if pg is not None and pg.size() > 1 else None

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        pg = self._group() if self.training else None
        if pg is None:
            return super().forward(input)
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"running_mean should contain {input.shape[1]} elements not {self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._vc[0] += 1
            factor = 1.0 / float(self.num_batches_tracked._data) if self.momentum is None else self.momentum
        return _SyncBatchNormFn.apply(input, self.weight, self.bias,
                                      None if self.running_mean is None else self.running_mean._data,
                                      None if self.running_var is None else self.running_var._data,
                                      factor, self.eps, pg)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every ``BatchNorm*d`` in ``module`` by a ``SyncBatchNorm`` sharing its parameters
        and buffers (the module itself is returned when it is not a batch norm).

        >>> import nnbox.nn as nn
        >>> nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
        Sequential(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        )
        """
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group, bias=module._has_bias)
            if module.affine:
                out.weight = module.weight  # the same Parameter objects: optimizers keep working
                if module.bias is not None:
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
