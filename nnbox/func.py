"""``torch.func``: function transforms over nnbox's tape.

``grad``, ``grad_and_value``, ``vjp``, ``jacrev``/``jacfwd`` and ``hessian`` differentiate a
Python function of Tensors and return plain functions, so they compose: ``grad(grad(f))`` is a
second derivative.  Each level differentiates with ``create_graph=True`` w.r.t. fresh copies of
its arguments (connected to the caller's graph when an argument already requires grad, as in
torch), so an outer level, or an outer ``backward()``, can differentiate the result again.  A
function that closes over a Tensor from an outer transform should take it as an argument instead:
a level only knows about its own arguments.

``jacfwd`` computes the same Jacobian as ``jacrev`` (nnbox has reverse mode only), and ``vmap``
runs the function once per slice along the mapped dimension and stacks the results: the same
numbers as torch's batching rules, with the same ``randomness`` contract (random ops under
``randomness='error'`` raise).

>>> import nnbox
>>> from nnbox.func import grad
>>> grad(grad(lambda x: x * x * x))(nnbox.tensor(2.0))
tensor(12.)
"""
from __future__ import annotations

import contextlib
import functools

from ._tensor import Tensor
from .autograd import grad as _autograd_grad
from .autograd.grad_mode import enable_grad

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "functional_call", "vmap"]


# --- pytrees (tuples, lists and dicts of Tensors) ---------------------------------------------------

def _flatten(tree):
    """Leaves of ``tree`` in order, and a function that rebuilds the same structure from leaves."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(x) for x in tree]
        leaves = [leaf for p in parts for leaf in p[0]]

        def build(it, parts=parts, kind=type(tree)):  # noqa: B008 - bound now, on purpose
            return kind(b(it) for _, b in parts)

        return leaves, build
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        leaves = [leaf for p in parts for leaf in p[0]]

        def build(it, parts=parts, keys=keys):
            return {k: b(it) for k, (_, b) in zip(keys, parts)}

        return leaves, build
    return [tree], lambda it: next(it)


def _unflatten(build, leaves):
    return build(iter(leaves))


def _fresh(t):
    """A copy of ``t`` to differentiate w.r.t. at this level: connected to the caller's graph when
    ``t`` already requires grad (an outer level or the user's autograd), a new leaf otherwise."""
    if not isinstance(t, Tensor):
        return t
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True)


def _detach_tree(tree, keep: bool):
    if keep:
        return tree
    leaves, build = _flatten(tree)
    return _unflatten(build, [x.detach() if isinstance(x, Tensor) else x for x in leaves])


def _freshen(trees):
    """Fresh leaves for each tree (``_fresh``): the rebuilt trees, ``(fresh leaves, build)`` per
    tree, and whether any leaf already required grad (then the results keep their graph)."""
    keep = False
    rebuilt, parts = [], []
    for tree in trees:
        leaves, build = _flatten(tree)
        keep = keep or any(isinstance(x, Tensor) and x.requires_grad for x in leaves)
        fresh = [_fresh(x) for x in leaves]
        rebuilt.append(_unflatten(build, fresh))
        parts.append((fresh, build))
    return rebuilt, parts, keep


def _freshen_args(args: tuple, argnums):
    """``args`` with the ones ``argnums`` names replaced by fresh trees (``_freshen``); also returns
    their parts and whether their graph is kept."""
    nums = _argnums(argnums, len(args))
    fresh, parts, keep = _freshen([args[a] for a in nums])
    args = list(args)
    for a, f in zip(nums, fresh):
        args[a] = f
    return args, parts, keep


def _wrt(parts) -> list:
    return [x for fresh, _ in parts for x in fresh if isinstance(x, Tensor)]


def _regroup(parts, grads, keep: bool) -> list:
    """``grads`` (one per Tensor leaf, in order; None where unused) back in each tree's shape, with
    zeros for the unused ones."""
    it = iter(grads)
    out = []
    for fresh, build in parts:
        vals = []
        for x in fresh:
            if isinstance(x, Tensor):
                g = next(it)
                vals.append(x.new_zeros(x.shape) if g is None else g)
            else:
                vals.append(None)
        out.append(_detach_tree(_unflatten(build, vals), keep))
    return out


def _argnums(argnums, n: int):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
    return tuple(a % n for a in nums)


# --- grad ----------------------------------------------------------------------------------------------

def grad_and_value(func, argnums=0, has_aux: bool = False):
    """A function returning ``(gradient of func w.r.t. args[argnums], func's value)``.

    >>> import nnbox
    >>> from nnbox.func import grad_and_value
    >>> grad_and_value(lambda x: (x * x).sum())(nnbox.tensor([1.0, 2.0]))
    (tensor([2., 4.]), tensor(5.))
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args, wrt_parts, keep = _freshen_args(args, argnums)
        with enable_grad():
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(
                        "grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}")
            if out.dim() != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
            wrt = _wrt(wrt_parts)
            grads = list(_autograd_grad(out, wrt, create_graph=True, allow_unused=True)) if out.requires_grad \
                else [None] * len(wrt)
        results = _regroup(wrt_parts, grads, keep)
        g = tuple(results) if isinstance(argnums, tuple) else results[0]
        value = out if keep else out.detach()
        if has_aux:
            return g, (value, _detach_tree(aux, keep))
        return g, value

    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """A function returning the gradient of scalar ``func`` w.r.t. ``args[argnums]``.

    >>> import nnbox
    >>> from nnbox.func import grad
    >>> grad(lambda x: (x * x * x).sum())(nnbox.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# --- vjp and Jacobians -------------------------------------------------------------------------------

def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` returns one gradient per primal.

    >>> import nnbox
    >>> from nnbox.func import vjp
    >>> out, vjp_fn = vjp(lambda x: x * x, nnbox.tensor([1.0, 2.0]))
    >>> vjp_fn(nnbox.ones(2))
    (tensor([2., 4.]),)
    """
    fresh_args, parts, keep = _freshen(primals)
    with enable_grad():
        out = func(*fresh_args)
    aux = None
    if has_aux:
        out, aux = out
    out_leaves, out_build = _flatten(out)

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of outputs")
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if isinstance(o, Tensor) and o.requires_grad]
        wrt = _wrt(parts)
        with enable_grad():
            if pairs:
                gs = list(_autograd_grad([o for o, _ in pairs], wrt, [c for _, c in pairs], retain_graph=True,
                                         create_graph=True, allow_unused=True))
            else:
                gs = [None] * len(wrt)
        return tuple(_regroup(parts, gs, keep))

    value = _detach_tree(out, keep)
    if has_aux:
        return value, vjp_fn, _detach_tree(aux, keep)
    return value, vjp_fn


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None, _preallocate_and_copy: bool = False):
    """A function returning the Jacobian of ``func`` w.r.t. ``args[argnums]`` (shape
    ``output.shape + input.shape``), one vector-Jacobian product per output element.

    >>> import nnbox
    >>> from nnbox.func import jacrev
    >>> jacrev(lambda x: x * x)(nnbox.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """

    @functools.wraps(func)
    def wrapper(*args):
        from .ops.shape import stack

        args, wrt_parts, keep = _freshen_args(args, argnums)
        with enable_grad():
            out = func(*args)
        aux = None
        if has_aux:
            out, aux = out
        out_leaves, out_build = _flatten(out)
        wrt = [x for fresh, _ in wrt_parts for x in fresh]
        per_output = []
        for o in out_leaves:
            n = o.numel()
            rows = [[] for _ in wrt]
            for r in range(n):
                seed = o.new_zeros(n)
                seed[r] = 1
                with enable_grad():
                    gs = _autograd_grad(o, wrt, seed.reshape(o.shape), retain_graph=True, create_graph=True,
                                        allow_unused=True) if o.requires_grad else (None,) * len(wrt)
                for k, (g, x) in enumerate(zip(gs, wrt)):
                    rows[k].append(x.new_zeros(x.shape) if g is None else g)
            jac = [stack(rows[k]).reshape(tuple(o.shape) + tuple(x.shape)) if n
                   else x.new_zeros(tuple(o.shape) + tuple(x.shape)) for k, x in enumerate(wrt)]
            it = iter(jac)
            by_arg = [_detach_tree(_unflatten(build, [next(it) for _ in fresh]), keep) for fresh, build in wrt_parts]
            per_output.append(tuple(by_arg) if isinstance(argnums, tuple) else by_arg[0])
        result = _unflatten(out_build, per_output)
        return (result, _detach_tree(aux, keep)) if has_aux else result

    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian, as ``jacrev`` computes it (same values; nnbox has reverse mode only)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """A function returning the Hessian of scalar ``func`` w.r.t. ``args[argnums]``.

    >>> import nnbox
    >>> from nnbox.func import hessian
    >>> hessian(lambda x: (x * x * x).sum())(nnbox.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)


# --- functional_call -----------------------------------------------------------------------------------

def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """Call ``module`` with some of its parameters and buffers replaced by the given tensors (for
    the duration of the call only), so a model can be a pure function of its weights.

    >>> import nnbox
    >>> from nnbox.func import functional_call
    >>> m = nnbox.nn.Linear(2, 1)
    >>> functional_call(m, {"weight": nnbox.ones(1, 2), "bias": nnbox.zeros(1)}, (nnbox.tensor([1.0, 2.0]),))
    tensor([3.])
    """
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    merged: dict = {}
    for d in dicts:
        for k, v in d.items():
            if k in merged:
                raise ValueError(f"{k} appeared in multiple dictionaries; behavior of functional call is ambiguous")
            merged[k] = v
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    if strict:
        missing = sorted(set(named) - set(merged))
        unexpected = sorted(set(merged) - set(named))
        if missing or unexpected:
            parts = []
            if unexpected:
                parts.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected) + ".")
            if missing:
                parts.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError("Error(s) in reparametrizing for " + type(module).__name__ + ":\n\t" + "\n\t".join(parts))
    if tie_weights:  # a tensor shared by several names is replaced under all of them
        by_id = {}
        for name, t in named.items():
            by_id.setdefault(id(t), []).append(name)
        for name in list(merged):
            if name in named:
                for other in by_id[id(named[name])]:
                    merged.setdefault(other, merged[name])
    swapped = []
    try:
        for name, value in merged.items():
            owner, _, attr = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            store = sub._parameters if attr in sub._parameters else sub._buffers if attr in sub._buffers else None
            if store is None:
                swapped.append((sub, attr, None, sub.__dict__.get(attr, _MISSING)))
                object.__setattr__(sub, attr, value)
            else:
                swapped.append((sub, attr, store, store[attr]))
                store[attr] = value
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for sub, attr, store, old in reversed(swapped):
            if store is not None:
                store[attr] = old
            elif old is _MISSING:
                object.__delattr__(sub, attr)
            else:
                object.__setattr__(sub, attr, old)


_MISSING = object()


def _slice(x, dim: int, i: int):
    if not isinstance(x, Tensor):
        return x
    return x[(slice(None),) * (dim % x.dim()) + (i,)]


# --- vmap ----------------------------------------------------------------------------------------------

def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """Map ``func`` over a dimension of its inputs: one call per slice, results stacked along
    ``out_dims``.  ``randomness``: ``'error'`` (a random op inside raises, as torch),
    ``'different'`` (each slice draws anew) or ``'same'`` (every slice draws the same numbers).

    >>> import nnbox
    >>> from nnbox.func import vmap
    >>> vmap(lambda x, y: (x * y).sum(), in_dims=(0, None))(nnbox.ones(3, 2), nnbox.tensor([1.0, 2.0]))
    tensor([3., 3., 3.])
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args):
        from . import equal, get_rng_state, set_rng_state
        from ._backend import random as _rnd
        from .ops.shape import stack

        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(
                f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the structure of "
                f"`inputs`. in_dims has structure {len(dims)} but inputs has structure {len(args)}.")
        flat = []
        sizes = set()
        for a, d in zip(args, dims):
            leaves, build = _flatten(a)
            if d is not None:
                for x in leaves:
                    if isinstance(x, Tensor):
                        sizes.add(x.shape[d])
            flat.append((leaves, build, d))
        if not sizes:
            raise ValueError("vmap(f, in_dims=..., ...)(<inputs>): at least one input must be a Tensor mapped over a dimension")
        if len(sizes) > 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                             f"{sorted(sizes)} for the mapped dimension")
        n = sizes.pop()
        state, cuda_draws = get_rng_state(), _rnd.cuda_draws[0]
        outs = []
        with _rnd.same_cuda_draws() if randomness == "same" else contextlib.nullcontext() as restart_cuda:
            for i in range(n):
                if randomness == "same":
                    set_rng_state(state)
                    restart_cuda()
                call = []
                for leaves, build, d in flat:
                    if d is None:
                        call.append(_unflatten(build, leaves))
                    else:
                        call.append(_unflatten(build, [_slice(x, d, i) for x in leaves]))
                outs.append(func(*call))
                if i == 0 and randomness == "error" and (_rnd.cuda_draws[0] != cuda_draws
                                                         or not equal(get_rng_state(), state)):
                    raise RuntimeError(
                        "vmap: called random operation while in randomness error mode. Please either use the 'same' "
                        "or 'different' randomness flags on vmap or perform the randomness operation out of vmap")
        first, build = _flatten(outs[0])
        for x in first:
            if not isinstance(x, Tensor):
                raise ValueError(f"vmap: `{getattr(func, '__name__', 'func')}` must only return Tensors, got type "
                                 f"{type(x)}. Did you mean to set out_dims= to None for output?")
        per_leaf = list(zip(*(_flatten(o)[0] for o in outs)))
        od = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(first)
        return _unflatten(build, [stack(list(col), dim=d) for col, d in zip(per_leaf, od)])

    return wrapper
