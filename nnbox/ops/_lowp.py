"""Low precision at op dispatch: bfloat16 ops computed in float32, and autocast's per-op casts.

``Function.apply`` calls ``mix(cls, args)`` first, once bfloat16 or autocast has been used in this
process (until then a single flag check, so float32 programs pay nothing).  ``mix`` does two things:

1. **autocast**: when ``torch.autocast`` is on for the device of the op's tensors, and the op is in
   torch's cast lists (``_policy.py``), its floating-point tensor arguments are cast to the low dtype
   (matmul, conv, linear ...), to float32 (losses, prod, 3-d pools ...) or to the widest argument
   dtype (cat ...).  The casts are ``Cast`` nodes of the graph, so gradients reach float32
   parameters in float32, as in torch.
2. **bfloat16**: NumPy has no bfloat16 arithmetic of its own (ml_dtypes' element loops round after
   every add, so a sum or a GEMM would accumulate in bfloat16).  torch computes bfloat16 ops in
   float32 and rounds the result once; so does ``nnbox``: an op with bfloat16 arguments runs as a
   subclass of its Function (same node name) whose forward upcasts them to float32 and casts float32
   outputs back to bfloat16, and whose backward does the same for gradients.
"""
from __future__ import annotations

import numpy as np

from .._backend import autocast_state as _ac
from .._backend import dtype as _dt
from ..autograd import function as _function

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_ndarray = np.ndarray
_WRAPPED: dict = {}  # Function class -> its bfloat16-in-float32 subclass
_SKIP: set = set()  # classes that must see bfloat16 as it is (casts, moves, in-place bookkeeping)


def mix(cls, args):
    """The class and arguments ``Function.apply`` should run (see the module docstring)."""
    # (on every op once on: no helper calls on the way through for a float32 op)
    ok = _ELIGIBLE.get(cls)
    if ok is None:
        ok = _ELIGIBLE[cls] = _eligible(cls)
    if not ok:
        return cls, args
    if _ac.any_on[0]:
        args = _autocast_args(cls, args, _function.Tensor)
    bf = _dt.BF16[0]
    if bf is None or ok == 2:
        return cls, args
    for a in args:
        if getattr(getattr(a, "_data", a), "dtype", None) is bf:  # (NumPy and CuPy share dtype objects)
            return _wrapped(cls), args
    return cls, args


_ELIGIBLE: dict = {}  # Function class -> 0: never touched, 1: autocast and bfloat16, 2: autocast only


def _eligible(cls) -> int:
    if "_lowp_of" in cls.__dict__ or not cls._array_api or cls in _SKIP:
        return 0
    return 2 if cls._is_view else 1  # views must share storage: NumPy slices bfloat16 arrays itself


# --- autocast -------------------------------------------------------------------------------------

def autocast_entry(cls, *tensors) -> tuple:
    """``tensors`` cast as autocast casts the arguments of ``cls``, for entry points that check dtypes
    before they dispatch (``linear``, ``conv2d``, ``matmul`` ...); call it only when
    ``autocast_state.any_on[0]`` (so float32 programs pay one flag check).  ``None`` passes through."""
    return _autocast_args(cls, tensors, _function.Tensor)


def autocast_fp32(*tensors) -> tuple:
    """``tensors`` in float32 where autocast is on for their device: the entry of an op of torch's
    float32 list that nnbox builds from several Functions (``cdist``, ``trace``, margin losses ...).
    Call it only when ``autocast_state.any_on[0]``."""
    return _autocast_args(None, tensors, _function.Tensor, "fp32")


def autocast_low(*tensors) -> tuple:
    """``tensors`` in the autocast dtype where autocast is on for their device (see ``autocast_fp32``)."""
    return _autocast_args(None, tensors, _function.Tensor, "low")


def autocast_fp32_cuda(*tensors) -> tuple:
    """``autocast_fp32`` for an op in torch's CUDA float32 list only (``1 / x``): CPU tensors pass."""
    first = next((a for a in tensors if isinstance(a, _function.Tensor)), None)
    if first is None or type(first._data) is _ndarray:
        return tensors
    return _autocast_args(None, tensors, _function.Tensor, "fp32")


def without_autocast(device_types: tuple, fn, *args):
    """``fn(*args)`` with autocast off on ``device_types``: ops torch's lists leave out that nnbox
    computes with a listed Function (``mv``, ``dot``, ``outer``, ``tensordot`` are nnbox ``matmul``
    or ``einsum`` calls).  Call it only when autocast is on for one of them (then ``fn`` must not
    call it again)."""
    was = {d: _ac.STATE[d].enabled for d in device_types}
    for d in device_types:
        _ac.set_enabled(d, False)
    try:
        return fn(*args)
    finally:
        for d, on in was.items():
            _ac.set_enabled(d, on)


def outside_autocast(fn, *args, cuda_promote: bool = False):
    """``fn(*args)`` with autocast off, for an op in none of torch's lists (``outer``) or only in
    its CUDA "promote" list (``dot``, ``tensordot``: then CUDA tensors are promoted first).  Call it
    only when ``autocast_state.any_on[0]``."""
    first = next((a for a in args if isinstance(a, _function.Tensor)), None)
    if cuda_promote and first is not None and type(first._data) is not _ndarray:
        args = _autocast_args(None, args, _function.Tensor, "promote")
    return without_autocast(("cpu", "cuda"), fn, *args)


_BCE_UNSAFE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast."
)


def _autocast_args(cls, args, T, policy=None):
    first = None
    for a in args:
        if isinstance(a, T):
            first = a
            break
    if first is None:
        return args
    dev = "cpu" if type(first._data) is _ndarray else "cuda"
    state = _ac.STATE[dev]
    if not state.enabled:
        return args
    if policy is None:
        from . import _policy

        policy = _policy.policy(cls, dev, args)
    if policy is None:
        return args
    if policy == "refuse":  # torch's CUDA autocast raises for binary_cross_entropy
        raise RuntimeError(_BCE_UNSAFE)
    if policy == "low":
        target = _dt.to_numpy_dtype(state.dtype)
    elif policy == "fp32":
        target = _F32
    else:  # "promote": the widest floating dtype among the arguments (bfloat16 with float16 is float32)
        fl = {a._data.dtype for a in args if isinstance(a, T) and _dt.is_float(a._data.dtype)}
        if len(fl) < 2:
            return args
        target = _F64 if _F64 in fl else _F32
    from .convert import Cast

    out = []
    for a in args:
        if isinstance(a, T):
            d = a._data.dtype
            # torch casts floating tensors only, and leaves float64 alone (except to promote)
            if d != target and _dt.is_float(d) and (d != np.float64 or policy == "promote"):
                a = _cached_cast(a, target, state, Cast)
        out.append(a)
    return tuple(out)


def _cached_cast(t, target, state, Cast):
    # torch caches the low-precision copy of a leaf that requires grad (a parameter) for the
    # autocast region, so that a weight used twice is cast once
    if state.cache_enabled and t._rg and t.grad_fn is None and t._data.dtype == _F32 and target != _F32:
        key = (id(t), t._vc[0], target, _function._enabled[0])
        hit = state.cache.get(key)
        if hit is not None and hit[0] is t:
            return hit[1]
        c = Cast.apply(t, target)
        state.cache[key] = (t, c)
        return c
    return Cast.apply(t, target)


# --- bfloat16 computed in float32 -------------------------------------------------------------------

def _wrapped(cls):
    sub = _WRAPPED.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls,), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
            "_lowp_of": cls, "forward": staticmethod(_forward_for(cls)),
            "backward": staticmethod(_backward_for(cls)), "saved_tensors": property(_saved_tensors),
        })
        _WRAPPED[cls] = sub
    return sub


def _up(a, bf):
    if getattr(a, "dtype", None) == bf and hasattr(a, "astype"):
        return to_float32(a)
    return a


# bfloat16 <-> float32 by their bits (bfloat16 is float32's upper half): bit-identical to ml_dtypes'
# astype (round to nearest even, NaN kept NaN) and faster on large arrays (32768 elements: 3.7 vs
# 9.4 us up, 12.9 vs 22.3 us down); below the sizes where that was measured to pay, astype's one
# call wins
_U16, _U32 = np.dtype(np.uint16), np.dtype(np.uint32)
_BITS_UP, _BITS_DOWN = 4096, 16384


def to_float32(a):
    """A bfloat16 array as float32 (exact)."""
    if type(a) is not _ndarray or a.size < _BITS_UP:
        return a.astype(_F32)
    u = a.view(_U16).astype(_U32)
    u <<= 16
    return u.view(_F32)


def to_bfloat16(a, bf):
    """A float32 array rounded to bfloat16 (nearest, ties to even; NaN stays a quiet NaN)."""
    if type(a) is not _ndarray or a.size < _BITS_DOWN:
        return np.asarray(a).astype(bf) if isinstance(a, np.generic) else a.astype(bf)
    bits = a.view(_U32)
    r = bits >> 16
    r &= 1
    r += 0x7FFF  # add half an ulp (one less on an even mantissa: ties go to even)
    r += bits
    r >>= 16
    out = r.astype(_U16)
    nan = a != a
    if nan.any():  # the rounding add can carry a NaN's payload into the exponent: keep it a NaN
        out[nan] = 0x7FC0 | ((bits[nan] >> 16) & 0x8000)
    return out.view(bf)


def _forward_for(cls):
    fwd = cls.forward

    def forward(ctx, *arrays, **kwargs):
        # (on every bfloat16 op: one loop, no helper calls for small arrays)
        bf = _dt.BF16[0]
        ups = []
        ins = []
        lower = True  # round float32 results to bfloat16, unless a float32 (or wider) array took
        for a in arrays:  # part: then the op's own promotion decided, and its result stays as is
            dt = getattr(a, "dtype", None)
            ins.append(dt)
            if dt is bf:
                ups.append(a.astype(_F32) if type(a) is not _ndarray or a.size < _BITS_UP else to_float32(a))
            else:
                ups.append(a)
                if dt is not None and dt.kind == "f" and a.ndim:
                    lower = False
        ctx._lowp_in = ins
        out = fwd(ctx, *ups, **kwargs)
        # which float32 copies are which input or output (a create_graph backward reconnects them)
        ctx._lowp_ids = (tuple(map(id, ups)), tuple(map(id, out)) if type(out) is tuple else (id(out),))
        if type(out) is tuple:
            return tuple(_down_out(o, arrays, ups, bf, lower) for o in out)
        return _down_out(out, arrays, ups, bf, lower)

    return forward


def _down_out(o, arrays, ups, bf, lower):
    if o is None:
        return o
    for a, u in zip(arrays, ups):
        if o is u:  # the op handed an input back (an identity forward): hand back the original
            return a
    if lower and getattr(o, "dtype", None) == _F32:
        return to_bfloat16(o, bf)
    return o


def _backward_for(cls):
    bwd = cls.backward

    def backward(ctx, *grads):
        bf = _dt.BF16[0]
        if ctx._in_graph:  # create_graph=True: Tensors in and out, the casts are nodes of the new graph
            return _backward_graph(ctx, bwd, grads, bf)
        res = bwd(ctx, *[_up(g, bf) for g in grads])
        single = not isinstance(res, tuple)
        res = (res,) if single else res
        ins = ctx._lowp_in
        out = []
        for i, r in enumerate(res):
            if r is not None and i < len(ins) and ins[i] == bf and getattr(r, "dtype", None) == _F32:
                r = to_bfloat16(r, bf)
            out.append(r)
        return out[0] if single else tuple(out)

    return backward


def _backward_graph(ctx, bwd, grads, bf):
    """The backward formula on Tensors, in float32 (its saved arrays are float32 already), with
    differentiable casts from and back to bfloat16, so the gradient can be differentiated again."""
    from .convert import Cast

    T = _function.Tensor
    saved = ctx._to_save
    if isinstance(saved, tuple):  # (freed: saved_tensors raises torch's error as usual)
        ctx._lowp_graph_saved = _saved_as_graph(ctx, saved, T, Cast)
    try:
        ups = [Cast.apply(g, _F32) if isinstance(g, T) and g._data.dtype == bf else g for g in grads]
        res = bwd(ctx, *ups)
    finally:
        ctx.__dict__.pop("_lowp_graph_saved", None)
    single = not isinstance(res, tuple)
    res = (res,) if single else res
    ins = ctx._lowp_in
    out = []
    for i, r in enumerate(res):
        if isinstance(r, T) and i < len(ins) and ins[i] == bf and r._data.dtype == _F32:
            r = Cast.apply(r, bf)
        out.append(r)
    return out[0] if single else tuple(out)


def _saved_as_graph(ctx, saved, T, Cast) -> tuple:
    """The op's saved float32 copies as Tensors of the graph: a copy of input ``k`` stands for that
    input (a leaf through a float32 cast of it, another node's output as that output), a copy of an
    output for this node's output; anything else is a constant."""
    in_ids, out_ids = ctx._lowp_ids
    edges = ctx._edges
    out = []
    for s in saved:
        if s is None or not hasattr(s, "shape"):
            out.append(s)
            continue
        k = id(s)
        if k in in_ids:
            e = edges[in_ids.index(k)]
            if e is None:
                out.append(T._make(s))
            elif type(e) is tuple:
                out.append(_function._graph_tensor(s, e[0], e[1]))
            else:
                out.append(Cast.apply(e, s.dtype) if e._data.dtype != s.dtype else e)
        elif k in out_ids:
            out.append(_function._graph_tensor(s, ctx, out_ids.index(k)))
        else:
            out.append(T._make(s))
    return tuple(out)


def _saved_tensors(self) -> tuple:
    # a create_graph backward of a bfloat16 op reads the Tensors _backward_graph prepared
    pre = self.__dict__.get("_lowp_graph_saved")
    return pre if pre is not None else _function.Function.saved_tensors.fget(self)


def _turn_on() -> None:
    """From now on every ``Function.apply`` passes through ``mix`` (bfloat16 or autocast was used)."""
    _function._mix = mix
    _function._mixed[0] = True


def _register() -> None:
    from . import convert, inplace

    _SKIP.update({convert.Cast, convert.ToDevice})
    for name in ("CopySlices", "ViewOfBase", "_RegionGet", "_RegionPut", "_RegionZero"):
        c = getattr(inplace, name, None)
        if c is not None:
            _SKIP.add(c)
    _dt._on_bf16_load.append(_turn_on)
    _ac.on_enable.append(_turn_on)
    if _dt.BF16[0] is not None:
        _turn_on()
