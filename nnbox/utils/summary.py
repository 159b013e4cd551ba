"""``nnbox.utils.summary(model, input_size)``: a torchinfo-like table of a model.

One forward pass on a dummy input (under ``eval()`` and ``no_grad()``, the model's mode restored
afterwards) records, for every module call: output shape, parameters (recursive count), and
multiply-adds.  Totals count each parameter once.  Multiply-add rules (per call):

* ``Linear``: rows x in_features x out_features (rows = output elements / out_features)
* ``ConvNd``: output elements x in_channels/groups x kernel volume
* ``ConvTransposeNd``: input elements x out_channels/groups x kernel volume
* ``RNN``/``LSTM``/``GRU``: steps x batch x sum over layers and directions of
  gates x hidden x (layer input + hidden) (gates: 1, 4, 3); ``RNNCell``... likewise for one step
* affine normalisation layers: one per output element; everything else: 0

>>> import nnbox.nn as nn
>>> from nnbox.utils import summary
>>> stats = summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), (1, 4), verbose=0)
>>> stats.total_params, stats.total_mult_adds
(58, 48)
"""
from __future__ import annotations

import math
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nnbox

_WIDTHS = (40, 25, 15, 15)


@dataclass
class LayerInfo:
    """One row: a module call seen during the forward pass."""

    name: str  # attribute path ("features.0")
    class_name: str
    depth: int
    index: int  # position among its parent's children (1-based), as torchinfo numbers rows
    output_shape: list[int]
    params: int  # recursive, each parameter once
    own_params: int
    trainable: bool
    mult_adds: int
    output_bytes: int
    is_leaf: bool


class ModelStatistics:
    """The result of ``summary``: rows plus totals; ``str()`` is the table."""

    def __init__(self, rows: list[LayerInfo], model, input_bytes: int, model_name: str, depth: int = 3):
        self.summary_list = rows
        self.depth = depth  # rows deeper than this are folded into their ancestor at this depth
        params = list(model.parameters())  # de-duplicated, as torch's parameters()
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.total_mult_adds = sum(r.mult_adds for r in rows)
        self.params_bytes = sum(p.numel() * p.element_size() for p in params)
        self.buffers_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
        # activations kept for backward ~ every leaf layer's output, once forward and once for its gradient
        self.total_output_bytes = 2 * sum(r.output_bytes for r in rows if r.is_leaf)
        self.input_bytes = input_bytes
        self.model_name = model_name

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.total_output_bytes + self.params_bytes + self.buffers_bytes

    def __str__(self) -> str:
        w = _WIDTHS
        line = "=" * sum(w)
        out = [line, _cols(("Layer (type:depth-idx)", "Output Shape", "Param #", "Mult-Adds"), w), line]
        for i, r in enumerate(self.summary_list):
            if r.depth > self.depth:
                continue
            mult_adds = r.mult_adds
            if r.depth == self.depth:  # a folded subtree shows its descendants' work
                for d in self.summary_list[i + 1 :]:
                    if d.depth <= r.depth:
                        break
                    mult_adds += d.mult_adds
            if r.depth == 0:
                label = r.class_name
            else:
                label = _tree_prefix(self.summary_list, i) + f"{r.class_name}: {r.depth}-{r.index}"
            params = f"{r.params:,}" if r.params else "--"
            if r.params and not r.trainable:
                params = f"({r.params:,})"  # torchinfo's mark for frozen parameters
            out.append(_cols((label, str(r.output_shape), params, f"{mult_adds:,}" if mult_adds else "--"), w))
        mb = 1e6
        out += [
            line,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Total mult-adds ({_unit(self.total_mult_adds)[1]}): {_unit(self.total_mult_adds)[0]}",
            line,
            f"Input size (MB): {self.input_bytes / mb:.2f}",
            f"Forward/backward pass size (MB): {self.total_output_bytes / mb:.2f}",
            f"Params size (MB): {self.params_bytes / mb:.2f}",
            f"Buffers size (MB): {self.buffers_bytes / mb:.2f}",
            f"Estimated Total Size (MB): {self.total_bytes / mb:.2f}",
            line,
        ]
        return "\n".join(out)

    __repr__ = __str__


def _unit(n: int):
    for div, name in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if n >= div:
            return f"{n / div:.2f}", name
    return f"{n / 1e6:.2f}", "M"


def _cols(values, widths) -> str:
    return "".join(str(v)[: w - 1].ljust(w) if i < len(widths) - 1 else str(v) for i, (v, w) in enumerate(zip(values, widths)))


def _tree_prefix(rows: list[LayerInfo], i: int) -> str:
    """The tree glyphs before row i: a bar for every ancestor that still has siblings below."""
    d = rows[i].depth
    parts = ["└─" if _is_last_sibling(rows, i) else "├─"]
    j = i
    for level in range(d - 1, 0, -1):
        j = next(k for k in range(j - 1, -1, -1) if rows[k].depth == level)  # the ancestor at this level
        parts.append("     " if _is_last_sibling(rows, j) else "│    ")
    return "".join(reversed(parts))


def _is_last_sibling(rows: list[LayerInfo], i: int) -> bool:
    d = rows[i].depth
    for r in rows[i + 1 :]:
        if r.depth < d:
            return True
        if r.depth == d:
            return False
    return True


def _first_tensor(out):
    if isinstance(out, nnbox.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(out, dict):
        return _first_tensor(list(out.values()))
    return None


def _mult_adds(module, inputs, output) -> int:
    nn = nnbox.nn
    out = _first_tensor(output)
    if out is None:
        return 0
    if isinstance(module, nn.Linear):
        return (out.numel() // module.out_features) * module.in_features * module.out_features
    conv_t = tuple(getattr(nn, n) for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d") if hasattr(nn, n))
    conv = tuple(getattr(nn, n) for n in ("Conv1d", "Conv2d", "Conv3d") if hasattr(nn, n))
    if conv_t and isinstance(module, conv_t):
        x = _first_tensor(inputs)
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if conv and isinstance(module, conv):
        return out.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    rnn_gates = {"RNN": 1, "LSTM": 4, "GRU": 3, "RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}
    kind = next((k for k in rnn_gates if hasattr(nn, k) and type(module) is getattr(nn, k)), None)
    if kind is not None:
        gates, hidden = rnn_gates[kind], module.hidden_size
        if kind.endswith("Cell"):
            batch = out.shape[0] if out.dim() == 2 else 1
            return batch * gates * hidden * (module.input_size + hidden)
        x = _first_tensor(inputs)
        steps_x_batch = x.numel() // module.input_size
        dirs = 2 if module.bidirectional else 1
        proj = getattr(module, "proj_size", 0) or hidden
        per_step = 0
        for layer in range(module.num_layers):
            layer_in = module.input_size if layer == 0 else proj * dirs
            per_step += dirs * gates * hidden * (layer_in + proj)
        return steps_x_batch * per_step
    norm_names = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d")
    norms = tuple(getattr(nn, n) for n in norm_names if hasattr(nn, n))
    if norms and isinstance(module, norms) and any(True for _ in module.parameters(recurse=False)):
        return out.numel()
    return 0


def _dummy_inputs(input_size, dtypes, device):
    sizes = input_size
    if isinstance(sizes, (tuple, list)) and sizes and all(isinstance(s, int) for s in sizes):
        sizes = [sizes]
    dtypes = list(dtypes) if dtypes is not None else [nnbox.float32] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"got {len(sizes)} input sizes but {len(dtypes)} dtypes")
    xs = []
    for size, dt in zip(sizes, dtypes):
        if dt.is_floating_point:
            xs.append(nnbox.rand(*size, dtype=dt, device=device))
        else:
            xs.append(nnbox.zeros(*size, dtype=dt, device=device))
    return xs


def summary(
    model,
    input_size: Sequence | None = None,
    dtypes: Sequence | None = None,
    device=None,
    input_data: Any = None,
    verbose: int = 1,
    depth: int = 3,
) -> ModelStatistics:
    """Run ``model`` once on a dummy input of ``input_size`` (batch dimension included, e.g.
    ``(64, 1, 28, 28)``; a list of sizes for several inputs) or on ``input_data``, print the table
    (``verbose=0`` to only return it) and return the ``ModelStatistics``.  The table shows modules
    down to ``depth`` levels (torchinfo's default 3); deeper ones are folded into their ancestor's row.

    >>> import nnbox.nn as nn
    >>> print(summary(nn.Linear(3, 2), (5, 3), verbose=0).total_params)
    8
    """
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else "cpu"
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
    elif input_size is not None:
        inputs = _dummy_inputs(input_size, dtypes, device)
    else:
        raise ValueError("summary needs input_size or input_data")
    names = {id(m): n for n, m in model.named_modules()}
    child_index = {}
    for _, parent in model.named_modules():
        for i, child in enumerate(parent.children(), 1):
            child_index.setdefault(id(child), i)
    depth_of = {id(m): (n.count(".") + 1 if n else 0) for n, m in model.named_modules()}
    rows: list[LayerInfo] = []

    def pre_hook(module, inp):
        # reserve the row at call time so parents come before their children
        rows.append(None)  # type: ignore[arg-type]
        stack.append(len(rows) - 1)

    def hook(module, inp, out):
        slot = stack.pop()
        t = _first_tensor(out)
        params = list(module.parameters())
        own = list(module.parameters(recurse=False))
        rows[slot] = LayerInfo(
            name=names.get(id(module), ""),
            class_name=type(module).__name__,
            depth=depth_of.get(id(module), 0),
            index=child_index.get(id(module), 1),
            output_shape=list(t.shape) if t is not None else [],
            params=sum(p.numel() for p in params),
            own_params=sum(p.numel() for p in own),
            trainable=all(p.requires_grad for p in params) if params else True,
            mult_adds=_mult_adds(module, inp, out),
            output_bytes=(t.numel() * t.element_size()) if t is not None else 0,
            is_leaf=not any(True for _ in module.children()),
        )

    stack: list[int] = []
    handles = []
    for _, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with nnbox.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows = [r for r in rows if r is not None]
    input_bytes = sum(x.numel() * x.element_size() for x in inputs if isinstance(x, nnbox.Tensor))
    stats = ModelStatistics(rows, model, input_bytes, type(model).__name__, depth)
    if verbose:
        print(stats)
    return stats


class _CallableModule(types.ModuleType):
    """``nnbox.utils.summary`` is this module; calling it calls ``summary`` (torchinfo style)."""

    def __call__(self, *args, **kwargs) -> ModelStatistics:
        return summary(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["summary", "ModelStatistics", "LayerInfo"]
