"""``Optimizer``: the base class every algorithm in ``nnbox.optim`` derives from (torch's API).

An optimizer holds ``param_groups`` (a list of dicts: ``params`` plus every hyper-parameter, the
defaults filled in) and ``state`` (a ``defaultdict(dict)`` keyed by parameter).  Subclasses write
``__init__`` (validate, build ``defaults``, call ``super().__init__``) and ``step``.  Writing a new
algorithm is as short as in torch; this runs unchanged under ``import nnbox as torch``:

>>> import nnbox
>>> from nnbox.optim import Optimizer
>>> class SignSGD(Optimizer):
...     '''Step each parameter by ``-lr * sign(grad)``.'''
...     def __init__(self, params, lr=0.01):
...         if lr < 0.0:
...             raise ValueError(f"Invalid learning rate: {lr}")
...         super().__init__(params, dict(lr=lr))
...
...     @nnbox.no_grad()
...     def step(self, closure=None):
...         loss = None
...         if closure is not None:
...             with nnbox.enable_grad():
...                 loss = closure()
...         for group in self.param_groups:
...             for p in group["params"]:
...                 if p.grad is not None:
...                     p.add_(p.grad.sign(), alpha=-group["lr"])
...                     self.state[p]["steps"] = self.state[p].get("steps", 0) + 1
...         return loss
>>> w = nnbox.tensor([1.0, -2.0], requires_grad=True)
>>> opt = SignSGD([w], lr=0.5)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
tensor([ 0.5000, -1.5000], requires_grad=True)

The built-in algorithms write each update as an element-wise function over raw arrays (``p._data``,
``p.grad._data``, the state's arrays) using in-place ufuncs (``out=``), so they build no autograd
graph and run unchanged on CuPy arrays.  ``Optimizer._update`` runs such a function, handing it
scratch arrays from a reusable per-optimizer pool (no fresh temporaries per parameter) and, on the
CPU, walking large parameters in cache-sized slices.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from .._backend import dtype as _dt
from .._backend.device import move
from .._backend.threads import get_num_threads, parallel_for
from .._tensor import Tensor
from ..autograd import grad_mode
from ..ops._util import xp_of
from ..utils.hooks import RemovableHandle
from ._axpy import axpy

_ndarray = np.ndarray
_CHUNK = 1 << 16  # elements per slice of a CPU update: a few arrays of it fit in L2

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a hyper-parameter every group must give (``lr=required``), as torch's ``required``."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_post_hooks: OrderedDict[int, Callable] = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``."""
    h = RemovableHandle(_global_pre_hooks)
    _global_pre_hooks[h.id] = hook
    return h


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    h = RemovableHandle(_global_post_hooks)
    _global_post_hooks[h.id] = hook
    return h


def _hooked_step(fn: Callable) -> Callable:
    """Wrap a subclass's ``step``: run the step hooks and record that a step happened.

    The LR schedulers read ``_opt_called`` to warn when ``scheduler.step()`` comes first.  A
    subclass's ``step`` calling ``super().step()`` runs the hooks once (the outer call owns them).
    """

    @functools.wraps(fn)
    def step(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):
            return fn(self, *args, **kwargs)
        for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            r = hook(self, args, kwargs)
            if r is not None:
                if not (isinstance(r, tuple) and len(r) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), but got {r}.")
                args, kwargs = r
        self._in_step = True
        try:
            out = fn(self, *args, **kwargs)
        finally:
            self._in_step = False
        self._opt_called = True
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    step._nnbox_hooked = True
    return step


def _typename(obj) -> str:
    """torch.typename: ``torch.FloatTensor`` for tensors, ``numpy.ndarray``, ``float``."""
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    ``params``: an iterable of Tensors, or of dicts each holding ``params`` and per-group options.
    ``defaults``: the hyper-parameters a group gets when it does not set them.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("step")
        if fn is not None and not getattr(fn, "_nnbox_hooked", False):
            cls.step = _hooked_step(fn)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._scratch: dict = {}
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_typename(params)}"
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- groups -------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (checked fully before anything changes).

        >>> import nnbox
        >>> w, b = nnbox.zeros(2, requires_grad=True), nnbox.zeros(1, requires_grad=True)
        >>> opt = nnbox.optim.SGD([w], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = None
        if params and isinstance(params[0], tuple):  # named_parameters(): (name, tensor) pairs
            if not all(isinstance(x, tuple) and len(x) == 2 for x in params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            names = [n for n, _ in params]
            params = [p for _, p in params]
        elif "param_names" in param_group:  # a group dict already through add_param_group
            names = param_group["param_names"]
        if self.param_groups and (names is None) == ("param_names" in self.param_groups[0]):
            kind = "without" if names is None else "with"
            raise ValueError(
                "all optimizer param groups should be with/without names. "
                f"cannot add param group {kind} names to the optimizer"
            )
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
        ids = {id(p) for p in params}
        if any(id(p) in ids for g in self.param_groups for p in g["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        if len(ids) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will "
                "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        # everything checked: now fill in the caller's dict (torch keeps that very dict)
        param_group["params"] = params
        if names is not None:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    # --- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g._rg = False
                if getattr(g._data.flags, "writeable", True):  # CuPy flags have no 'writeable'
                    g._data.fill(0)
                else:
                    g._data = xp_of(g._data).zeros_like(g._data)
                g._vc[0] += 1

    def step(self, closure: Callable | None = None):
        """Update the parameters once; subclasses implement it."""
        raise NotImplementedError

    # --- hooks --------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before ``step``; it may return new (args, kwargs)."""
        h = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[h.id] = hook
        return h

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after ``step``."""
        h = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[h.id] = hook
        return h

    @staticmethod
    def _add_hook(hooks: OrderedDict[int, Callable], hook: Callable, prepend: bool) -> RemovableHandle:
        h = RemovableHandle(hooks)
        hooks[h.id] = hook
        if prepend:
            hooks.move_to_end(h.id, last=False)
        return h

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` runs before ``state_dict()`` builds its result."""
        return self._add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` may edit or replace (by returning it) the result."""
        return self._add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` runs first in ``load_state_dict``; it may return a new dict."""
        return self._add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` runs after ``load_state_dict`` has loaded."""
        return self._add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are replaced by their position across all groups, so the dict is independent of
        the parameter objects; the state's tensors are the live ones (as in torch).
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: v for p, v in self.state.items() if id(p) in index}
        out = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            r = hook(self, out)
            if r is not None:
                out = r
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what ``state_dict()`` returned; state moves to each parameter's device and dtype."""
        state_dict = dict(state_dict)  # shallow copy: hooks may edit it
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            r = hook(self, state_dict)
            if r is not None:
                state_dict = r
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = {
            old: p for g, s in zip(groups, saved_groups) for old, p in zip(s["params"], g["params"])
        }
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {key: self._cast_state(p, val, key) for key, val in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:  # keep the names we know
                s["param_names"] = g["param_names"]
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _cast_state(self, p: Tensor, value, key=None):
        """A loaded state value placed like ``p``: floating tensors take its dtype and device.

        ``step`` counters keep their dtype and stay on the CPU (torch's rule for non-capturable
        optimizers), so reading them never synchronises a GPU.
        """
        if isinstance(value, Tensor):
            if key == "step":
                return value
            arr = move(value._data, p.device)
            if p._data.dtype.kind in "fcV" and value._data.dtype.kind in "fcV":
                arr = arr.astype(p._data.dtype, copy=False)
            if arr is value._data:
                return value
            return Tensor._make(arr)
        if isinstance(value, dict):
            return {k: self._cast_state(p, v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._cast_state(p, v) for v in value)
        return value

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["_scratch"] = {}
        d.pop("_in_step", None)
        d.pop("_batch", None)
        return d

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for name in ("step_pre", "step_post", "state_dict_pre", "state_dict_post", "load_state_dict_pre",
                     "load_state_dict_post"):
            self.__dict__.setdefault(f"_optimizer_{name}_hooks", OrderedDict())
        self.__dict__.setdefault("_scratch", {})

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            if i:
                lines.append("")
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # --- helpers for the built-in algorithms -----------------------------------------------------
    def _scratch_like(self, arr, n: int, worker: int = 0) -> list:
        """``n`` reusable work arrays shaped like ``arr`` (views of per-dtype, per-device buffers).

        The flat buffers grow to the largest array seen, so a warm step allocates nothing.  Their
        contents are garbage: callers write before reading.
        """
        size, shape = arr.size, arr.shape
        dev = None if type(arr) is _ndarray else arr.device.id
        out = []
        for k in range(n):
            key = (arr.dtype, k, dev, worker)
            buf = self._scratch.get(key)
            if buf is None or buf.size < size:
                buf = self._scratch[key] = xp_of(arr).empty(size, arr.dtype)
            out.append(buf[:size].reshape(shape))
        return out

    def _update(self, fn: Callable, arrays: list, n_tmp: int, *args, cache_slices: bool = True, **hyper) -> None:
        """Run ``fn(*arrays, *scratch, *args, **hyper)``, the in-place update of one parameter.

        On the CPU, large contiguous parameters are updated in slices of ``_CHUNK`` elements: the
        dozen element-wise passes of an update then stay in the cache instead of streaming the
        whole parameter from memory each time (about 1.7x faster for a ResNet layer).  ``fn`` must
        be element-wise, so slicing does not change its result.  With one thread the slices run in
        a plain loop over work arrays taken once (a slice then costs its ufunc calls and little
        else); with more they are shared out by ``parallel_for``, inside a ``_sliced_step`` block all
        parameters' slices together when the block ends, small parameters as one task each, so
        every BLAS call of an update (``_axpy``) runs on one thread and the bits do not depend on
        the thread count (see ``parallel_for``).  ``cache_slices=False`` marks an update of a few
        BLAS calls, which reads each array once anyway: with one thread its whole arrays go to
        ``fn`` at once (slices would only add Python work).
        """
        first = arrays[0]
        n = first.size
        batch = self.__dict__.get("_batch")  # only with more than one thread
        if type(first) is _ndarray and (n > _CHUNK or batch is not None) and all(a.flags.c_contiguous for a in arrays):
            flat = [a.reshape(-1) for a in arrays]
            if batch is not None or get_num_threads() > 1:  # the pool, in _CHUNK slices
                work = (fn, flat, n_tmp, args, hyper)
                if batch is None:
                    self._run_sliced([work])
                else:
                    batch.append(work)
                return
            if cache_slices:  # one thread: a plain loop over the slices
                tmp = self._scratch_like(flat[0][:_CHUNK], n_tmp)
                for lo in range(0, n, _CHUNK):
                    hi = lo + _CHUNK
                    if hi > n:
                        tmp = [t[: n - lo] for t in tmp]
                    fn(*[a[lo:hi] for a in flat], *tmp, *args, **hyper)
                return
        fn(*arrays, *self._scratch_like(first, n_tmp), *args, **hyper)

    def _run_sliced(self, work: list) -> None:
        """Every slice of every ``(fn, flat arrays, n_tmp, args, hyper)`` in ``work`` in one
        ``parallel_for``: the threads are woken once, and the slices are dealt out in turn, so each
        thread gets a share of every parameter (NumPy releases the GIL: they run on all cores)."""
        tasks = [(w, lo) for w in work for lo in range(0, w[1][0].size, _CHUNK)]
        scratch = self._scratch_like

        def task(i: int, worker: int) -> None:  # one set of work arrays per thread
            (fn, flat, n_tmp, args, hyper), lo = tasks[i]
            part = [a[lo : lo + _CHUNK] for a in flat]
            fn(*part, *scratch(part[0], n_tmp, worker), *args, **hyper)

        parallel_for(len(tasks), task)

    @contextmanager
    def _sliced_step(self):
        """Within this block ``_update`` collects the sliced updates bound for the threads and runs
        them all together when the block ends (one hand-off per step instead of one per large
        parameter).  Each update is element-wise and touches only its own parameter and state, so
        the order changes no result.  A block inside another joins the outer one; with one thread
        the block does nothing."""
        if self.__dict__.get("_batch") is not None or get_num_threads() == 1:
            yield
            return
        batch = self._batch = []
        try:
            yield
            if batch:
                self._run_sliced(batch)
        finally:
            self.__dict__.pop("_batch", None)

    @staticmethod
    def _closure_loss(closure: Callable | None):
        """Run ``closure`` with gradients on (the step itself needs none)."""
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()


# --- shared by the algorithm files ------------------------------------------------------------

def _new_step() -> Tensor:
    """The ``step`` counter torch keeps in state: a 0-d float tensor on the CPU."""
    dt = np.float64 if _dt.get_default_dtype() is _dt.float64 else np.float32
    return Tensor._make(np.zeros((), dt))


def _zeros_state(p: Tensor) -> Tensor:
    return Tensor._make(xp_of(p._data).zeros_like(p._data))


def _real(arr):
    """A real view of a complex array (torch's ``view_as_real``); real arrays pass through."""
    if arr.dtype.kind != "c":
        return arr
    return arr[..., None].view(arr.real.dtype)


_CONST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _ufunc_consts(arr, *values) -> tuple:
    """An update's constants for ufunc calls on arrays like ``arr``: on NumPy float32/float64 arrays
    every Python float becomes a 0-d array of ``arr``'s dtype.

    NumPy rounds a Python float operand to the array's dtype anyway (NEP 50), so results are
    bit-identical, and a call with a 0-d array skips converting the scalar on every call (about
    0.25 of 0.4 us on a small slice; an update makes eight such calls per slice).  Other values stay
    as they are: NumPy scalars (a Tensor lr's) promote by their own dtype, and CuPy takes numbers.

    >>> import numpy as np
    >>> a = np.ones(3, np.float32)
    >>> (c,) = _ufunc_consts(a, 0.1)
    >>> c.shape, c.dtype, bool((a * c == a * 0.1).all())
    ((), dtype('float32'), True)
    """
    dt = arr.dtype
    if type(arr) is not _ndarray or dt not in _CONST_DTYPES:
        return values
    return tuple(np.array(v, dt) if type(v) is float else v for v in values)


def _lerp_(acc, end, weight: float, tmp) -> None:
    """``acc.lerp_(end, weight)`` in place, with torch's two-sided formula (``tmp`` is scratch)."""
    xp = xp_of(acc)
    xp.subtract(end, acc, out=tmp)
    if weight < 0.5:
        tmp *= weight
        acc += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(end, tmp, out=acc)


def _check_unsupported(opt_name: str, **flags) -> None:
    """torch options this NumPy/CuPy implementation does not provide: fail loudly, at once."""
    for name, value in flags.items():
        if value:
            why = {
                "capturable": "CUDA-graph capture",
                "differentiable": "differentiating through the optimizer step",
            }[name]
            raise NotImplementedError(f"nnbox.optim.{opt_name}: {name}=True ({why}) is not supported")


def _check_foreach_fused(foreach, fused, differentiable=False) -> None:
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")


def _check_lr(lr) -> None:
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        lr = lr.item()
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_eps(eps) -> None:
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")


def _check_weight_decay(weight_decay) -> None:
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _check_betas(betas) -> None:
    for i in range(2):
        b = betas[i]
        if isinstance(b, Tensor):
            b = b.item()
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def _lr_of(group: dict):
    """The group's lr as a number; a Tensor lr becomes a NumPy scalar of its dtype, so the step
    sizes derived from it round as torch's 0-d tensor arithmetic does."""
    lr = group["lr"]
    if isinstance(lr, Tensor):
        return np.asarray(lr._data.item(), dtype=lr._data.dtype)[()]
    return lr


def _adam_moments_(p, g, m, v, w, tmp, *, lr: float, b1: float, b2: float, wd: float, maximize: bool, decoupled: bool):
    """The first half of every Adam-family step, in place: weight decay (L2 into the gradient, or
    AdamW's decoupled shrink of ``p``), then ``m = lerp(m, g, 1-b1)`` and ``v = b2 v + (1-b2) g^2``.
    Returns the gradient the rest of the update reads."""
    if wd and decoupled:
        g = _decayed_grad(g, p, maximize, 0, w)
        p *= 1 - lr * wd
    else:
        g = _decayed_grad(g, p, maximize, wd, w)
    _lerp_(m, g, 1 - b1, tmp)
    v *= b2
    xp_of(v).multiply(g, 1 - b2, out=tmp)
    tmp *= g
    v += tmp
    return g


def _decayed_grad(g, p, maximize: bool, weight_decay: float, out):
    """The gradient the update reads: ``(-)g + weight_decay * p``, written to ``out`` if it
    differs from ``g`` (the gradient array itself is never written)."""
    if not maximize and not weight_decay:
        return g
    if maximize:
        xp_of(g).negative(g, out=out)
    else:
        out[...] = g
    if weight_decay:  # g.add(p, alpha=weight_decay), rounded once as torch does
        axpy(weight_decay, p, out)
    return out
