"""Turning a list of samples into a batch (``default_collate``) and NumPy leaves into tensors
(``default_convert``), with torch's rules for every container type.

``collate(batch, collate_fn_map=...)`` is the extensible engine: the map sends an element type to
the function that batches it; containers (mappings, namedtuples, sequences) are walked
recursively.  ``default_collate`` is ``collate`` with ``default_collate_fn_map``.
"""
from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._backend.dtype import from_numpy_dtype
from ..._tensor import Tensor
from ...ops._util import xp_of
from ...ops.creation import as_tensor, tensor
from ...ops.shape import stack
from . import _worker

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

# NumPy dtypes that cannot become tensors: bytes, str, unicode, object
_NP_STR_OBJ = re.compile(r"[SaUO]")

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays and scalars inside ``data`` to tensors, keeping the containers (tuples
    become lists, as in torch).  The collate function used when ``batch_size=None``.

    >>> import numpy as np
    >>> default_convert({"x": np.zeros(2, np.float32), "y": 3})
    {'x': tensor([0., 0.]), 'y': 3}
    """
    if isinstance(data, Tensor):
        return data
    elem_type = type(data)
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if isinstance(data, np.ndarray) and _NP_STR_OBJ.search(data.dtype.str) is not None:
            return data
        return as_tensor(np.asarray(data), device="cpu")  # np.asarray keeps a NumPy scalar's dtype
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        return _rebuild_mapping(data, converted)
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        items = [default_convert(d) for d in data]
        return _rebuild_sequence(data, items)
    return data


def _rebuild_mapping(proto, values: dict):
    """A mapping of ``proto``'s type holding ``values`` (a plain dict if the type can't be built)."""
    if isinstance(proto, collections.abc.MutableMapping):
        clone = copy.copy(proto)
        clone.update(values)
        return clone
    try:
        return type(proto)(values)
    except TypeError:
        return values


def _rebuild_sequence(proto, items: list):
    if isinstance(proto, collections.abc.MutableSequence):
        clone = copy.copy(proto)
        for i, item in enumerate(items):
            clone[i] = item
        return clone
    try:
        return type(proto)(items)
    except TypeError:
        return items


# --- leaf collators -------------------------------------------------------------------------------

def _stack_arrays(arrays: list) -> Tensor | None:
    """Stack raw arrays into a new tensor in one call (the per-batch hot path), with torch's error
    for unequal shapes; ``None`` when they live on different devices (``stack`` then reports it)."""
    first = arrays[0]
    kind = type(first)
    shape = first.shape
    for i, a in enumerate(arrays):
        if type(a) is not kind:
            return None
        if a.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    if kind is np.ndarray and _worker.get_worker_info() is not None:
        # in a worker: stack straight into shared memory, so sending the batch copies nothing more
        out = _worker.shared_empty((len(arrays),) + shape, np.result_type(*arrays))
        if out is not None:
            return Tensor._make(np.stack(arrays, out=out))
    return Tensor._make(xp_of(first).stack(arrays))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    if not any(t._rg for t in batch):  # no autograd to record: stack the arrays directly
        out = _stack_arrays([t._data for t in batch])
        if out is not None:
            return out
    return stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if _NP_STR_OBJ.search(elem.dtype.str) is not None:
        raise TypeError(_ERR.format(elem.dtype))
    if all(type(b) is np.ndarray for b in batch):
        from_numpy_dtype(elem.dtype)  # torch's error for dtypes tensors cannot hold
        return _stack_arrays(batch)
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return as_tensor(np.asarray(batch), device="cpu")  # batches are host data, whatever the default device


def collate_float_fn(batch, *, collate_fn_map=None):
    return Tensor._make(np.array(batch, dtype=np.float64))


def collate_int_fn(batch, *, collate_fn_map=None):
    return tensor(batch)  # ints -> int64, bools -> bool, as torch.tensor


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map: dict | None = None):
    """Batch a list of samples: leaves by ``collate_fn_map`` (matched by exact type first, then by
    ``isinstance``), containers recursively.

    >>> collate([(1, "a"), (2, "b")], collate_fn_map=default_collate_fn_map)
    [tensor([1, 2]), ('a', 'b')]
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = collate_fn_map.get(elem_type)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
        for leaf_type, fn in collate_fn_map.items():
            if isinstance(elem, leaf_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        values = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        return _rebuild_mapping(elem, values)
    if _is_namedtuple(elem):
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch returns tuples of samples as a list of batched fields
        return _rebuild_sequence(elem, columns)
    raise TypeError(_ERR.format(elem_type))


def default_collate(batch):
    """torch's default batching: stack tensors and NumPy arrays along a new first dimension, make
    numbers into tensors (float -> float64, int -> int64, bool -> bool), keep strings as lists,
    and recurse into dicts, namedtuples, tuples and lists (tuples come back as lists).

    >>> import nnbox
    >>> b = default_collate([(nnbox.zeros(2), 0), (nnbox.ones(2), 1)])
    >>> b[0].shape, b[1]
    (torch.Size([2, 2]), tensor([0, 1]))
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
