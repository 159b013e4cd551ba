"""``Function``: one differentiable operation, forward and backward side by side.

Every op in ``nnbox.ops`` is a ``Function`` subclass whose ``forward``/``backward`` take and return
raw arrays (``_array_api = True``): one body serves NumPy and CuPy, and no Tensor is built inside.
User subclasses of ``nnbox.autograd.Function`` get torch's contract instead: forward and backward
see Tensors.  Calling ``apply`` records the call as a node of the graph; the node *is* the ``ctx``.
"""
from __future__ import annotations

import numpy as np

from .._backend.fp_errors import quiet as _quiet
from .._backend.fp_errors import restore as _restore
from . import grad_mode
from .anomaly_mode import _anomaly

_enabled = grad_mode._enabled
_ndarray = np.ndarray
_generic = np.generic
_new = object.__new__
_FREED = object()
_SELF = object()  # "this node" in a saved-tensor version record
Tensor = None  # nnbox.Tensor, bound by nnbox/_tensor.py once defined (it imports this package)
# Mixed precision: False until bfloat16 or autocast is first used, so that ``apply`` pays one list
# lookup for it; then every op passes through ``_mix`` (nnbox/ops/_lowp.py binds it), which casts
# for autocast and runs bfloat16 ops in float32.
_mixed = [False]
_mix = None

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class Function:
    """Base of differentiable operations; subclass it to define your own, as in torch.

    >>> import nnbox
    >>> class Cube(nnbox.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad
    >>> x = nnbox.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward(); x.grad
    tensor([12.])
    """

    _array_api = False  # internal ops set True: forward/backward work on raw arrays
    _is_view = False  # output shares storage (and version counter) with input 0
    _torch_name = None  # grad_fn name when torch's differs from ``<ClassName>Backward0``
    _to_save = ()  # what save_for_backward stored (per instance once called)
    _non_diff = ()  # outputs marked non-differentiable
    # Can the gradient this op's backward computes be differentiated again (create_graph=True)?
    # True: ``backward`` is a formula in ``xp`` and operators only, run on Tensors for a graph.
    # A string: the error to raise when a second backward reaches it (ops torch cannot
    # differentiate twice either).  False: not yet written in that form (an error says so).
    _twice = False
    _in_graph = False  # set while a create_graph backward runs: saved_tensors are then Tensors
    # Has this node tensor hooks, pre- or post-hooks or retained grads (``_tensor_hooks``,
    # ``_pre_hooks``, ``_post_hooks``, ``_retains`` in its __dict__)?  One flag, so that the plain
    # backward walk tests one attribute per node.
    _hooked = False

    # --- the ctx API ---------------------------------------------------------------------------
    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        saved = self._to_save
        if saved is _FREED:
            raise RuntimeError(FREED_MESSAGE)
        checks = self.__dict__.get("_versions")
        if checks:
            for counter, expected, arr, node, out_nr in checks:
                if counter[0] != expected:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified by "
                        f"an inplace operation: [{_describe(self, arr, node, out_nr)} is at version {counter[0]}; expected "
                        f"version {expected} instead. Hint: enable anomaly detection to find the "
                        "operation that failed to compute its gradient, with "
                        "torch.autograd.set_detect_anomaly(True, check_nan=False)."
                    )
        if self._in_graph:
            return _reconnect(self, saved)
        return saved

    def mark_non_differentiable(self, *outputs) -> None:
        self._non_diff = outputs

    def mark_dirty(self, *tensors) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)

    # --- node API ------------------------------------------------------------------------------
    def name(self) -> str:
        # torch's node name, as printed in ``grad_fn=<...>``: per node (``_nm``, set where one class
        # serves several torch ops), per class (``_torch_name``), or derived from the class name
        n = self.__dict__.get("_nm")
        if n is None:
            cls = type(self)  # torch names user Functions ``<Name>Backward``, its own ops ``...Backward0``
            n = cls._torch_name or cls.__name__ + ("Backward0" if cls._array_api else "Backward")
        return n

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    @property
    def next_functions(self) -> tuple:
        out = []
        for e in self._edges:
            if e is None:
                out.append((None, 0))
            elif type(e) is tuple:
                out.append(e)
            else:
                out.append((AccumulateGrad(e), 0))
        return tuple(out)

    def register_hook(self, fn):
        """Run ``fn(grad_inputs, grad_outputs)`` after this node's backward."""
        from ..utils.hooks import RemovableHandle

        hooks = self.__dict__.setdefault("_post_hooks", {})
        self._hooked = True
        handle = RemovableHandle(hooks)
        hooks[handle.id] = fn
        return handle

    def register_prehook(self, fn):
        """Run ``fn(grad_outputs)`` before this node's backward; it may return new grad_outputs."""
        from ..utils.hooks import RemovableHandle

        hooks = self.__dict__.setdefault("_pre_hooks", {})
        self._hooked = True
        handle = RemovableHandle(hooks)
        hooks[handle.id] = fn
        return handle

    # --- the forward dispatcher ---------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        # The hot path of every op: plain loops and locals on purpose, and no helper calls on the
        # common paths (each Python frame costs about as much as an 8x8 add; see
        # benchmarks/bench_ops.py and tests/test_call_counts.py, which counts them).
        T = Tensor
        if _mixed[0]:
            cls, args = _mix(cls, args)
        if _enabled[0]:
            for a in args:
                if isinstance(a, T) and a._rg:
                    return _apply_graph(cls, args, kwargs)
        # No input needs a gradient (or grad mode is off): nothing is built for the graph.
        arrays = []
        on_gpu = False
        for a in args:
            if isinstance(a, T):
                d = a._data
                if type(d) is not _ndarray:
                    on_gpu = True
                arrays.append(d)
            else:
                arrays.append(a)
        if on_gpu:
            arrays = _device_arrays(args, arrays)
        ctx = _new(cls)
        n = len(args)
        ctx.needs_input_grad = _NO_GRAD[n] if n < 8 else (False,) * n
        token = _quiet()  # inf and nan without NumPy's RuntimeWarnings, as in torch
        try:
            if cls._array_api:
                out = cls.forward(ctx, *arrays, **kwargs)
            else:
                out = _user_forward(cls, ctx, args, kwargs)
        finally:
            _restore(token)
        if type(out) is _ndarray and not cls._is_view:  # the common case, inlined
            t = _new(T)
            t._data = out
            t._rg = False
            t._grad = t.grad_fn = t._base = t._hooks = None
            t._out_nr = 0
            t._vc = [0]
            return t
        single = type(out) is not tuple
        outs = (out,) if single else out
        make = T._make
        results = [None if o is None else make(o if type(o) is _ndarray else _to_array(o, arrays)) for o in outs]
        if cls._is_view and isinstance(args[0], T):
            _share_version(args[0], results)
        return results[0] if single else tuple(results)

    @classmethod
    def run(cls, *args, **kwargs):
        """Run this op on raw arrays (no node: the first-order backward of a fused kernel calls its
        backward Function this way, at full speed) or, when any argument is a Tensor (a
        ``create_graph`` backward), as a node of the graph, so the gradient can be differentiated
        again through this Function's own ``backward``.

        >>> import numpy as np, nnbox
        >>> from nnbox.ops.elementwise import Mul
        >>> Mul.run(np.array([2.0]), np.array([3.0]))
        array([6.])
        """
        if _enabled[0] or type(args[0]) is not _ndarray:  # (not in a first-order backward on NumPy)
            for a in args:
                if isinstance(a, Tensor):
                    return cls.apply(*args, **kwargs)
        ctx = _new(cls)
        n = len(args)
        ctx.needs_input_grad = _ALL_GRAD[n] if n < 32 else (True,) * n
        return cls.forward(ctx, *args, **kwargs)

    # --- the backward dispatcher (called by the engine) -----------------------------------------
    def _run_backward(self, grads: list):
        cls = type(self)
        if len(grads) > 1 and any(g is None for g in grads) and self.__dict__.get("_materialize", True):
            grads = _materialize(self, grads)
        if cls._array_api:
            res = cls.backward(self, *grads)
        else:
            res = _user_backward(cls, self, grads)
        if not isinstance(res, tuple):
            res = (res,)
        for g in res:
            if g is not None and type(g) is not _ndarray and isinstance(g, _generic):
                # NumPy turns 0-d results into scalars; the engine and .grad need arrays
                res = tuple(np.asarray(x) if isinstance(x, _generic) else x for x in res)
                break
        return res if len(res) == len(self._edges) else _fit_to_edges(self, res)

    def _run_backward_graph(self, grads: list):
        """``_run_backward`` for ``create_graph=True``: ``grads`` are Tensors and so are the results,
        each with a graph of its own (the engine runs this with grad mode on)."""
        cls = type(self)
        if len(grads) > 1 and any(g is None for g in grads) and self.__dict__.get("_materialize", True):
            arrays = _materialize(self, [None if g is None else g._data for g in grads])
            grads = [Tensor._make(a) if g is None else g for a, g in zip(arrays, grads)]
        if not cls._array_api:
            res = _user_backward_graph(cls, self, grads)
        elif cls._twice is True:
            self._in_graph = True
            try:
                res = cls.backward(self, *grads)
            finally:
                self._in_graph = False
        else:
            res = _backward_once(self, grads)
        if not isinstance(res, tuple):
            res = (res,)
        res = tuple(r if r is None or isinstance(r, Tensor) else Tensor._make(_to_array(r, ())) for r in res)
        return res if len(res) == len(self._edges) else _fit_to_edges(self, res)

    def _release(self) -> None:
        if self._to_save:  # an empty tuple stays: a node that saved nothing can run again
            self._to_save = _FREED

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.")


FunctionCtx = Function  # the ctx *is* the node


class AccumulateGrad:
    """Stands for a leaf in ``grad_fn.next_functions`` (torch prints the same name)."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"

    next_functions = ()


# --- helpers --------------------------------------------------------------------------------------
_NO_GRAD = tuple((False,) * n for n in range(8))
_NO_KW: dict = {}  # the kwargs of an operator's call of _apply_graph (only ever read)
_ALL_GRAD = tuple((True,) * n for n in range(32))


def _share_version(base, results) -> None:
    """Views share their base's version counter (and remember the root they view)."""
    root = base if base._base is None else base._base
    for t in results:
        t._vc = base._vc
        t._base = root
        t._vv = base._vc[0]


def _apply_graph(cls, args, kwargs):
    """``Function.apply`` when grad mode is on and some input requires grad: run the op and record
    its node (the ctx), with an edge per input to its producer."""
    T = Tensor
    arrays = []
    needs = []
    edges = []  # per input: the producing (node, output_nr), the leaf itself, or None
    on_gpu = False
    for a in args:
        if isinstance(a, T):
            d = a._data
            if type(d) is not _ndarray:
                on_gpu = True
            arrays.append(d)
            if a._rg:
                fn = a.grad_fn
                if fn is None:  # a leaf
                    needs.append(True)
                    edges.append(a)
                    continue
                if a._base is not None and getattr(a, "_vv", a._vc[0]) != a._vc[0]:
                    fn = _refresh_view(a)  # its base changed in place since the view was made
                    if not a._rg:
                        needs.append(False)
                        edges.append(None)
                        continue
                needs.append(True)
                edges.append((fn, a._out_nr))
                continue
        else:
            arrays.append(a)
        needs.append(False)
        edges.append(None)
    if True not in needs:  # the only such input was a view whose base no longer requires grad
        return cls.apply(*args, **kwargs)
    if on_gpu:
        arrays = _device_arrays(args, arrays)
    ctx = _new(cls)
    ctx.needs_input_grad = tuple(needs)
    token = _quiet()
    try:
        if cls._array_api:
            out = cls.forward(ctx, *arrays, **kwargs)
        else:
            out = _user_forward(cls, ctx, args, kwargs)
    finally:
        _restore(token)
    ctx._edges = tuple(edges)
    if type(out) is not _ndarray:
        if isinstance(out, _generic):
            out = np.asarray(out)  # NumPy makes 0-d results scalars (a full sum)
        else:
            return _graph_finish(cls, ctx, args, _graph_outputs(ctx, out, arrays), out)
    # one array out: the common case, inlined
    ctx._n_out = 1
    t = _new(T)  # Tensor._make, inlined
    t._data = out
    t._grad = t._base = t._hooks = None
    t._vc = [0]
    t._out_nr = 0
    if out.dtype.kind in "fcV" and not (ctx._non_diff and _is_in(out, ctx._non_diff, out)):
        t._rg = True
        t.grad_fn = ctx
    else:
        t._rg = False
        t.grad_fn = None
    if _anomaly[0] or cls._is_view:
        return _graph_finish(cls, ctx, args, [t], out)
    saved = ctx._to_save
    if saved:
        if cls._array_api:  # _record_versions, inlined for the arrays of an op with one output
            checks = []
            for s in saved:
                if s is None:
                    continue
                if s is out:
                    checks.append((t._vc, 0, s, _SELF, 0))
                    continue
                for a in args:
                    if isinstance(a, T) and a._data is s:
                        checks.append((a._vc, a._vc[0], s, a.grad_fn, a._out_nr))
                        break
            if checks:
                ctx._versions = checks
        else:
            _record_versions(ctx, args, [t], False)
    return t


def _graph_finish(cls, ctx, args, results, out):
    """The rest of ``_apply_graph`` for the less common nodes: several outputs, views, anomaly mode."""
    if _anomaly[0]:
        import traceback

        ctx._trace = "".join(traceback.format_stack()[:-4])
    if cls._is_view and isinstance(args[0], Tensor):
        _share_version(args[0], results)
    if ctx._to_save:
        _record_versions(ctx, args, results, cls._array_api)
    return results[0] if type(out) is not tuple else tuple(results)


def _graph_outputs(ctx, out, arrays) -> list:
    """The output Tensors of a node whose forward returned a tuple (or one non-NumPy array)."""
    single = type(out) is not tuple
    outs = (out,) if single else out
    ctx._n_out = len(outs)
    if not single:
        ctx._out_meta = tuple(None if o is None else (tuple(o.shape), _to_array(o, arrays).dtype) for o in outs)
    non_diff = ctx._non_diff
    results = []
    for i, o in enumerate(outs):
        if o is None:
            results.append(None)
            continue
        arr = o if type(o) is _ndarray else _to_array(o, arrays)
        t = Tensor._make(arr)
        if arr.dtype.kind in "fcV" and not (non_diff and _is_in(arr, non_diff, o)):
            t._rg = True
            t.grad_fn = ctx
            t._out_nr = i
        results.append(t)
    return results


def _is_in(o, non_diff, original) -> bool:
    for n in non_diff:
        if n is o or n is original:
            return True
    return False


def _to_array(o, arrays):
    """An op's output as an array: Tensors (user Functions) unwrapped, NumPy's 0-d scalars made
    arrays again; NumPy and CuPy arrays as they are."""
    if type(o) is _ndarray:
        return o
    if isinstance(o, Tensor):
        return o._data
    if isinstance(o, _generic):
        return np.asarray(o)
    if hasattr(o, "__cuda_array_interface__"):
        return o  # a CuPy array
    return np.asarray(o)


def _device_arrays(args, arrays) -> list:
    """The forward's arrays when some input is on a GPU: all on one device (else torch's error), and
    a CPU 0-d tensor as a host scalar, as it joins cuda ones (CuPy refuses NumPy arrays, even 0-d)."""
    _check_same_device(args)
    return [a[()] if type(a) is _ndarray and a.ndim == 0 else a for a in arrays]


def _check_same_device(args) -> None:
    from .._tensor import Tensor

    devices = []
    for a in args:
        if isinstance(a, Tensor) and (a._data.ndim or type(a._data) is not _ndarray):
            d = a.device
            if d not in devices:
                devices.append(d)
    if len(devices) > 1:
        cuda = next(d for d in devices if d.type == "cuda")
        other = next(d for d in devices if d is not cuda)
        raise RuntimeError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{cuda} and {other}!"
        )


def _record_versions(ctx, args, results, array_api: bool) -> None:
    """Remember the version of every saved tensor so backward can detect in-place changes.

    Each entry is ``(version counter, version now, array, producer node, output number)``; the
    producer is ``_SELF`` for this node's own outputs (no reference cycle) and the message is only
    built if the check fails.  The entries also say where each saved array came from, which a
    ``create_graph`` backward needs (``_reconnect``); nothing more is recorded for it, since this
    runs on every op that saves something.
    """
    checks = []
    T = Tensor
    for s in ctx._to_save:
        if s is None:
            continue
        if array_api:
            for i, t in enumerate(results):
                if t is not None and t._data is s:
                    checks.append((t._vc, t._vc[0], s, _SELF, i))
                    break
            else:
                for a in args:
                    if isinstance(a, T) and a._data is s:
                        checks.append((a._vc, a._vc[0], s, a.grad_fn, a._out_nr))
                        break
        elif isinstance(s, T):
            checks.append((s._vc, s._vc[0], s._data, s.grad_fn, s._out_nr))
    if checks:
        ctx._versions = checks


def _reconnect(ctx, saved) -> tuple:
    """The saved arrays as Tensors of the graph: an input as the Tensor it was (a leaf itself, or a
    Tensor of its producer's output), an output as this node's own output, anything else as a
    constant.  Called while a ``create_graph`` backward runs this node's formula; where each array
    came from is read from the version records ``_record_versions`` made."""
    T = Tensor
    records = ctx.__dict__.get("_versions") or ()
    out = []
    for s in saved:
        if s is None or not hasattr(s, "shape"):
            out.append(s)
            continue
        rec = next((r for r in records if r[2] is s), None)
        if rec is None:  # an intermediate of the forward: a constant of the graph
            out.append(T._make(s))
            continue
        node, out_nr = rec[3], rec[4]
        if node is _SELF:
            out.append(_graph_tensor(s, ctx, out_nr) if s.dtype.kind in "fcV" else T._make(s))
        elif node is not None:
            out.append(_graph_tensor(s, node, out_nr))
        else:  # a leaf that requires grad is used itself, so its gradient reaches .grad
            leaf = next((e for e in ctx._edges if isinstance(e, T) and e._data is s), None)
            out.append(T._make(s) if leaf is None else leaf)
    return tuple(out)


def _graph_tensor(arr, node, out_nr):
    t = Tensor._make(arr)
    t._rg = True
    t.grad_fn = node
    t._out_nr = out_nr
    return t


def _describe(ctx, arr, node, out_nr) -> str:
    """``torch.FloatTensor [2, 3]], which is output 0 of Exp,``: how torch's in-place error names a
    saved tensor (a leaf, or a tensor that needs no grad, gets no ``which is`` part)."""
    from .._tensor_str import legacy_type_name

    head = f"{legacy_type_name(arr.dtype)} {list(arr.shape)}]"
    if node is _SELF:
        node = ctx
    if node is None:
        return head
    return f"{head}, which is output {out_nr} of {_op_name(node)},"


def _op_name(node) -> str:
    """``ExpBackward0`` -> ``Exp``: the forward op's name, as torch prints it in that error."""
    n = node.name()
    k = n.rfind("Backward")
    return n[:k] if k > 0 else n


def _fit_to_edges(node, res: tuple) -> tuple:
    """One gradient per input edge: extra trailing Nones are dropped, any other count is torch's error."""
    n = len(node._edges)
    if len(res) != n:
        if len(res) > n and all(g is None for g in res[n:]):
            return res[:n]
        raise RuntimeError(
            f"function {node.name()} returned an incorrect number of gradients (expected {n}, got {len(res)})"
        )
    return res


def _materialize(node, grads):
    from .._backend.device import array_module

    meta = node._out_meta
    like = next(g for g in grads if g is not None)
    xp = array_module(like)
    return [xp.zeros(meta[i][0], dtype=meta[i][1]) if g is None else g for i, g in enumerate(grads)]


class _NoDoubleBackward(Function):
    """The node of a gradient whose op cannot be differentiated twice: it raises when reached."""

    _torch_name = "NotImplemented"

    def _run_backward(self, grads):
        # torch's "the derivative for 'X' is not implemented." is a NotImplementedError (a
        # RuntimeError subclass); its "derivative for aten::X is not implemented" a RuntimeError
        raise (NotImplementedError if self._message.startswith("the derivative for") else RuntimeError)(self._message)

    _run_backward_graph = _run_backward


def _backward_once(node, grads):
    """A create_graph backward through an op whose formula is not written for Tensors: compute the
    gradient on arrays; a later backward that reaches it raises (torch's behaviour for ops without
    a double backward) rather than silently treating it as a constant."""
    cls = type(node)
    arrays = [None if g is None else g._data for g in grads]
    prev = grad_mode._enabled[0]
    grad_mode._enabled[0] = False
    try:
        res = node._run_backward(arrays)
    finally:
        grad_mode._enabled[0] = prev
    msg = cls._twice if isinstance(cls._twice, str) else (
        f"nnbox cannot differentiate the gradient of {node.name()} yet (its backward is not written "
        "for create_graph=True)")
    out = []
    for r in res:
        if r is None:
            out.append(None)
            continue
        t = Tensor._make(r)
        if prev and r.dtype.kind in "fcV":
            stub = _new(_NoDoubleBackward)
            stub._edges = ()
            stub._n_out = 1
            stub._message = msg
            t._rg = True
            t.grad_fn = stub
        out.append(t)
    return tuple(out)


def _refresh_view(v):
    """``v`` is a view whose base was modified in place after ``v`` was made: re-derive ``v`` from the
    base as it is now, so gradients flow through the in-place op (torch regenerates such views too).
    Returns the new grad_fn (None if the base no longer needs a gradient)."""
    from .views import ViewOfBase, _region_of

    base = v._base
    region = _region_of(base._data, v._data)
    if region is None:
        raise RuntimeError(
            "a view of a non-contiguous tensor was used after its base was modified in place; nnbox "
            "cannot re-derive its gradient: take the view again after the in-place operation"
        )
    new = ViewOfBase.apply(base, region)
    v.grad_fn, v._out_nr, v._rg = new.grad_fn, 0, new._rg
    v._vv = v._vc[0]
    return v.grad_fn


def _user_forward(cls, ctx, args, kwargs):
    from .._tensor import Tensor

    with grad_mode.no_grad():
        if getattr(cls, "setup_context", None) is not None:
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    # keep identity for Tensors returned as-is so mark_non_differentiable(out) works
    if isinstance(out, tuple):
        return tuple(o if (o is None or isinstance(o, Tensor)) else Tensor._make(np.asarray(o)) for o in out)
    return out


def _user_backward_graph(cls, ctx, grads):
    """A user Function's backward under create_graph: Tensors in, Tensors out, graph recorded."""
    res = cls.backward(ctx, *grads)
    if not isinstance(res, tuple):
        res = (res,)
    for r in res:
        if r is not None and not isinstance(r, Tensor):
            raise TypeError(f"{cls.__name__}.backward must return Tensors or None, got {type(r).__name__}")
    return res


def _user_backward(cls, ctx, grads):
    from .._tensor import Tensor

    gin = [None if g is None else Tensor._make(g) for g in grads]
    with grad_mode.no_grad():
        res = cls.backward(ctx, *gin)
    if not isinstance(res, tuple):
        res = (res,)
    out = []
    for r in res:
        if r is None:
            out.append(None)
        elif isinstance(r, Tensor):
            out.append(r._data)
        else:
            raise TypeError(f"{cls.__name__}.backward must return Tensors or None, got {type(r).__name__}")
    return tuple(out)
