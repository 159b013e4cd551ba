"""The graph being built while a model's forward is traced: names for values, nodes, initializers."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor


def _host(arr) -> np.ndarray:
    return np.ascontiguousarray(arr.get() if hasattr(arr, "get") else arr)


class UnsupportedOp(RuntimeError):
    """An op the ONNX exporter has no translation for."""


class Graph:
    """Values are named by identity: every traced Tensor and its array map to one ONNX value name."""

    def __init__(self, opset: int):
        import onnx  # noqa: PLC0415 - the optional dependency, only for export

        self.onnx = onnx
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}
        self.keep: list = []  # keeps traced objects alive so their ids are not reused
        self.count = 0
        self.constant: set[str] = set()  # values computed from constants only (never from an input)

    # --- names ------------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"/{hint}_{self.count}"

    def bind(self, obj, name: str) -> None:
        self.keep.append(obj)
        self.names[id(obj)] = name
        if isinstance(obj, Tensor):
            self.keep.append(obj._data)
            self.names[id(obj._data)] = name

    def value(self, v, dtype=None) -> str:
        """The name of a traced Tensor/array, or of a new constant holding ``v``."""
        if v is None:
            return ""
        name = self.names.get(id(v))
        if name is None and isinstance(v, Tensor):
            name = self.names.get(id(v._data))
        if name is not None:
            return name
        arr = v._data if isinstance(v, Tensor) else v
        weight = getattr(self, "weights", {}).get(id(arr))
        if weight is not None:  # a parameter or buffer, named by its state_dict key, on first use
            wname, t = weight
            if self.export_params:
                self.initializers.append(self.onnx.numpy_helper.from_array(_host(t._data), wname))
            else:
                self.weight_inputs.append(self.onnx.helper.make_tensor_value_info(
                    wname, self.onnx.helper.np_dtype_to_tensor_dtype(t._data.dtype), list(t.shape)))
            self.bind(t, wname)
            if isinstance(v, Tensor):
                self.bind(v, wname)
            return wname
        if hasattr(arr, "get"):
            arr = arr.get()
        arr = np.asarray(arr, dtype=dtype)
        name = self.const(arr, "const")
        if isinstance(v, (Tensor, np.ndarray)):
            self.bind(v, name)
        return name

    def const(self, arr, hint: str = "const", dtype=None) -> str:
        arr = np.asarray(arr, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        self.constant.add(name)
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), "ints")

    # --- nodes ------------------------------------------------------------------------------------
    def add(self, op: str, inputs: list, n_out: int = 1, **attrs):
        outs = [self.fresh(op) for _ in range(n_out)]
        if all(i in self.constant for i in inputs if i):
            self.constant.update(outs)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs, name=outs[0].lstrip("/"), **attrs))
        return outs[0] if n_out == 1 else outs

    def reduce(self, op: str, x: str, axes, keepdims: bool) -> str:
        """ReduceMean/Max/... : axes an attribute before opset 18, an input from 18 (ReduceSum: 13)."""
        axes = [int(a) for a in axes]
        if op == "ReduceSum" or self.opset >= 18:
            return self.add(op, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.add(op, [x], axes=axes, keepdims=int(keepdims))
