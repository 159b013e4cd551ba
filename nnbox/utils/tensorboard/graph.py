"""The model graph for TensorBoard's Graphs tab, read from the autograd graph of one forward pass.

torch builds ``add_graph`` from a TorchScript trace.  nnbox records the same information in its
autograd graph: every differentiable op of the forward pass is a node (``AddmmBackward0`` ->
op ``Addmm``), its inputs are the nodes it reads (``next_functions``), parameters are the leaves.
Forward hooks name each op by the module that produced it (``Net/layer1/0/conv1/Convolution``),
which is how TensorBoard groups nodes into collapsible boxes.  Ops that don't take part in
autograd (integer indexing, comparisons) are not recorded and don't appear.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nnbox


def _shape_attr(shape: Sequence[int]):
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    dims = [TensorShapeProto.Dim(size=int(s)) for s in shape]
    return AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))


def _tensors(out) -> list[Any]:
    if isinstance(out, nnbox.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _op_name(node) -> str:
    name = node.name() if hasattr(node, "name") else type(node).__name__
    for suffix in ("Backward0", "Backward1", "Backward"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def _key(fn):
    # a leaf's AccumulateGrad may be a fresh object on each access: key leaves by their tensor
    if type(fn).__name__ == "AccumulateGrad":
        return ("var", id(fn.variable))
    return ("fn", id(fn))


def build_graph(model, input_to_model) -> tuple[Any, list[str]]:
    """(GraphDef, node names) for ``model`` run on ``input_to_model`` (a tensor or a tuple)."""
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.node_def_pb2 import NodeDef
    from tensorboard.compat.proto.versions_pb2 import VersionDef

    root = type(model).__name__
    args = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
    # inputs become leaves that require grad, so the graph starts at them
    leaves = [a.detach().requires_grad_(a.is_floating_point()) if isinstance(a, nnbox.Tensor) else a for a in args]
    scope: dict[Any, str] = {}  # node key -> scope of the innermost module whose forward made it
    shapes: dict[Any, tuple[int, ...]] = {}  # node key -> shape of a module output
    names = {id(m): n for n, m in model.named_modules()}
    keep: list[Any] = []  # hold nodes alive so ids stay unique

    calls: list[set] = []  # the ops each running module call started from (read before it runs:
    # an in-place module such as ReLU(inplace=True) changes its input's grad_fn)

    def pre_hook(module, inputs):
        calls.append({_key(t.grad_fn) for t in _tensors(inputs) if t.grad_fn is not None})

    def hook(module, inputs, output):
        # claim every op between this call's inputs and outputs that no inner module claimed
        # (inner modules' hooks run first): e.g. a residual add lands in its block
        path = names.get(id(module), "")
        here = "/".join([root] + (path.split(".") if path else []))
        stop = calls.pop()
        for t in _tensors(output):
            if t.grad_fn is not None and _key(t.grad_fn) not in shapes:
                shapes[_key(t.grad_fn)] = tuple(t.shape)
        todo = [t.grad_fn for t in _tensors(output) if t.grad_fn is not None]
        visited = set()
        while todo:
            fn = todo.pop()
            key = _key(fn)
            if key in stop or key in visited or key[0] == "var":
                continue
            visited.add(key)
            keep.append(fn)
            scope.setdefault(key, here)
            todo.extend(nxt for nxt, _ in getattr(fn, "next_functions", ()) if nxt is not None)

    handles = [m.register_forward_pre_hook(pre_hook) for _, m in model.named_modules()]
    handles += [m.register_forward_hook(hook) for _, m in model.named_modules()]
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}  # running stats stay untouched
    try:
        with nnbox.enable_grad():
            outputs = _tensors(model(*leaves))
    finally:
        for h in handles:
            h.remove()
        with nnbox.no_grad():
            for k, v in model.named_buffers():
                v.copy_(buffers[k])

    param_names = {id(p): n for n, p in model.named_parameters()}
    input_ids = {id(t): i for i, t in enumerate(leaves) if isinstance(t, nnbox.Tensor)}
    graph = GraphDef(versions=VersionDef(producer=22))
    # 1. walk back from the outputs (iteratively: deep nets exceed Python's recursion limit);
    #    an op no module claimed is drawn inside the scope of the op that consumes it
    order: list[Any] = []
    inputs_of: dict[Any, list[Any]] = {}
    where: dict[Any, str] = {}
    stack = [(t.grad_fn, root) for t in outputs if t.grad_fn is not None]
    while stack:
        fn, consumer_scope = stack.pop()
        key = _key(fn)
        if key in where:
            continue
        order.append(fn)
        where[key] = scope.get(key, consumer_scope)
        inputs_of[key] = [nxt for nxt, _ in getattr(fn, "next_functions", ()) if nxt is not None]
        stack.extend((nxt, where[key]) for nxt in inputs_of[key] if _key(nxt) not in where)
    # 2. one NodeDef per op, named by scope and op, wired to its inputs
    node_name: dict[Any, str] = {}
    counts: dict[str, int] = {}
    for fn in order:
        key = _key(fn)
        if key[0] == "var":
            var = fn.variable
            if id(var) in param_names:
                owner, _, leaf = param_names[id(var)].rpartition(".")
                name, op = "/".join([root] + (owner.split(".") if owner else []) + [leaf]), "Parameter"
            else:
                name, op = f"input/input.{input_ids.get(id(var), len(input_ids))}", "IO Node"
            node_name[key] = name
            graph.node.append(NodeDef(name=name, op=op, attr={"_output_shapes": _shape_attr(var.shape)}))
            continue
        base = f"{where[key]}/{_op_name(fn)}"
        n = counts[base] = counts.get(base, -1) + 1
        node_name[key] = base + (f"_{n}" if n else "")
    for fn in order:
        key = _key(fn)
        if key[0] == "var":
            continue
        nd = NodeDef(name=node_name[key], op=_op_name(fn))
        nd.input.extend(node_name[_key(nxt)] for nxt in inputs_of[key])
        if key in shapes:
            nd.attr["_output_shapes"].CopyFrom(_shape_attr(shapes[key]))
        graph.node.append(nd)
    for i, t in enumerate(outputs):
        out = NodeDef(name=f"output/output.{i}", op="IO Node", attr={"_output_shapes": _shape_attr(t.shape)})
        if t.grad_fn is not None:
            out.input.append(node_name[_key(t.grad_fn)])
        graph.node.append(out)
    return graph, [n.name for n in graph.node]
