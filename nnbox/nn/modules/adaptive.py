"""``AdaptiveLogSoftmaxWithLoss``: softmax over a large vocabulary split into a head (frequent classes
plus one entry per tail cluster) and smaller tail clusters (Grave et al., "Efficient softmax
approximation for GPUs").  log p(c) = log p_head(c) for shortlist classes, and
log p_head(cluster) + log p_cluster(c) for the others; parameter names and layout are torch's."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._tensor import Tensor
from ...ops.shape import cat
from ...ops.softmax import log_softmax
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax for many classes; ``forward`` returns ``(target log-probabilities, mean NLL)``.

    >>> import nnbox, nnbox.nn as nn
    >>> asm = nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6])
    >>> out = asm(nnbox.randn(4, 8), nnbox.tensor([0, 4, 9, 2]))
    >>> out.output.shape, out.loss.shape
    (torch.Size([4]), torch.Size([]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0, head_bias: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        kw = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, **kw), Linear(hsz, osz, bias=False, **kw)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for seq in self.tail:
            for lin in seq:
                lin.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        targ_dim = target.dim()
        if targ_dim == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input.dim() != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with size",
                                   input.shape)
        elif targ_dim == 0:
            if input.dim() != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs with size",
                                   input.shape)
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = targ_dim > 0
        x = input if batched else input.unsqueeze(0)
        t = np.asarray(target.detach().cpu().numpy(), dtype=np.int64).reshape(-1)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{int(t.min())}, {int(t.max())}] were found. ")
        # which head column each row reads: its own class in the shortlist, else its cluster's entry
        head_col = t.copy()
        output = None
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            rows = np.flatnonzero((t >= low) & (t < high))
            if rows.size == 0:
                continue
            head_col[rows] = self.shortlist_size + i
            rows_t = Tensor._make(rows).to(x.device)
            logp = log_softmax(self.tail[i](x.index_select(0, rows_t)), 1)
            local = logp.gather(1, Tensor._make((t[rows] - low)[:, None]).to(x.device)).squeeze(1)
            part = x.new_zeros(x.shape[0]).index_add(0, rows_t, local)
            output = part if output is None else output + part
        head_logprob = log_softmax(self.head(x), 1)
        picked = head_logprob.gather(1, Tensor._make(head_col[:, None]).to(x.device)).squeeze(1)
        output = picked if output is None else output + picked
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of every class, (N, n_classes) (or (n_classes,) for 1-D input)."""
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        head_logprob = log_softmax(self.head(x), 1)
        parts = [head_logprob[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](x), 1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i: self.shortlist_size + i + 1])
        out = cat(parts, 1)
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row (same as ``log_prob(input).argmax(dim=1)``)."""
        return self.log_prob(input).argmax(dim=-1)
