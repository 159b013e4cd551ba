"""In-place ops (``add_``, ``mul_``, ``zero_``, ``copy_`` ...) with torch's autograd rules.

An in-place op writes into the tensor's existing array (so views see the change), bumps the version
counter shared with its views, and, when autograd is recording, rebases the tensor onto the node of
the equivalent out-of-place op.  A saved tensor that was overwritten is caught at backward time by
the version check in ``Function.saved_tensors``.
"""
from __future__ import annotations

import numpy as np

from .._backend import dtype as _dt
from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.views import CopySlices, ViewOfBase, _region_of
from . import elementwise as ew
from ._util import shape_str, xp_of


def _type_name(dt: np.dtype) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool", "c": "ComplexFloat"}[dt.kind]


def _check_leaf(self: Tensor) -> None:
    if grad_mode._enabled[0]:
        if self._rg and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base._rg and base.grad_fn is None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation."
            )


def _write(self: Tensor, result: Tensor) -> Tensor:
    """Store ``result`` into ``self`` in place, with torch's shape and dtype checks."""
    src, dst = result._data, self._data
    if src.shape != dst.shape:
        target = np.broadcast_shapes(src.shape, dst.shape) if _bcastable(src.shape, dst.shape) else src.shape
        if target != dst.shape:
            raise RuntimeError(
                f"output with shape {shape_str(dst.shape)} doesn't match the broadcast shape {shape_str(target)}"
            )
    if src.dtype != dst.dtype and not np.can_cast(src.dtype, dst.dtype, "same_kind"):
        raise RuntimeError(
            f"result type {_type_name(src.dtype)} can't be cast to the desired output type {_type_name(dst.dtype)}"
        )
    xp_of(dst).copyto(dst, src, casting="unsafe")
    self._vc[0] += 1
    return self


def _bcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def apply_inplace(self: Tensor, fn, *args, **kwargs) -> Tensor:
    """Run out-of-place ``fn(self, *args)`` and make ``self`` hold the result, torch-style."""
    tracked = grad_mode._enabled[0] and (
        self._rg or any(isinstance(a, Tensor) and a._rg for a in args)
    )
    if not tracked:
        with grad_mode.no_grad():
            return _write(self, fn(self, *args, **kwargs))
    _check_leaf(self)
    base = self._base
    if base is not None and (self.grad_fn is not None or not base._rg):
        return _inplace_on_view(self, base, fn, args, kwargs)
    if base is not None:  # a detached (non-differentiable) view of a tensor that requires grad
        raise RuntimeError(
            "nnbox does not support in-place operations that need a gradient on a detached view of "
            "a tensor that requires grad; use the out-of-place operation instead"
        )
    result = fn(self, *args, **kwargs)
    if result.grad_fn is not None:
        _keep_saved_input(result.grad_fn, self)
    _write(self, result)
    self.grad_fn = result.grad_fn
    self._out_nr = result._out_nr
    self._rg = result._rg
    return self


def _inplace_on_view(self: Tensor, base: Tensor, fn, args, kwargs) -> Tensor:
    region = _region_of(base._data, self._data)
    if region is None:
        raise RuntimeError(
            "nnbox does not support in-place operations that need a gradient on a view of a "
            "non-contiguous tensor; use the out-of-place operation instead"
        )
    result = fn(self, *args, **kwargs)
    if result.grad_fn is not None:
        _keep_saved_input(result.grad_fn, self)
    _write(self, result)  # writes through to the base's memory and bumps the shared version
    new_base = CopySlices.apply(base, result, region)
    base.grad_fn, base._out_nr, base._rg = new_base.grad_fn, 0, new_base._rg
    view = ViewOfBase.apply(base, region)
    self.grad_fn, self._out_nr, self._rg = view.grad_fn, 0, view._rg
    self._vv = self._vc[0]
    return self


def _keep_saved_input(node, self: Tensor) -> None:
    """The op about to overwrite ``self`` saved ``self``'s array for its backward (abs_, pow_, log_
    ...): give it a private copy, as torch does, so the gradient uses the values from before."""
    saved = node._to_save
    arr = self._data
    if saved and any(s is arr for s in saved):
        copy = arr.copy()
        node._to_save = tuple(copy if s is arr else s for s in saved)
        checks = node.__dict__.get("_versions")
        if checks:  # private now: nothing to check, but the record still says where it came from
            vc = self._vc
            node._versions = [c if c[0] is not vc else ([0], 0, copy if c[2] is arr else c[2], c[3], c[4])
                              for c in checks]


def copy_out(out: Tensor, result: Tensor) -> Tensor:
    """Implement ``out=``: torch resizes an ``out`` of the wrong shape; so do we."""
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if out._rg and grad_mode._enabled[0] and (result._rg or out.grad_fn is None):
        raise RuntimeError(
            f"{'add'}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    if out._data.shape != result._data.shape:
        out._data = xp_of(out._data).empty(result._data.shape, dtype=out._data.dtype)
    return _write(out, result.detach())


def _make_inplace(name: str, fn):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return apply_inplace(self, fn, *args, **kwargs)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}``."
    return method


_INPLACE = dict(
    add=ew.add, sub=ew.sub, subtract=ew.sub, mul=ew.mul, multiply=ew.mul, div=ew.div, divide=ew.div,
    true_divide=ew.div, floor_divide=ew.floor_divide, remainder=ew.remainder, fmod=ew.fmod, pow=ew.pow,
    exp=ew.exp, expm1=ew.expm1, log=ew.log, log2=ew.log2, log10=ew.log10, log1p=ew.log1p, sqrt=ew.sqrt,
    rsqrt=ew.rsqrt, reciprocal=ew.reciprocal, sin=ew.sin, cos=ew.cos, tan=ew.tan, tanh=ew.tanh,
    sigmoid=ew.sigmoid, neg=ew.neg, negative=ew.neg, abs=ew.abs, sign=ew.sign, square=ew.square,
    relu=ew.relu, floor=ew.floor, ceil=ew.ceil, trunc=ew.trunc, round=ew.round, frac=ew.frac,
    clamp=ew.clamp, clip=ew.clamp, clamp_min=ew.clamp_min, clamp_max=ew.clamp_max, lerp=ew.lerp,
    atan=ew.atan, asin=ew.asin, acos=ew.acos, sinh=ew.sinh, cosh=ew.cosh, exp2=ew.exp2,
    maximum=ew.maximum, minimum=ew.minimum, eq=ew.eq, ne=ew.ne, lt=ew.lt, le=ew.le, gt=ew.gt, ge=ew.ge,
    logical_and=ew.logical_and, logical_or=ew.logical_or, logical_not=ew.logical_not,
    bitwise_and=ew.bitwise_and, bitwise_or=ew.bitwise_or, bitwise_xor=ew.bitwise_xor,
)
for _name, _fn in _INPLACE.items():
    setattr(Tensor, _name + "_", _make_inplace(_name, _fn))


def _iop(fn):
    def method(self, other):
        return apply_inplace(self, fn, other)

    return method


Tensor.__iadd__ = _iop(ew.add)
Tensor.__isub__ = _iop(ew.sub)
Tensor.__imul__ = _iop(ew.mul)
Tensor.__itruediv__ = _iop(ew.div)
Tensor.__ifloordiv__ = _iop(ew.floor_divide)
Tensor.__imod__ = _iop(ew.remainder)
Tensor.__ipow__ = _iop(ew.pow)
Tensor.__iand__ = _iop(ew.bitwise_and)
Tensor.__ior__ = _iop(ew.bitwise_or)
Tensor.__ixor__ = _iop(ew.bitwise_xor)


# --- fills: overwrite every element, so the result no longer depends on the old values ----------


def _fill(self: Tensor, make) -> Tensor:
    """Overwrite ``self`` with ``make(xp, shape, dtype)`` (no graph: the values are constants)."""
    _check_leaf(self)
    arr = self._data
    xp = xp_of(arr)
    if grad_mode._enabled[0] and self._base is not None and self.grad_fn is not None:
        # a view in a graph: its base must learn that this region is now constant
        def constant(s):
            out = xp.empty(arr.shape, dtype=arr.dtype)
            xp.copyto(out, make(xp, arr.shape, arr.dtype), casting="unsafe")
            return Tensor._make(out)

        return _inplace_on_view(self, self._base, constant, (), {})
    xp.copyto(arr, make(xp, arr.shape, arr.dtype), casting="unsafe")
    self._vc[0] += 1
    if grad_mode._enabled[0] and self.grad_fn is not None:
        # the old graph no longer contributes: a constant has zero gradient
        self.grad_fn = None
        self._rg = False
    return self


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place.

    >>> import nnbox
    >>> nnbox.ones(2).zero_()
    tensor([0., 0.])
    """
    return _fill(self, lambda xp, shape, dt: 0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` (a number or a 0-d tensor) in place."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions."
            )
        if value._rg and grad_mode._enabled[0]:
            return apply_inplace(self, lambda s, v: ew.add(s * 0, v.expand_as(s) if s.dim() else v), value)
        value = value.item()
    return _fill(self, lambda xp, shape, dt: value)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to ``self``'s shape, any dtype/device) into ``self``.

    >>> import nnbox
    >>> a = nnbox.zeros(2)
    >>> a.copy_(nnbox.tensor([1, 2]))  # returns self, as torch's in-place methods do
    tensor([1., 2.])
    """
    from .._backend.device import move

    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not {type(src).__name__}")
    if not _bcastable(src._data.shape, self._data.shape) or np.broadcast_shapes(src._data.shape, self._data.shape) != self._data.shape:
        raise RuntimeError(
            f"The size of tensor a ({self._data.shape[-1] if self._data.ndim else 1}) must match the size of "
            f"tensor b ({src._data.shape[-1] if src._data.ndim else 1}) at non-singleton dimension "
            f"{max(self._data.ndim - 1, 0)}"
        )
    if grad_mode._enabled[0] and (src._rg or self._rg):
        _check_leaf(self)
        from .convert import cast

        def fn(s, x):
            x = cast(x, s._data.dtype)
            if x.device != s.device:
                x = x.to(s.device)
            return s * 0 + x

        return apply_inplace(self, fn, src)
    data = move(src._data, self.device)
    xp_of(self._data).copyto(self._data, data, casting="unsafe")
    self._vc[0] += 1
    return self


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from U(a, b): ``fma(u, b - a, a)``, torch's stream on the CPU.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.empty(2).uniform_(-1, 1)
    tensor([-0.0075,  0.5364])
    """
    from .._backend import random as _rnd

    _check_uniform_bounds(self, a, b)
    return _fill(self, lambda xp, shape, dt: _rnd.draw_uniform(self.device, generator, shape, dt, a, b))


# the C++ type names torch's bound errors print, and each dtype's largest finite value
_UNIFORM_BOUNDS = {"float16": ("c10::Half", "Half", 65504.0),
                   "bfloat16": ("c10::BFloat16", "BFloat16", 3.3895313892515355e38),
                   "float32": ("float", "Float", float(np.finfo(np.float32).max)),
                   "float64": ("double", "Double", float(np.finfo(np.float64).max))}


def _check_uniform_bounds(self: Tensor, a: float, b: float) -> None:
    """torch's checks, in its order: each bound finite in the tensor's dtype, then from <= to,
    then a span that does not overflow it (nothing is drawn or written when one fails)."""
    bounds = _UNIFORM_BOUNDS.get(getattr(self.dtype, "name", None))
    if bounds is not None:
        for which, v in (("from", a), ("to", b)):
            if not -bounds[2] <= float(v) <= bounds[2]:
                raise RuntimeError(f"{which} is out of bounds for {bounds[0]}")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    if bounds is not None and float(b) - float(a) > bounds[2]:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{bounds[1]}>::max(), but found to={b} "
                           f"and from={a} which result in to-from to exceed the limit")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std^2), torch's stream on the CPU.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.empty(2).normal_(1.0, 0.5)
    tensor([1.7705, 0.8533])
    """
    from .._backend import random as _rnd

    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill(self, lambda xp, shape, dt: _rnd.draw_normal(self.device, generator, shape, dt, mean, std))


def bernoulli_(self: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    """Fill with 0/1, 1 with probability ``p`` (a number or a tensor of probabilities)."""
    from .._backend import random as _rnd

    if isinstance(p, Tensor):
        probs = xp_of(self._data).broadcast_to(p._data, self._data.shape)
        return _fill(self, lambda xp, shape, dt: _rnd.draw_bernoulli_probs(self.device, generator, probs))
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _fill(self, lambda xp, shape, dt: _rnd.draw_bernoulli(self.device, generator, shape, p))


def _random_span(dtype) -> int:
    """torch's ``random_()`` range [0, span): up to 2**mantissa (inclusive) for floats, the
    largest positive value (inclusive) for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fV":
        return 2 ** (np.finfo(dtype).nmant + 1) + 1
    if dtype == np.bool_:
        return 2
    return int(np.iinfo(dtype).max) + 1


def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """Fill with integers uniform in [from, to), or over the dtype's range with no bounds."""
    from .._backend import random as _rnd

    if to is None and from_ == 0:
        span = _random_span(self._data.dtype)
        if span == 2**63:  # int64: the low 63 bits of one 64-bit draw
            def make(xp, shape, dt):
                g = _rnd.cpu_generator(generator)
                return (g._words64(int(np.prod(shape))) & np.uint64(2**63 - 1)).astype(np.int64).reshape(shape)

            return _fill(self, make)
        if not self.is_cpu:
            return _fill(self, lambda xp, shape, dt: _rnd.draw_integers(self.device, generator, shape, 0, span))
        return _fill(self, lambda xp, shape, dt: _rnd.cpu_generator(generator).integers(
            int(np.prod(shape)), 0, span, wide_from=2**32 + 1).reshape(shape))
    if to is None:
        to, from_ = from_, 0
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _fill(self, lambda xp, shape, dt: _rnd.draw_integers(self.device, generator, shape, int(from_), int(to)))


def _unit64_map(self: Tensor, generator, fn, vec) -> Tensor:
    """Fill from float64 uniforms mapped through ``fn``: a per-element libm formula on the CPU, as
    torch computes these distributions in double there; ``vec(xp, u)`` is the same formula on a
    GPU array (CuPy's stream, not torch's)."""
    from .._backend import random as _rnd

    if not self.is_cpu:
        def make_gpu(xp, shape, dt):
            return vec(xp, _rnd.generator_for(self.device, generator).random(shape, dtype=xp.float64))

        return _fill(self, make_gpu)

    def make(xp, shape, dt):
        u = _rnd.cpu_generator(generator)._unit64(int(np.prod(shape)))
        return np.array([fn(v) for v in u.tolist()], dtype=np.float64).reshape(shape)

    return _fill(self, make)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with Exp(lambd) samples: ``-1/lambd * log1p(-u)``."""
    import math

    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    k = -1.0 / lambd
    return _unit64_map(self, generator, lambda u: k * math.log1p(-u), lambda xp, u: k * xp.log1p(-u))


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success: ``ceil(log u / log1p(-p))``."""
    import math

    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    d = math.log1p(-p)
    return _unit64_map(self, generator, lambda u: math.ceil(math.log(u) / d) if u > 0 else math.inf,
                       lambda xp, u: xp.ceil(xp.log(u) / d))


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill with Cauchy(median, sigma) samples: ``median + sigma * tan(pi (u - 1/2))``."""
    import math

    return _unit64_map(self, generator, lambda u: median + sigma * math.tan(math.pi * (u - 0.5)),
                       lambda xp, u: median + sigma * xp.tan(math.pi * (u - 0.5)))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill with ``exp`` of N(mean, std^2) samples, drawn one at a time (torch's scalar path at
    every size, so the cached second normal is used)."""
    import math

    from .._backend import random as _rnd
    from .._backend.torch_math import fma64

    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")

    def make(xp, shape, dt):
        if not self.is_cpu:
            return xp.exp(_rnd.draw_normal(self.device, generator, shape, xp.float64, mean, std))
        g = _rnd.cpu_generator(generator)
        z = np.array([g._scalar_normal() for _ in range(int(np.prod(shape)))], dtype=np.float64)
        return np.array([math.exp(v) for v in fma64(z, std, mean).tolist()], dtype=np.float64).reshape(shape)

    return _fill(self, make)


Tensor.zero_ = zero_
Tensor.fill_ = fill_
Tensor.copy_ = copy_
Tensor.uniform_ = uniform_
Tensor.normal_ = normal_
Tensor.bernoulli_ = bernoulli_
Tensor.random_ = random_
Tensor.exponential_ = exponential_
Tensor.geometric_ = geometric_
Tensor.cauchy_ = cauchy_
Tensor.log_normal_ = log_normal_
_ = _dt
