"""Variable-length sequences: ``pad_sequence`` and packing (``PackedSequence``), as ``torch.nn.utils.rnn``.

A ``PackedSequence`` stores the time steps of a batch sorted by decreasing length back to back:
``data[sum(batch_sizes[:t]) : sum(batch_sizes[:t + 1])]`` are the ``batch_sizes[t]`` sequences
still running at step ``t``.  Packing and unpacking are differentiable gathers (index ops), so
gradients flow through them.

>>> import nnbox
>>> from nnbox.nn.utils.rnn import pad_sequence, pack_padded_sequence, pad_packed_sequence
>>> x = pad_sequence([nnbox.ones(3, 2), nnbox.ones(1, 2)], batch_first=True)
>>> x.shape
torch.Size([2, 3, 2])
>>> packed = pack_padded_sequence(x, [3, 1], batch_first=True)
>>> packed.batch_sizes
tensor([2, 1, 1])
>>> pad_packed_sequence(packed, batch_first=True)[1]
tensor([3, 1])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._backend.device import CPU, move
from ..._tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpack_sequence", "unpad_sequence", "invert_permutation"]


class PackedSequence(NamedTuple):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``, as torch's."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        move = (lambda t: None if t is None else t.to(dev))
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda")

    def double(self) -> PackedSequence:
        return self.to(dtype=_float64())

    def float(self) -> PackedSequence:
        return self.to(dtype=_float32())

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _float64():
    from ..._backend import dtype

    return dtype.float64


def _float32():
    from ..._backend import dtype

    return dtype.float32


def _long(arr, like: Tensor | None = None) -> Tensor:
    """An int64 index tensor, on ``like``'s device when given (batch sizes and lengths stay on the CPU)."""
    t = Tensor._make(np.asarray(arr, dtype=np.int64))
    return t.to(like.device) if like is not None and like.is_cuda else t


def _host(arr) -> np.ndarray:
    return move(arr, CPU)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    p = _host(permutation._data)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.shape[0])
    return _long(inv, permutation)


def _batch_sizes(lengths: np.ndarray) -> np.ndarray:
    """Number of sequences still running at each step, lengths sorted in decreasing order."""
    steps = np.arange(int(lengths[0]))
    return (lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _packed_rows(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Row numbers in a (T * B) flattening of the time-major padded batch, in packed order."""
    return np.concatenate([t * batch + np.arange(n) for t, n in enumerate(batch_sizes)]).astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) given each sequence's length."""
    lens = np.asarray(_host(lengths._data) if isinstance(lengths, Tensor) else lengths, dtype=np.int64).reshape(-1)
    if enforce_sorted:
        if np.any(lens[:-1] < lens[1:]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                "if you do not need ONNX exportability."
            )
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _long(order, input)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens.shape[0] != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lens.shape[0]} "
                           f"(batch_size={B})")
    if lens[0] > T:
        raise RuntimeError(f"Expected sequence length to be smaller than or equal to {T}, but got {int(lens[0])}")
    bs = _batch_sizes(lens)
    rows = _packed_rows(bs, B)
    data = input.reshape((T * B,) + tuple(input.shape[2:]))[_long(rows, input)]
    return PackedSequence(data, _long(bs), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Inverse of ``pack_padded_sequence``: the padded batch and each sequence's length (original order)."""
    from ...ops.creation import full
    from ...ops.shape import cat

    data, bs = sequence.data, np.asarray(_host(sequence.batch_sizes._data), dtype=np.int64)
    T, B = bs.shape[0], int(bs[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {T}"
            )
    else:
        total_length = T
    rows = _packed_rows(bs, B)
    # each padded position reads its packed row, or the extra padding row appended at the end
    src = np.full(total_length * B, data.shape[0], dtype=np.int64)
    src[rows] = np.arange(data.shape[0])
    pad_row = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, pad_row])[_long(src, data)].reshape((total_length, B) + tuple(data.shape[1:]))
    lengths = (bs[:, None] > np.arange(B)[None, :]).sum(axis=0).astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[_host(sequence.unsorted_indices._data)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes (L_i, *) into (L_max, B, *) (or (B, L_max, *)), padding with ``padding_value``.

    >>> import nnbox
    >>> from nnbox.nn.utils.rnn import pad_sequence
    >>> pad_sequence([nnbox.tensor([1, 2, 3]), nnbox.tensor([4])], batch_first=True)
    tensor([[1, 2, 3],
            [4, 0, 0]])
    """
    from ...ops.creation import full
    from ...ops.shape import cat, stack

    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        short = longest - s.shape[0]
        if short:
            pad = full((short,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad]) if padding_side == "right" else cat([pad, s])
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = np.asarray(_host(lengths._data) if isinstance(lengths, Tensor) else lengths).reshape(-1)
    return [padded_sequences[i, : int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length tensors (L_i, *)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Inverse of ``pack_sequence``."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
