"""One translation per nnbox op (``Function`` class name): the traced call's arguments, as the op
received them, become ONNX nodes.  ``CONVERTERS[name](g, args, outs)`` returns the output names."""
from __future__ import annotations

import math

import numpy as np

from ._graph import Graph, UnsupportedOp

CONVERTERS: dict = {}


def op(*names):
    def deco(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn
    return deco


def _shape(v) -> tuple:
    return tuple(v.shape)


def _scalar(g: Graph, x, like) -> str:
    """A Python/NumPy number as a constant of the other operand's dtype; anything else by name."""
    if isinstance(x, (bool, int, float, np.generic)):
        dt = like._data.dtype if hasattr(like, "_data") else getattr(like, "dtype", np.float32)
        return g.const(np.asarray(x, dtype=dt), "scalar")
    return g.value(x)


# --- elementwise -------------------------------------------------------------------------------------

def _binary(onnx_op):
    def conv(g: Graph, args, outs):
        a, b = args[0], args[1]
        alpha = args[2] if len(args) > 2 else 1
        na, nb = _scalar(g, a, b), _scalar(g, b, a)
        if alpha != 1:
            nb = g.add("Mul", [nb, _scalar(g, alpha, a if hasattr(a, "_data") else b)])
        return [g.add(onnx_op, [na, nb])]
    return conv


for _n, _o in (("Add", "Add"), ("Sub", "Sub"), ("Mul", "Mul"), ("Div", "Div"), ("Pow", "Pow"),
               ("Maximum", "Max"), ("Minimum", "Min")):
    CONVERTERS[_n] = _binary(_o)

_UNARY = {"Relu": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt",
          "Neg": "Neg", "Abs": "Abs", "Sin": "Sin", "Cos": "Cos", "Erf": "Erf", "Reciprocal": "Reciprocal",
          "Floor": "Floor", "Ceil": "Ceil", "Sign": "Sign"}
for _n, _o in _UNARY.items():
    CONVERTERS[_n] = (lambda o: lambda g, args, outs: [g.add(o, [g.value(args[0])])])(_o)


@op("Gelu")
def _gelu(g, args, outs):
    x = g.value(args[0])
    dt = args[0]._data.dtype
    half = g.add("Mul", [x, g.const(np.asarray(0.5, dt))])
    if args[1] == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.add("Mul", [g.add("Mul", [x, x]), x])
        inner = g.add("Add", [x, g.add("Mul", [x3, g.const(np.asarray(0.044715, dt))])])
        t = g.add("Tanh", [g.add("Mul", [inner, g.const(np.asarray(math.sqrt(2 / math.pi), dt))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.add("Erf", [g.add("Div", [x, g.const(np.asarray(math.sqrt(2.0), dt))])])
    return [g.add("Mul", [half, g.add("Add", [t, g.const(np.asarray(1.0, dt))])])]


@op("LeakyRelu")
def _leaky(g, args, outs):
    return [g.add("LeakyRelu", [g.value(args[0])], alpha=float(args[1]))]


def _softmax_like(onnx_op):
    def conv(g, args, outs):
        return [g.add(onnx_op, [g.value(args[0])], axis=int(args[1]))]
    return conv


CONVERTERS["Softmax"] = _softmax_like("Softmax")
CONVERTERS["LogSoftmax"] = _softmax_like("LogSoftmax")


@op("Cast")
def _cast(g, args, outs):
    from onnx import helper  # noqa: PLC0415

    return [g.add("Cast", [g.value(args[0])], to=helper.np_dtype_to_tensor_dtype(np.dtype(args[1])))]


# --- shape ops ---------------------------------------------------------------------------------------

def _reshape_target(args, outs) -> list:
    """The traced target shape; a leading dim equal to the input's is written as 0 ("keep"), so a
    dynamic batch size survives."""
    shape = list(_shape(outs[0]))
    src = _shape(args[0])
    if shape and src and shape[0] == src[0]:
        shape[0] = 0
    return shape


@op("View", "ReshapeCopy", "Flatten", "Reshape")
def _reshape(g, args, outs):
    return [g.add("Reshape", [g.value(args[0]), g.ints(_reshape_target(args, outs))])]


@op("Permute")
def _permute(g, args, outs):
    return [g.add("Transpose", [g.value(args[0])], perm=[int(a) for a in args[1]])]


@op("Unsqueeze")
def _unsqueeze(g, args, outs):
    return [g.add("Unsqueeze", [g.value(args[0]), g.ints([args[1]])])]


@op("Squeeze")
def _squeeze(g, args, outs):
    axes = args[1] if isinstance(args[1], (tuple, list)) else (args[1],)
    if axes == () or axes is None:
        return [g.add("Squeeze", [g.value(args[0])])]
    return [g.add("Squeeze", [g.value(args[0]), g.ints(axes)])]


@op("Cat")
def _cat(g, args, outs):
    return [g.add("Concat", [g.value(a) for a in args[1:]], axis=int(args[0]))]


@op("Split")
def _split(g, args, outs):
    a, bounds, axis = args
    n = _shape(a)[axis]
    edges = [0] + [int(b) for b in bounds] + [n]
    sizes = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
    res = g.add("Split", [g.value(a), g.ints(sizes)], n_out=len(sizes), axis=int(axis))
    return res if isinstance(res, list) else [res]


@op("Expand")
def _expand(g, args, outs):
    return [g.add("Expand", [g.value(args[0]), g.ints(_shape(outs[0]))])]


@op("Contiguous", "Clone", "Identity", "Alias")
def _identity(g, args, outs):
    return [g.add("Identity", [g.value(args[0])])]


@op("Slice", "GetItem")
def _getitem(g, args, outs):
    a, key = args[0], args[1]
    x = g.value(a)
    if not isinstance(key, tuple):
        key = (key,)
    nd = len(_shape(a))
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    axis = 0
    squeeze = []
    unsq = []
    out_axis = 0
    for k in key:
        if k is Ellipsis:
            skip = nd - n_real
            axis += skip
            out_axis += skip
            continue
        if k is None:
            unsq.append(out_axis)
            out_axis += 1
            continue
        size = _shape(a)[axis]
        if isinstance(k, (int, np.integer)):
            i = int(k) % size
            x = g.add("Slice", [x, g.ints([i]), g.ints([i + 1]), g.ints([axis])])
            squeeze.append(axis)
        elif isinstance(k, slice):
            start, stop, step = k.indices(size)
            if (start, stop, step) != (0, size, 1):
                x = g.add("Slice", [x, g.ints([start]), g.ints([stop]), g.ints([axis]), g.ints([step])])
            out_axis += 1
        elif hasattr(k, "dtype") and k.dtype.kind in "iu" and k.ndim == 1 and n_real == 1:
            x = g.add("Gather", [x, g.value(np.asarray(k, dtype=np.int64) % size)], axis=axis)
            out_axis += 1
        else:
            raise UnsupportedOp("nnbox.onnx.export cannot export this indexing (advanced/boolean index "
                                f"{type(k).__name__}); use index_select or gather")
        axis += 1
    if squeeze:
        x = g.add("Squeeze", [x, g.ints(squeeze)])
    if unsq:
        x = g.add("Unsqueeze", [x, g.ints(unsq)])
    return [x]


# --- reductions --------------------------------------------------------------------------------------

def _axes(a, axes):
    nd = len(_shape(a))
    if axes is None or axes == ():
        return list(range(nd))
    return [int(x) % nd for x in (axes if isinstance(axes, (tuple, list)) else (axes,))]


@op("Mean")
def _mean(g, args, outs):
    return [g.reduce("ReduceMean", g.value(args[0]), _axes(args[0], args[1]), bool(args[2]))]


@op("Sum")
def _sum(g, args, outs):
    return [g.reduce("ReduceSum", g.value(args[0]), _axes(args[0], args[1]), bool(args[2]))]


# --- layers ------------------------------------------------------------------------------------------

@op("Linear")
def _linear(g, args, outs):
    x, w, b = args
    if len(_shape(x)) == 2:
        ins = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        return [g.add("Gemm", ins, transB=1)]
    y = g.add("MatMul", [g.value(x), g.add("Transpose", [g.value(w)], perm=[1, 0])])
    return [g.add("Add", [y, g.value(b)]) if b is not None else y]


@op("MatMul", "Matmul")
def _matmul(g, args, outs):
    return [g.add("MatMul", [g.value(args[0]), g.value(args[1])])]


@op("ConvNd")
def _conv(g, args, outs):
    x, w, b, stride, pads, dilation, groups = args[:7]
    taps = args[7] if len(args) > 7 else None
    wname, kernel = g.value(w), list(_shape(w)[2:])
    if taps is not None:  # nnbox dropped the kernel taps that only ever read padding: slice them off
        starts, ends = [], []
        for i, sl in enumerate(taps):
            start, stop, _ = sl.indices(kernel[i])
            starts.append(start)
            ends.append(stop)
            kernel[i] = stop - start
        wname = g.add("Slice", [wname, g.ints(starts), g.ints(ends), g.ints(range(2, 2 + len(taps)))])
    ins = [g.value(x), wname] + ([g.value(b)] if b is not None else [])
    lo = [int(p[0]) for p in pads]
    hi = [int(p[1]) for p in pads]
    return [g.add("Conv", ins, kernel_shape=kernel, strides=[int(s) for s in stride],
                  pads=lo + hi, dilations=[int(d) for d in dilation], group=int(groups))]


@op("BatchNorm")
def _batch_norm(g, args, outs):
    x, weight, bias, mean, var, training, momentum, eps = args
    if training:
        raise UnsupportedOp("nnbox.onnx.export cannot export BatchNorm in training mode (batch statistics); "
                            "call model.eval() first")
    c = _shape(x)[1]
    dt = x._data.dtype
    w = g.value(weight) if weight is not None else g.const(np.ones(c, dt))
    b = g.value(bias) if bias is not None else g.const(np.zeros(c, dt))
    return [g.add("BatchNormalization", [g.value(x), w, b, g.value(mean), g.value(var)], epsilon=float(eps))]


@op("RowNorm")
def _row_norm(g, args, outs):
    x, weight, bias, rows, aff_shape, w_shape, eps, rms = args
    shape = _shape(x)
    d = math.prod(shape) // rows
    axis = next((k for k in range(len(shape) + 1) if math.prod(shape[k:]) == d), None)
    if rms or axis is None or (weight is not None and tuple(_shape(weight)) != tuple(shape[axis:])):
        return [_row_norm_by_parts(g, x, weight, bias, rows, aff_shape, w_shape, eps, rms)]
    dt = x._data.dtype
    w = g.value(weight) if weight is not None else g.const(np.ones(shape[axis:], dt))
    ins = [g.value(x), w] + ([g.value(bias)] if bias is not None else [])
    return [g.add("LayerNormalization", ins, axis=int(axis), epsilon=float(eps))]


def _row_norm_by_parts(g, x, weight, bias, rows, aff_shape, w_shape, eps, rms) -> str:
    """Group/instance/RMS norm: normalise each of ``rows`` rows, then the per-channel affine."""
    dt = x._data.dtype
    y = g.add("Reshape", [g.value(x), g.ints([rows, -1])])
    if not rms:
        y = g.add("Sub", [y, g.reduce("ReduceMean", y, [1], True)])
    var = g.reduce("ReduceMean", g.add("Mul", [y, y]), [1], True)
    y = g.add("Div", [y, g.add("Sqrt", [g.add("Add", [var, g.const(np.asarray(eps, dt))])])])
    y = g.add("Reshape", [y, g.ints(aff_shape)])
    if weight is not None:
        y = g.add("Mul", [y, g.add("Reshape", [g.value(weight), g.ints(w_shape)])])
    if bias is not None:
        y = g.add("Add", [y, g.add("Reshape", [g.value(bias), g.ints(w_shape)])])
    return g.add("Reshape", [y, g.ints(_shape(x))])


def _pool_attrs(ksize, stride, pads):
    return dict(kernel_shape=[int(k) for k in ksize], strides=[int(s) for s in stride],
                pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads])


@op("MaxPoolNd")
def _max_pool(g, args, outs):
    x, ksize, stride, pads, dilation, out_size = args
    attrs = _pool_attrs(ksize, stride, pads)
    floor = [(n + p[0] + p[1] - d * (k - 1) - 1) // s + 1
             for n, p, d, k, s in zip(_shape(x)[2:], pads, dilation, ksize, stride)]
    ceil = int(list(out_size) != floor)
    res = g.add("MaxPool", [g.value(x)], dilations=[int(d) for d in dilation], ceil_mode=ceil, **attrs)
    return [res] + [None] * (len(outs) - 1)


@op("AvgPoolNd")
def _avg_pool(g, args, outs):
    x, ksize, stride, pads, divisor = args
    attrs = _pool_attrs(ksize, stride, pads)
    full = float(math.prod(ksize))
    div = np.asarray(divisor.get() if hasattr(divisor, "get") else divisor)
    if np.all(div == full):
        return [g.add("AveragePool", [g.value(x)], count_include_pad=1, **attrs)]
    # padding excluded (count_include_pad=False) or a divisor_override: sum then divide by the grid
    s = g.add("AveragePool", [g.value(x)], count_include_pad=1, **attrs)
    s = g.add("Mul", [s, g.const(np.asarray(full, x._data.dtype))])
    return [g.add("Div", [s, g.const(div.astype(x._data.dtype))])]


@op("Embedding")
def _embedding(g, args, outs):
    weight, indices = args[0], args[1]
    return [g.add("Gather", [g.value(weight), g.value(indices)], axis=0)]


@op("Attention", "FlashAttention")  # FlashAttention: the same op, torch's fused-kernel node
def _attention(g, args, outs):
    q, k, v, mask, scale, dropout_p, rng, safe, return_weights = args
    nd = len(_shape(k))
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    s = g.add("MatMul", [g.value(q), g.add("Transpose", [g.value(k)], perm=perm)])
    s = g.add("Mul", [s, g.const(np.asarray(scale, q._data.dtype))])
    if mask is not None:
        s = g.add("Add", [s, g.value(mask)])
    p = g.add("Softmax", [s], axis=-1)
    out = g.add("MatMul", [p, g.value(v)])
    return [out, p] if return_weights else [out]


# --- recurrent layers ---------------------------------------------------------------------------------

_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}  # torch -> ONNX gates


@op("Recurrence")
def _recurrence(g, args, outs):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, reverse, batch_sizes = args
    if w_hr is not None or batch_sizes is not None:
        raise UnsupportedOp("nnbox.onnx.export cannot export LSTM proj_size or packed sequences")
    order = _ORDER[mode]
    G = _shape(w_hh)[0]
    H = G // len(order)
    dt = x._data.dtype

    def gates(t) -> str:  # reorder the gate blocks of a weight/bias, add the direction axis
        name = g.value(t)
        parts = g.add("Split", [name, g.ints([H] * len(order))], n_out=len(order), axis=0) if len(order) > 1 else [name]
        cat = g.add("Concat", [parts[i] for i in order], axis=0) if len(order) > 1 else name
        return g.add("Unsqueeze", [cat, g.ints([0])])

    w = gates(w_ih)
    r = gates(w_hh)
    zeros = g.const(np.zeros((1, G), dt))
    bw = gates(b_ih) if b_ih is not None else zeros
    br = gates(b_hh) if b_hh is not None else zeros
    b = g.add("Concat", [bw, br], axis=1)
    def state(t) -> str:
        # a zero initial state made inside forward (nn.LSTM without hx) is left out: ONNX's default is
        # zeros, and the batch size then stays free for dynamic_axes
        name = g.value(t)
        if name in g.constant and not np.any(np.asarray(t._data.get() if hasattr(t._data, "get") else t._data)):
            return ""
        return g.add("Unsqueeze", [name, g.ints([0])])

    ins = [g.value(x), w, r, b, "", state(h0)]
    attrs = dict(hidden_size=int(H), direction="reverse" if reverse else "forward")
    if mode == "LSTM":
        ins.append(state(c0))
        res = g.add("LSTM", ins, n_out=3, **attrs)
    elif mode == "GRU":
        res = g.add("GRU", ins, n_out=2, linear_before_reset=1, **attrs)
    else:
        res = g.add("RNN", ins, n_out=2, activations=["Tanh" if mode == "RNN_TANH" else "Relu"], **attrs)
    y = g.add("Squeeze", [res[0], g.ints([1])])
    states = [g.add("Squeeze", [s, g.ints([0])]) for s in res[1:]]
    return [y] + states


# --- more pointwise activations and clamps ------------------------------------------------------------

def _c(g, v, like):
    return g.const(np.asarray(v, dtype=like._data.dtype))


@op("Hardtanh", "Clamp")
def _clip(g, args, outs):
    x, lo, hi = args[0], args[1], args[2]
    ins = [g.value(x), _c(g, lo, x) if lo is not None else "", _c(g, hi, x) if hi is not None else ""]
    while ins and ins[-1] == "":
        ins.pop()
    return [g.add("Clip", ins)]


@op("Elu")
def _elu(g, args, outs):
    x, alpha, scale, input_scale = args
    xv = g.value(x)
    neg = g.add("Min", [xv, _c(g, 0, x)])
    e = g.add("Sub", [g.add("Exp", [g.add("Mul", [neg, _c(g, input_scale, x)])]), _c(g, 1, x)])
    y = g.add("Add", [g.add("Mul", [e, _c(g, alpha, x)]), g.add("Relu", [xv])])
    return [g.add("Mul", [y, _c(g, scale, x)]) if scale != 1 else y]


@op("Softplus")
def _softplus(g, args, outs):
    x, beta, threshold = args
    xv = g.value(x)
    bx = g.add("Mul", [xv, _c(g, beta, x)])
    soft = g.add("Div", [g.add("Softplus", [bx]), _c(g, beta, x)])
    return [g.add("Where", [g.add("Greater", [bx, _c(g, threshold, x)]), xv, soft])]


@op("Silu")
def _silu(g, args, outs):
    xv = g.value(args[0])
    return [g.add("Mul", [xv, g.add("Sigmoid", [xv])])]


@op("Mish")
def _mish(g, args, outs):
    xv = g.value(args[0])
    return [g.add("Mul", [xv, g.add("Tanh", [g.add("Softplus", [xv])])])]


@op("Hardsigmoid")
def _hardsigmoid(g, args, outs):
    return [g.add("HardSigmoid", [g.value(args[0])], alpha=1.0 / 6, beta=0.5)]


@op("Hardswish")
def _hardswish(g, args, outs):
    return [g.add("HardSwish", [g.value(args[0])])]


@op("Softsign")
def _softsign(g, args, outs):
    return [g.add("Softsign", [g.value(args[0])])]


@op("Square")
def _square(g, args, outs):
    xv = g.value(args[0])
    return [g.add("Mul", [xv, xv])]


@op("Where")
def _where(g, args, outs):
    cond, a, b = args
    like = a if hasattr(a, "_data") else b
    return [g.add("Where", [g.value(cond), _scalar(g, a, like), _scalar(g, b, like)])]


@op("Amax")
def _amax(g, args, outs):
    a, axes, keepdim, is_max = args
    return [g.reduce("ReduceMax" if is_max else "ReduceMin", g.value(a), _axes(a, axes), bool(keepdim))]


@op("MaxMinDim")
def _max_dim(g, args, outs):
    a, axis, keepdim, is_max = args
    axes = _axes(a, axis)
    vals = g.reduce("ReduceMax" if is_max else "ReduceMin", g.value(a), axes, bool(keepdim))
    idx = g.add("ArgMax" if is_max else "ArgMin", [g.value(a)], axis=axes[0] if axes else 0,
                keepdims=int(bool(keepdim)), select_last_index=0)
    return [vals, idx]


@op("Flip")
def _flip(g, args, outs):
    a, axes = args
    axes = _axes(a, axes)
    n = len(axes)
    big = np.iinfo(np.int64).max
    return [g.add("Slice", [g.value(a), g.ints([-1] * n), g.ints([-big] * n), g.ints(axes), g.ints([-1] * n)])]


@op("Repeat")
def _repeat(g, args, outs):
    a, reps = args
    x = g.value(a)
    extra = len(reps) - len(_shape(a))
    if extra > 0:
        x = g.add("Unsqueeze", [x, g.ints(range(extra))])
    return [g.add("Tile", [x, g.ints(reps)])]


@op("SeparableLinear")
def _separable(g, args, outs):
    """Adaptive average pooling and interpolation: one small matrix per trailing axis."""
    x, mats = args[0], args[1]
    y = g.value(x)
    nd = len(_shape(x))
    for i, m in enumerate(mats):
        ax = nd - len(mats) + i
        perm = [d for d in range(nd) if d != ax] + [ax]
        inv = list(np.argsort(perm))
        arr = np.asarray(m.get() if hasattr(m, "get") else m)
        y = g.add("Transpose", [y], perm=perm)
        y = g.add("MatMul", [y, g.const(np.ascontiguousarray(arr.T))])
        y = g.add("Transpose", [y], perm=[int(p) for p in inv])
    return [y]
