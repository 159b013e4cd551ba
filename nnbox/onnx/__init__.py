"""``nnbox.onnx.export``: write a model as an ONNX file (needs the ``onnx`` package: ``pip install
'nnbox[onnx]'``).

Export traces: it runs the model's forward once on the example ``args`` (in eval mode, without
gradients) and records every nnbox op it calls, with the arguments the op received; each op has a
translation into ONNX nodes (``nnbox/onnx/_ops.py``).  Parameters and buffers become initializers
named by their ``state_dict`` keys; any other tensor the forward reads (a mask, a zeros state) is
a constant.  As with torch's tracer, Python control flow is frozen at the traced path, and shapes
computed in Python are constants (``dynamic_axes`` marks dims of the graph's inputs and outputs as
symbolic; reshapes keep a leading batch dim symbolic).  An op without a translation stops the
export with an ``UnsupportedOp`` error naming it.

>>> import io, nnbox, nnbox.nn as nn
>>> buf = io.BytesIO()
>>> proto = nnbox.onnx.export(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), (nnbox.randn(1, 4),), buf,
...                           input_names=["x"], output_names=["y"])
>>> [n.op_type for n in proto.graph.node]
['Gemm', 'Relu', 'Identity']
"""
from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import Function
from ._graph import Graph, UnsupportedOp
from ._ops import CONVERTERS

__all__ = ["export", "UnsupportedOp", "is_in_onnx_export"]

DEFAULT_OPSET = 17
_exporting = [False]

# torch.onnx.export arguments that change nothing here (the dynamo/TorchScript machinery, reports)
_IGNORED = ("verbose", "dynamo", "external_data", "report", "optimize", "verify", "profile",
            "dump_exported_program", "artifacts_dir", "do_constant_folding", "autograd_inlining",
            "keep_initializers_as_inputs", "operator_export_type")


def is_in_onnx_export() -> bool:
    """True while ``export`` is tracing a forward (as ``torch.onnx.is_in_onnx_export``)."""
    return _exporting[0]


def export(model, args=(), f=None, *, kwargs: dict | None = None, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, opset_version: int | None = None,
           dynamic_axes: Mapping | None = None, export_params: bool = True, training=None,
           dynamic_shapes=None, custom_translation_table=None, custom_opsets=None,
           export_modules_as_functions=False, **ignored: Any):
    """Export ``model`` (a Module or callable) traced on ``args`` to the ONNX file or file object ``f``;
    returns the ``onnx.ModelProto`` (also when ``f`` is None).  torch's signature: ``input_names``/
    ``output_names`` name the graph's inputs/outputs, ``dynamic_axes`` maps a name to the dims
    (list, or {dim: name}) that vary, ``opset_version`` >= 17 (default 17), ``export_params=False``
    makes the weights graph inputs instead of initializers.
    """
    import onnx  # noqa: PLC0415 - optional dependency
    from onnx import helper  # noqa: PLC0415

    unknown = [k for k in ignored if k not in _IGNORED]
    if unknown:
        raise TypeError(f"export() got an unexpected keyword argument '{unknown[0]}'")
    for name, value in (("dynamic_shapes", dynamic_shapes), ("custom_translation_table", custom_translation_table),
                        ("custom_opsets", custom_opsets), ("export_modules_as_functions", export_modules_as_functions)):
        if value:
            raise NotImplementedError(f"nnbox.onnx.export does not support {name}=; use dynamic_axes= for "
                                      "symbolic dims" if name == "dynamic_shapes" else
                                      f"nnbox.onnx.export does not support {name}=")
    if training is not None and str(training).split(".")[-1] not in ("EVAL", "PRESERVE", "False", "0"):
        raise NotImplementedError("nnbox.onnx.export exports in eval mode only (training=TrainingMode.EVAL)")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < 17:
        raise ValueError(f"nnbox.onnx.export supports opset_version >= 17, got {opset}")
    if not isinstance(args, tuple):
        args = (args,)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # torch's convention: a trailing dict holds keyword args
        kwargs.update(args[-1])
        args = args[:-1]

    g = Graph(opset)
    inputs = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor)]
    in_names = list(input_names or []) + _default_input_names(model, len(inputs))[len(input_names or []):]
    for t, name in zip(inputs, in_names):
        g.bind(t, name)
    weights = {}
    if hasattr(model, "named_parameters"):
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if p is not None:
                weights.setdefault(id(p._data), (name, p))
    g.weights = weights
    g.weight_inputs = []
    g.export_params = export_params

    outputs = _trace(model, args, kwargs, g)
    flat = [o for o in _flatten(outputs) if isinstance(o, Tensor)]
    out_names = list(output_names or []) + _default_output_names(len(flat))[len(output_names or []):]
    for t, name in zip(flat, out_names):
        src = g.value(t)
        g.nodes.append(helper.make_node("Identity", [src], [name], name=f"output_{name}"))

    used = {i for n in g.nodes for i in n.input}
    for name in in_names[:len(inputs)]:
        if name not in used:
            warnings.warn(f"nnbox.onnx.export: the input {name!r} is not used by the exported graph; if the forward "
                          "read it outside nnbox's ops, its traced value is frozen into the graph", UserWarning,
                          stacklevel=2)
    g.initializers = [t for t in g.initializers if t.name in used]  # constants a translation did not use
    dyn = _dynamic(dynamic_axes)
    graph_inputs = [_info(name, t, dyn.get(name, {})) for t, name in zip(inputs, in_names)]
    graph_inputs += g.weight_inputs
    graph_outputs = [_info(name, t, dyn.get(name, {})) for t, name in zip(flat, out_names)]
    graph = helper.make_graph(g.nodes, type(model).__name__ if hasattr(model, "forward") else "main",
                              graph_inputs, graph_outputs, initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="nnbox")
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))  # readable by older runtimes
    onnx.checker.check_model(proto)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as fh:
                fh.write(data)
        else:
            f.write(data)
    return proto


def _trace(model, args, kwargs, g: Graph):
    """Run the forward with every op call translated as it happens."""
    from ..ops import attention, inplace  # noqa: PLC0415

    orig_apply = Function.__dict__["apply"]
    orig_write = inplace._write
    orig_mask = attention.additive_mask
    raw = orig_apply.__func__

    def apply(cls, *a, **kw):
        out = raw(cls, *a, **kw)
        conv = CONVERTERS.get(cls.__name__)
        if conv is None or not cls._array_api:
            raise UnsupportedOp(f"nnbox.onnx.export cannot export the op {cls.__name__!r} "
                                f"(grad_fn {cls().name() if cls._array_api else cls.__name__}): no ONNX translation")
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        names = conv(g, a, outs)
        for t, name in zip(outs, names):
            if isinstance(t, Tensor) and name:
                g.bind(t, name)
        return out

    def write(self, result):
        res = orig_write(self, result)
        g.bind(self, g.value(result))
        return res

    def additive_mask(mask, dtype, allow_is_true=True):
        # attention turns a bool mask into 0 / -inf with array code, outside any op: translate it
        # here, or a mask that is a graph input would be frozen into the graph
        res = orig_mask(mask, dtype, allow_is_true)
        name = g.names.get(id(mask)) or g.names.get(id(mask._data))
        if name is not None:
            keep = name if allow_is_true else g.add("Not", [name])
            zero, ninf = g.const(np.zeros((), dtype)), g.const(np.asarray(-np.inf, dtype))
            g.bind(res, g.add("Where", [keep, zero, ninf]))
        return res

    was_training = getattr(model, "training", None)
    Function.apply = classmethod(apply)
    inplace._write = write
    attention.additive_mask = additive_mask
    _exporting[0] = True
    try:
        if was_training:
            model.train(False)
        with grad_mode.no_grad():
            return model(*args, **kwargs)
    finally:
        Function.apply = orig_apply
        inplace._write = orig_write
        attention.additive_mask = orig_mask
        _exporting[0] = False
        if was_training:
            model.train(True)


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flatten(o)]
    if isinstance(out, dict):
        return [x for o in out.values() for x in _flatten(o)]
    return [out]


def _default_input_names(model, n: int) -> list:
    try:
        fn = model.forward if hasattr(model, "forward") else model
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = params[:n]
    return names + [f"input_{i}" for i in range(len(names), n)]


def _default_output_names(n: int) -> list:
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def _dynamic(dynamic_axes) -> dict:
    out = {}
    for name, dims in (dynamic_axes or {}).items():
        if isinstance(dims, Mapping):
            out[name] = {int(k): str(v) for k, v in dims.items()}
        else:
            out[name] = {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(dims)}
    return out


def _info(name: str, t: Tensor, dyn: dict):
    from onnx import helper  # noqa: PLC0415

    shape = [dyn.get(i, s) for i, s in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(t._data.dtype)), shape)
