"""``F.embedding`` and ``F.embedding_bag``: row lookup whose backward scatter-adds into the table.

``sparse=True`` is accepted, but the gradient stays dense: nnbox has no sparse tensor layout, so the
table's ``.grad`` holds what torch's sparse COO gradient holds once ``.to_dense()``-ed (zeros in the
rows not looked up).  Optimizers torch allows with sparse gradients (``SGD``, ``Adagrad``, ``LBFGS``,
``SparseAdam``) give torch's updates; ``SparseAdam`` updates only the rows whose gradient is nonzero.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import Function
from ._util import add_at, xp_of

__all__ = ["embedding", "embedding_bag"]

_LEGACY = {"float32": "Float", "float64": "Double", "float16": "Half", "bool": "Bool", "uint8": "Byte",
           "int8": "Char", "int16": "Short", "bfloat16": "BFloat16"}


class Embedding(Function):
    """weight[indices]; backward adds each output row's gradient into its table row."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.indices = indices  # read as a constant array (saved above too, for the freed-graph check)
        ctx.meta = (weight.shape, weight.dtype, padding_idx, scale_grad_by_freq)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors  # noqa: B018 - raises torch's error if the graph was freed
        if ctx.meta[3] == "sparse":
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        return EmbeddingBackward.run(grad, ctx.indices, ctx.meta), None, None, None


class EmbeddingBackward(Function):
    """The table's gradient: each output row's gradient added into its index's row (torch's
    embedding_dense_backward).  Linear in ``grad``; its backward gathers the rows again."""

    _array_api = True
    _twice = True
    _torch_name = "EmbeddingDenseBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, indices, meta):
        ctx.indices, ctx.meta, ctx.gshape = indices, meta, grad.shape
        shape, dtype, padding_idx, by_freq = meta
        xp = xp_of(grad)
        idx = indices.reshape(-1)
        rows = grad.reshape(-1, shape[1])
        if by_freq:  # scale each row's gradient by 1 / (occurrences of its index in this batch)
            counts = xp.bincount(idx, minlength=shape[0])
            rows = rows / counts[idx][:, None]
        if padding_idx is not None:  # the padding row gets no gradient
            keep = idx != padding_idx
            idx, rows = idx[keep], rows[keep]
        gw = xp.zeros(shape, dtype=dtype)
        add_rows(gw, idx, rows)
        return gw

    @staticmethod
    def backward(ctx, gg):
        from .index import GetItem

        xp = xp_of(gg)
        idx, scale = ctx.rows()
        g = GetItem.run(gg, (idx,))
        if scale is not None:
            g = g * scale
        return xp.reshape(g, ctx.gshape), None, None

    def rows(self):
        """The flat indices, and each row's constant factor (0 for padding) or None.  Like torch's
        embedding double backward, this ignores ``scale_grad_by_freq``."""
        padding_idx = self.meta[2]
        idx = self.indices.reshape(-1)
        if padding_idx is None:
            return idx, None
        return idx, (idx != padding_idx)[:, None]


def add_rows(out, index, rows) -> None:
    """``out[index[k]] += rows[k]`` with repeated indices accumulating, in index order (as torch's
    ``index_add_``).  On the CPU the indices are sorted (stably); when no index repeats more than a few
    times, each round adds every index's next row with one fancy ``+=`` (the indices within a round
    are distinct): 1,120 lookups into 1,000 rows took 75 us against 208 us for summing each run with
    ``np.add.reduceat`` (a per-run loop), which stays for heavily repeated indices."""
    if type(out) is not np.ndarray or index.size == 0:
        add_at(out, index, rows)
        return
    order = np.argsort(index, kind="stable")
    s = index[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    lengths = np.diff(starts, append=s.size)
    if lengths.max() > 8:
        out[s[starts]] += np.add.reduceat(rows[order], starts, axis=0)
        return
    pos, k = starts, 0
    while pos.size:  # round k: the k-th occurrence of every index that has one
        out[s[pos]] += rows[order[pos]]
        k += 1
        pos = starts[lengths > k] + k


def _scatter_extreme(kind: str, out, index, values) -> None:
    """``out[index] = max/min(out[index], values)`` with repeated indices (NumPy ufunc.at / cupyx)."""
    if type(out) is np.ndarray:
        (np.maximum if kind == "max" else np.minimum).at(out, index, values)
    else:
        import cupyx  # noqa: PLC0415 - only reached with CuPy arrays

        (cupyx.scatter_max if kind == "max" else cupyx.scatter_min)(out, index, values)


def _check_indices(indices: Tensor, num: int, what: str = "embedding") -> None:
    d = indices._data
    if d.dtype not in (np.int64, np.int32):
        name = _LEGACY.get(str(d.dtype), str(d.dtype))
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got torch.{name}Tensor instead (while checking arguments for {what})"
        )
    if d.size and (int(d.min()) < 0 or int(d.max()) >= num):
        if what == "embedding_bag":  # torch's embedding_bag names the position and the value
            flat = d.reshape(-1)
            pos = int(((flat < 0) | (flat >= num)).argmax())
            raise RuntimeError(f"Index {pos} of input takes value {int(flat[pos])} which is not in the valid range [0, {num})")
        raise IndexError("index out of range in self")


def _renorm_(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside autograd, the looked-up rows whose norm exceeds ``max_norm``."""
    w = weight._data
    xp = xp_of(w)
    rows = xp.unique(indices._data.reshape(-1))
    sub = w[rows]
    norms = (xp.abs(sub) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)  # torch's epsilon
        w[rows[big]] = sub[big] * scale[:, None].astype(w.dtype)
        weight._vc[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) at the integer ``input``.

    >>> import nnbox
    >>> import nnbox.nn.functional as F
    >>> F.embedding(nnbox.tensor([2, 0]), nnbox.eye(3))
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    num = weight._data.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if weight._data.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    _check_indices(input, num)
    if max_norm is not None:
        with grad_mode.no_grad():
            _renorm_(weight, input, max_norm, norm_type)
    # torch fails only when the gradient is computed: carry the combination to backward
    by_freq = "sparse" if scale_grad_by_freq and sparse else bool(scale_grad_by_freq)
    return Embedding.apply(weight, input._data, padding_idx, by_freq)


class EmbeddingBag(Function):
    """Sum / mean / max of the looked-up rows of each bag (bags given by start offsets)."""

    _array_api = True
    _twice = "the derivative for '_embedding_bag_backward' is not implemented."  # torch's, too

    @staticmethod
    def forward(ctx, weight, idx, seg, n_bags, mode, psw, padding_idx):
        xp = xp_of(weight)
        d = weight.shape[1]
        keep = idx != padding_idx if padding_idx is not None else None
        n_all = idx.shape[0]
        if keep is not None:
            idx, seg = idx[keep], seg[keep]
            psw = psw[keep] if psw is not None else None
        rows = weight[idx]
        if psw is not None:
            rows = rows * psw[:, None]
        counts = xp.bincount(seg, minlength=n_bags).astype(weight.dtype)
        if mode == "max":
            out = xp.full((n_bags, d), -xp.inf, dtype=weight.dtype)
            _scatter_extreme("max", out, seg, rows)
            out[counts == 0] = 0
            # the first row that attains each bag's max takes the gradient
            hit = rows == out[seg]
            winner = xp.full((n_bags, d), rows.shape[0], dtype=np.int64)
            pos = xp.broadcast_to(xp.arange(rows.shape[0])[:, None], rows.shape)
            _scatter_extreme("min", winner, seg, xp.where(hit, pos, rows.shape[0]))
            ctx.winner = winner
        else:
            out = xp.zeros((n_bags, d), dtype=weight.dtype)
            add_at(out, seg, rows)
            if mode == "mean":
                out /= xp.maximum(counts, 1)[:, None]
        ctx.meta = (idx, seg, counts, mode, psw, weight.shape, weight.dtype)
        ctx.keep, ctx.n_all = keep, n_all
        if psw is not None and ctx.needs_input_grad[5]:
            ctx.save_for_backward(weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        idx, seg, counts, mode, psw, shape, dtype = ctx.meta
        xp = xp_of(grad)
        gw = xp.zeros(shape, dtype=dtype)
        if mode == "max":
            winner = ctx.winner
            n = idx.shape[0]
            valid = winner < n
            bag, col = xp.nonzero(valid)
            src = winner[bag, col]
            add_at(gw, (idx[src], col), grad[bag, col])
            return gw, None, None, None, None, None, None
        g = grad[seg]
        if mode == "mean":
            g = g / xp.maximum(counts, 1)[seg][:, None]
        gpsw = None
        if psw is not None:
            if ctx.needs_input_grad[5]:
                (weight,) = ctx.saved_tensors
                part = (weight[idx] * g).sum(axis=1)
                gpsw = xp.zeros(ctx.n_all, dtype=part.dtype)
                if ctx.keep is None:
                    gpsw = part
                else:
                    gpsw[ctx.keep] = part
            g = g * psw[:, None]
        add_rows(gw, idx, g)
        return gw, None, None, None, None, gpsw, None


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """Reduce (sum/mean/max) the embeddings of each bag: 2-D ``input`` rows, or 1-D ``input`` + ``offsets``."""
    if scale_grad_by_freq:
        raise NotImplementedError("nnbox: embedding_bag(scale_grad_by_freq=True) is not supported")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if sparse and mode == "max":
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' "
            f"(got mode='{mode}'). Please open a feature request on GitHub."
        )
    num = weight._data.shape[0]
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    x = input._data
    xp = xp_of(x)
    if x.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        n_bags, length = x.shape
        seg = xp.repeat(xp.arange(n_bags), length)
        idx = x.reshape(-1)
    elif x.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        off = offsets._data.astype(np.int64)
        if off.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if include_last_offset:
            off = off[:-1]
        n_bags = off.shape[0]
        ends = xp.concatenate([off[1:], xp.asarray([x.shape[0]])])
        seg = xp.repeat(xp.arange(n_bags), ends - off)
        idx = x
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {x.ndim}")
    _check_indices(input, num, "embedding_bag")
    if max_norm is not None:
        with grad_mode.no_grad():
            _renorm_(weight, input, max_norm, norm_type)
    psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    return EmbeddingBag.apply(weight, idx.astype(np.int64), seg, n_bags, mode, psw, padding_idx)
