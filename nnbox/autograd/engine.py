"""The backward engine: one topological walk of the graph, gradients summed per input.

Nodes are ``Function`` instances; an edge is ``(node, output_nr)`` for a non-leaf input, the leaf
Tensor itself for a leaf that requires grad, or ``None``.  Dependencies are counted first so that
every node (and every leaf) runs once, with the sum of all gradients that flow into it.

Two walks: ``run_plain`` serves ``loss.backward()`` of a scalar on the CPU, the call of every
training step, with nothing that the common case never reads (issue 12: a step of small ops spent
a third of its time here); ``run_backward`` serves the rest (``autograd.grad``, ``inputs=``,
``create_graph``, given gradients, several roots, anomaly mode).  tests/test_backward_plain.py
holds them to the same results.
"""
from __future__ import annotations

import numpy as np

from .._backend.fp_errors import quiet as _quiet
from .._backend.fp_errors import restore as _restore
from .anomaly_mode import _anomaly
from .function import _FREED, Function, _fit_to_edges
from .grad_mode import _enabled

_ndarray = np.ndarray
_generic = np.generic
_array = np.array
_new = object.__new__
_base_run_backward, _base_release = Function._run_backward, Function._release  # (subclasses may override)
Tensor = None  # nnbox.Tensor, bound by nnbox/_tensor.py (which imports this package first)


def run_backward(roots, root_grads, retain_graph: bool, inputs=None, accumulate: bool = True,
                 create_graph: bool = False):
    """Backpropagate ``root_grads`` (arrays) from ``roots`` (Tensors).

    With ``inputs`` given, return their gradients (arrays or None), in order; leaves' ``.grad`` is
    written only when ``accumulate`` is true (then only for ``inputs`` if given).

    ``create_graph``: ``root_grads`` are Tensors, every node runs its formula on Tensors with grad
    mode on (``Function._run_backward_graph``), and the gradients returned or stored in ``.grad``
    are Tensors with a graph of their own, ready to be differentiated again.
    """
    prev_mode = _enabled[0]
    _enabled[0] = create_graph  # first-order formulas build no graph
    token = _quiet()  # inf and nan without NumPy's RuntimeWarnings, as in torch
    try:
        return _run(roots, root_grads, retain_graph, inputs, accumulate, _GRAPH if create_graph else _ARRAYS)
    finally:
        _restore(token)
        _enabled[0] = prev_mode


class _Arrays:
    """How the walk treats gradient values in a first-order backward: raw arrays."""

    graph = False

    @staticmethod
    def wrap(g):
        return Tensor._make(g)

    @staticmethod
    def unwrap(t):
        return t._data

    @staticmethod
    def backward(n, grads):
        return n._run_backward(grads)

    @staticmethod
    def array(g):
        return g


class _Graph(_Arrays):
    """... and with ``create_graph=True``: Tensors, each the end of a graph."""

    graph = True

    @staticmethod
    def wrap(g):
        return g

    @staticmethod
    def unwrap(t):
        return t

    @staticmethod
    def backward(n, grads):
        return n._run_backward_graph(grads)

    @staticmethod
    def array(g):
        return g._data


_ARRAYS, _GRAPH = _Arrays(), _Graph()


def run_plain(root, retain_graph: bool) -> None:
    """``root.backward()`` for a scalar ``root`` with a graph, in the common case: NumPy arrays, no
    ``create_graph``, no ``inputs``, no anomaly detection (the caller checked).  The same walk as
    ``_run``, without what only those features read (capture maps, ``mode``), and with each node's
    backward called directly; hooks and retained grads still run where a node has them."""
    d = root._data
    g = _array(1, d.dtype) if d.ndim == 0 else np.ones(d.shape, dtype=d.dtype)  # (np.ones: 5x the time)
    prev_mode = _enabled[0]
    _enabled[0] = False
    token = _quiet()
    try:
        _run_plain(root.grad_fn, root._out_nr, g, retain_graph)
    finally:
        _restore(token)
        _enabled[0] = prev_mode


def _run_plain(n0, out_nr, g0, retain_graph):
    # For every node and every leaf reached from the root: [edges into it still to run, the sum
    # of the gradients that reached it so far] (one dict lookup per edge).  A single-output node's
    # gradient is an array, a multi-output node's a list with one per output.
    state = {n0: [0, None]}
    stack = [n0]
    while stack:
        for e in stack.pop()._edges:
            if e is None:
                continue
            k = e[0] if type(e) is tuple else e
            st = state.get(k)
            if st is None:
                state[k] = [1, None]
                if k is not e:
                    stack.append(k)
            else:
                st[0] += 1
    if n0._n_out == 1:
        state[n0][1] = g0
    else:
        b = state[n0][1] = [None] * n0._n_out
        b[out_nr] = g0

    handed_out = {id(g0)}  # see ``_run``
    ready = [n0]
    while ready:
        n = ready.pop()
        st = state[n]
        grads = st[1]
        st[1] = None  # (freed as soon as it is used)
        edges = n._edges
        res = None
        cls = type(n)
        if grads is not None:
            if n._n_out == 1 and not n._hooked and cls._array_api and cls._run_backward is _base_run_backward:
                # Function._run_backward, inlined for one output
                res = cls.backward(n, grads)
                if type(res) is not tuple:
                    res = (res,)
                if len(res) != len(edges):
                    res = _fit_to_edges(n, res)
            else:
                res = _node_backward(n, [grads] if n._n_out == 1 else grads)
                if res is not None and not cls._array_api:
                    _user_results(res, handed_out)
        if not retain_graph:
            if cls._release is not _base_release:
                n._release()
            elif n._to_save:  # Function._release, inlined
                n._to_save = _FREED
        for e, g in zip(edges, res or (None,) * len(edges)):
            if e is None:
                continue
            if g is not None and type(g) is not _ndarray and isinstance(g, _generic):
                g = np.asarray(g)  # NumPy makes 0-d results scalars; the engine and .grad need arrays
            if type(e) is tuple:
                m = e[0]
                st = state[m]
                if g is not None:
                    if m._n_out == 1:
                        prev = st[1]
                        st[1] = g if prev is None else _sum(prev, g)
                    else:
                        b = st[1]
                        if b is None:
                            b = st[1] = [None] * m._n_out
                        i = e[1]
                        b[i] = g if b[i] is None else _sum(b[i], g)
                c = st[0] = st[0] - 1
                if c == 0:
                    ready.append(m)
                continue
            # a leaf: its gradients are summed until the last edge that reaches it has run
            st = state[e]
            if g is not None:
                prev = st[1]
                st[1] = g if prev is None else _sum(prev, g)
            c = st[0] = st[0] - 1
            if c == 0 and st[1] is not None:
                g = st[1]
                st[1] = None
                data = e._data
                if e._hooks or type(g) is not _ndarray or g.dtype is not data.dtype or g.shape != data.shape:
                    _finish_leaf(e, g, _NOTHING, None, True, None, handed_out)
                    continue
                cur = e._grad  # _finish_leaf's common case, inlined (see there)
                if cur is None:
                    if g.base is not None or id(g) in handed_out or not g.flags.writeable:
                        g = g.copy()
                    handed_out.add(id(g))
                    t = _new(Tensor)  # Tensor._make, inlined
                    t._data = g
                    t._rg = False
                    t._grad = t.grad_fn = t._base = t._hooks = None
                    t._out_nr = 0
                    t._vc = [0]
                    e._grad = t
                else:
                    cur._data += g
                    cur._vc[0] += 1


def _user_results(res, handed_out) -> None:
    """A user Function's backward may return a Tensor the user keeps (a constant, a saved input):
    torch stores a returned gradient as a leaf's ``.grad``, to be accumulated into in place later,
    only when nothing else holds it, so these arrays are copied before they become a ``.grad``."""
    for g in res:
        if g is not None:
            handed_out.add(id(g))


def _node_backward(n, grads):
    """A node's backward in the plain walk when it has hooks, several outputs or its own
    ``_run_backward``: hooks and retained grads first, then the backward, then post-hooks."""
    if n._hooked:
        grads = _run_tensor_hooks(n, grads)
    if len(grads) != 1 and all(g is None for g in grads):
        return None
    res = n._run_backward(grads)
    if "_post_hooks" in n.__dict__:
        _run_post_hooks(n, res, grads)
    return res


def _run(roots, root_grads, retain_graph, inputs, accumulate, mode):
    # Count, for every node and every leaf, the edges that reach it from the roots.
    deps: dict = {}
    stack = []
    for t in roots:
        n = t.grad_fn
        if n is not None and n not in deps:
            deps[n] = 0
            stack.append(n)
    starts = list(stack)
    while stack:
        for e in stack.pop()._edges:
            if e is None:
                continue
            if type(e) is tuple:
                m = e[0]
                if m in deps:
                    deps[m] += 1
                else:
                    deps[m] = 1
                    stack.append(m)
            elif e in deps:
                deps[e] += 1
            else:
                deps[e] = 1

    # What ``inputs`` asks for (autograd.grad, backward(inputs=...)): nothing on the common path.
    capture_leaf = capture_node = _NOTHING
    captured = []
    only = None
    if inputs is not None:
        capture_leaf, capture_node = {}, {}
        for i, t in enumerate(inputs):
            if t.grad_fn is None:
                capture_leaf.setdefault(t, []).append(i)
            else:
                capture_node.setdefault((t.grad_fn, t._out_nr), []).append(i)
        captured = [None] * len(inputs)
        if accumulate:
            only = set(map(id, inputs))
    # ids of arrays that must not become a .grad as they are: ones already stored in some .grad, and
    # the caller's own gradient arrays (y.backward(g) passes g through identity backwards)
    handed_out = set(map(id, root_grads))
    finish = (capture_leaf, captured, accumulate, only, handed_out, mode)

    buffers: dict = {}
    leaf_buf: dict = {}
    for t, g in zip(roots, root_grads):
        n = t.grad_fn
        if n is None:
            _add_leaf(leaf_buf, t, g)
            continue
        b = buffers.get(n)
        if b is None:
            b = buffers[n] = [None] * n._n_out
        i = t._out_nr
        b[i] = g if b[i] is None else _sum(b[i], g)
    ready = []
    for n in starts:
        if deps[n] == 0:
            ready.append(n)
    # leaves that are roots and also reached from the graph wait for their deps
    for t in list(leaf_buf):
        if deps.get(t, 0) == 0:
            _finish_leaf(t, leaf_buf.pop(t), *finish)

    while ready:
        n = ready.pop()
        grads = buffers.pop(n, None)
        edges = n._edges
        in_grads = None
        if grads is not None:
            nd = n.__dict__
            if "_tensor_hooks" in nd or "_pre_hooks" in nd or "_retains" in nd:
                grads = _run_tensor_hooks(n, grads, mode)
            if capture_node:
                for i, g in enumerate(grads):
                    for k in capture_node.get((n, i), ()):
                        captured[k] = g
            if len(grads) == 1 or any(g is not None for g in grads):
                in_grads = n._run_backward(grads) if mode is _ARRAYS else mode.backward(n, grads)
                if mode is _ARRAYS and not type(n)._array_api:
                    _user_results(in_grads, handed_out)
                if _anomaly[0]:
                    _check_anomaly(n, in_grads, mode)
                if "_post_hooks" in nd:
                    _run_post_hooks(n, in_grads, grads, mode)
        if not retain_graph:
            n._release()
        for e, g in zip(edges, in_grads or (None,) * len(edges)):
            if e is None:
                continue
            if type(e) is tuple:
                m, i = e
                if g is not None:
                    b = buffers.get(m)
                    if b is None:
                        b = buffers[m] = [None] * m._n_out
                    b[i] = g if b[i] is None else _sum(b[i], g)
                c = deps[m] - 1
                deps[m] = c
                if c == 0:
                    ready.append(m)
                continue
            # a leaf: its gradients are summed until the last edge that reaches it has run
            c = deps[e] - 1
            deps[e] = c
            if g is not None:
                prev = leaf_buf.pop(e, None)
                if prev is not None:
                    g = _sum(prev, g)
                if c:
                    leaf_buf[e] = g
                else:
                    _finish_leaf(e, g, *finish)
            elif c == 0 and e in leaf_buf:
                _finish_leaf(e, leaf_buf.pop(e), *finish)
    return captured


_NOTHING: dict = {}  # the capture maps when nothing is captured (never written)


def _sum(a, b):
    """``a + b`` for two gradients; NumPy returns a scalar for 0-d operands, keep an array."""
    r = a + b
    return r if type(r) is _ndarray or not isinstance(r, _generic) else np.asarray(r)


def _add_leaf(leaf_buf, t, g):
    prev = leaf_buf.get(t)
    leaf_buf[t] = g if prev is None else _sum(prev, g)


def _finish_leaf(t, g, capture_leaf, captured, accumulate, only, handed_out, mode=_ARRAYS):
    arr = g if mode is _ARRAYS else g._data
    data = t._data
    if arr.shape != data.shape:  # a broadcast that an op did not undo: a bug, fail loudly
        raise RuntimeError(f"gradient shape {tuple(arr.shape)} does not match leaf shape {tuple(data.shape)}")
    if arr.dtype is not data.dtype and arr.dtype != data.dtype:
        if arr.dtype.kind == "c" and data.dtype.kind != "c":  # a real leaf gets the real part
            g = g.real
        g = g.to(t.dtype) if mode.graph else g.astype(data.dtype)
    hooks = t._hooks
    if hooks:
        for fn in list(hooks.values()):
            r = fn(mode.wrap(g))
            if r is not None:
                g = mode.unwrap(r)
    if capture_leaf:
        for k in capture_leaf.get(t, ()):
            captured[k] = g
    if not accumulate or (only is not None and id(t) not in only):
        return
    cur = t._grad
    if mode is not _ARRAYS:  # out of place, as torch: the new .grad is part of a graph
        t._grad = g if cur is None else cur + g
        return
    if cur is None:
        # store an array nobody else holds: views and arrays already handed to another
        # leaf are copied, since a later backward accumulates into .grad in place
        if g.base is not None or id(g) in handed_out or (type(g) is _ndarray and not g.flags.writeable):
            g = g.copy()
        handed_out.add(id(g))
        t._grad = Tensor._make(g)
    else:
        cur._data += g
        cur._vc[0] += 1


def _run_tensor_hooks(n, grads, mode=_ARRAYS):
    nd = n.__dict__
    grads = list(grads)
    wrap, unwrap = mode.wrap, mode.unwrap
    pre = nd.get("_pre_hooks")
    if pre:
        for fn in list(pre.values()):
            r = fn(tuple(None if g is None else wrap(g) for g in grads))
            if r is not None:
                grads = [None if x is None else unwrap(x) for x in r]
    hooks = nd.get("_tensor_hooks")
    if hooks:
        for i, hs in hooks.items():
            if grads[i] is None:
                continue
            for fn in list(hs.values()):
                r = fn(wrap(grads[i]))
                if r is not None:
                    grads[i] = unwrap(r)
    retains = nd.get("_retains")
    if retains:
        for i, ref in retains.items():
            t = ref()
            if t is None or grads[i] is None:
                continue
            if mode.graph:
                t._grad = grads[i] if t._grad is None else t._grad + grads[i]
            elif t._grad is None:
                t._grad = Tensor._make(grads[i].copy())
            else:
                t._grad = Tensor._make(t._grad._data + grads[i])
    return grads


def _run_post_hooks(n, in_grads, grads, mode=_ARRAYS):
    def wrap(gs):
        return tuple(None if g is None else mode.wrap(g) for g in gs)

    for fn in list(n._post_hooks.values()):
        fn(wrap(in_grads), wrap(grads))


def _check_anomaly(n, in_grads, mode=_ARRAYS):
    if not _anomaly[1]:
        return
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        g = mode.array(g)
        if g.dtype.kind not in "fcV":
            continue
        xp = np if type(g) is np.ndarray else __import__("cupy")
        if bool(xp.isnan(g).any()):
            import warnings

            trace = n.__dict__.get("_trace")
            if trace:
                warnings.warn(
                    f"Error detected in {n.name()}. Traceback of forward call that caused the error:\n{trace}",
                    stacklevel=2,
                )
            raise RuntimeError(f"Function '{n.name()}' returned nan values in its {i}th output.")
