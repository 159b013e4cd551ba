"""``nn.Module``: the base of every layer and model.

A module keeps its learnable ``Parameter``\\ s, its buffers (state that is saved but not trained,
e.g. BatchNorm's running mean) and its child modules in three dicts, filled by ``__setattr__``.
Everything else (``parameters()``, ``state_dict()``, ``to()``, ``train()``, ``repr``) walks
those dicts, with PyTorch's semantics, key names and error messages, so checkpoints map one-to-one.

``__call__`` is the hot path of every training step: without hooks it is one ``forward`` call.
"""
from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..._tensor import Tensor
from ...autograd import grad_mode
from ...utils.hooks import RemovableHandle
from ..parameter import Buffer, Parameter, UninitializedParameter, buffer_persistent
from ._backward_hooks import _BackwardHookState

__all__ = [
    "Module",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_hook",
    "register_module_full_backward_pre_hook",
]


def typename(obj) -> str:
    """torch.typename: ``'torch.FloatTensor'`` for tensors, the qualified class name otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(type(obj), "__module__", "") or ""
    name = type(obj).__qualname__
    return name if module in ("builtins", "__builtin__", "__main__") else f"{module}.{name}"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys that did not match."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (children's reprs nest under their ``(name): `` label)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


# --- global hooks (apply to every module) -----------------------------------------------------------
_global_forward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks_always_called: dict[int, bool] = {}
_global_forward_hooks_with_kwargs: dict[int, bool] = {}
_global_backward_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_backward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_any = [False]  # set once a global hook is registered: ``__call__`` then takes the slow path


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, args)`` before every module's ``forward``."""
    _global_any[0] = True
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False, always_call: bool = False) -> RemovableHandle:
    """Run ``hook(module, args, output)`` after every module's ``forward``."""
    _global_any[0] = True
    handle = RemovableHandle(_global_forward_hooks,
                             extra_dict=[_global_forward_hooks_always_called, _global_forward_hooks_with_kwargs])
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, grad_input, grad_output)`` in every module's backward."""
    _global_any[0] = True
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, grad_output)`` before every module's input gradients are computed."""
    _global_any[0] = True
    handle = RemovableHandle(_global_backward_pre_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    return handle


# --- loading: copies are queued and only applied when the whole state_dict checked out -------------
_load_queue: list = []  # stack of pending-copy lists, one per load_state_dict in progress

_STORES = frozenset(("_parameters", "_buffers", "_modules"))

_containers_checked: weakref.WeakSet[Module] = weakref.WeakSet()  # modules already scanned

# warn once per (class, attribute) about Modules hidden in plain containers
_warned_plain_containers: set = set()


def _hidden_members(value) -> str | None:
    """'Module' / 'Parameter' when a plain list/tuple/dict holds one (they would not be registered)."""
    items = value.values() if type(value) is dict else value
    found = None
    for v in items:
        if isinstance(v, Module):
            return "Module"
        if isinstance(v, Parameter):
            found = "Parameter"
    return found


class Module:
    """Base class of all layers and models, as ``torch.nn.Module``.

    >>> import nnbox
    >>> import nnbox.nn as nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> net = Net()
    >>> [name for name, _ in net.named_parameters()]
    ['fc.weight', 'fc.bias']
    >>> net(nnbox.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    dump_patches: bool = False
    _version: int = 1
    training: bool
    call_super_init: bool = False

    def __init__(self, *args, **kwargs) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but {len(args) + 1} were given")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_is_full_backward_hook"] = None
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()

    # --- calling --------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        # the hot path: one forward call unless some hook is registered
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks or _global_any[0]:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    _call_impl = __call__

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        pre_hooks = list(itertools.chain(_global_forward_pre_hooks.items(), self._forward_pre_hooks.items()))
        fwd_hooks = list(itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()))
        bw_hooks = list(itertools.chain(_global_backward_hooks.values(), self._backward_hooks.values()))
        bw_pre_hooks = list(itertools.chain(_global_backward_pre_hooks.values(), self._backward_pre_hooks.values()))
        with_kwargs = self._forward_hooks_with_kwargs.keys() | _global_forward_hooks_with_kwargs.keys()
        always = self._forward_hooks_always_called.keys() | _global_forward_hooks_always_called.keys()
        called_always: set = set()
        result = None
        try:
            for hid, hook in pre_hooks:
                if hid in self._forward_pre_hooks_with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if not (isinstance(res, tuple) and len(res) == 2):
                            raise RuntimeError(
                                f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {res}."
                            )
                        args, kwargs = res
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            bw_state = None
            if bw_hooks or bw_pre_hooks:
                bw_state = _BackwardHookState(self, bw_hooks, bw_pre_hooks)
                args = bw_state.wrap_inputs(args)
            result = self.forward(*args, **kwargs)
            for hid, hook in fwd_hooks:
                if hid in always:
                    called_always.add(hid)
                res = hook(self, args, kwargs, result) if hid in with_kwargs else hook(self, args, result)
                if res is not None:
                    result = res
            if bw_state is not None:
                result = bw_state.wrap_outputs(result)
            return result
        except Exception:
            for hid, hook in fwd_hooks:
                if hid in always and hid not in called_always:
                    try:
                        hook(self, args, kwargs, result) if hid in with_kwargs else hook(self, args, result)
                    except Exception as e:  # the forward's own error is the one to report
                        warnings.warn(
                            "module forward hook with ``always_call=True`` raised an exception that was "
                            f"silenced as another error was raised in forward: {e}"
                        )
            raise

    # --- attribute routing ----------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: parameters, buffers and children live in dicts
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as parameter '{name}' (torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as child module '{name}' (torch.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{typename(value)}' as buffer '{name}' (torch.Tensor or None expected)")
            if isinstance(value, Buffer):
                persistent = buffer_persistent(value)
            else:
                persistent = name not in self._non_persistent_buffers_set
            self._forget(name, keep="_buffers")
            self.register_buffer(name, value, persistent)
            return
        if type(value) in (list, tuple, dict) and value:
            self._warn_plain_container(name, value)
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every store except ``keep`` (an attribute changes kind)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep and name in d[store]:
                del d[store][name]
        if keep != "_buffers":
            d["_non_persistent_buffers_set"].discard(name)

    def _warn_plain_container(self, name: str, value) -> None:
        kind = _hidden_members(value)
        if kind is None:
            return
        key = (type(self), name)
        if key in _warned_plain_containers:
            return
        _warned_plain_containers.add(key)
        fix = ("nn.ModuleList" if type(value) is not dict else "nn.ModuleDict") if kind == "Module" else (
            "nn.ParameterList" if type(value) is not dict else "nn.ParameterDict")
        warnings.warn(
            f"{type(self).__name__}.{name} is a plain {type(value).__name__} holding nn.{kind} objects: they "
            f"are not registered, so their parameters will not be returned by parameters() (not trained), "
            f"moved by .to()/.cuda(), or saved in state_dict(). Use {fix} instead.",
            UserWarning,
            stacklevel=3,
        )

    def _check_plain_containers(self) -> None:
        """Check every module's plain list/dict attributes (once per module)."""
        for m in self.modules():
            if m not in _containers_checked:
                m._scan_own_containers()

    def _scan_own_containers(self) -> None:
        # lists filled after assignment (``self.layers = []; self.layers.append(...)``) escape
        # __setattr__; the first parameters()/to() after construction sees them
        _containers_checked.add(self)
        for name, value in self.__dict__.items():
            if (type(value) in (list, tuple, dict) and value and name not in _STORES
                    and (type(self), name) not in _warned_plain_containers):
                self._warn_plain_container(name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d["_parameters"]:
            del d["_parameters"][name]
        elif name in d["_buffers"]:
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d["_modules"]:
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = itertools.chain(dir(type(self)), self.__dict__, self._parameters, self._modules, self._buffers)
        return sorted({k for k in keys if not k[0].isdigit()})

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        # modules pickled by an older version may lack newer hook dicts
        for name in ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
                     "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_backward_hooks",
                     "_backward_pre_hooks", "_state_dict_hooks", "_state_dict_pre_hooks",
                     "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())
        self.__dict__.setdefault("_non_persistent_buffers_set", set())
        self.__dict__.setdefault("_is_full_backward_hook", None)

    # --- registration ---------------------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {typename(name)}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{typename(param)}' object to parameter '{name}' (torch.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                f"explicitly. To express '{name}' as a function of another Tensor, compute the value in the "
                "forward() method."
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state saved in ``state_dict`` (unless ``persistent=False``) but not trained.

        >>> import nnbox
        >>> m = nnbox.nn.Module(); m.register_buffer("running_mean", nnbox.zeros(3))
        >>> list(m.state_dict())
        ['running_mean']
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {typename(name)}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{typename(tensor)}' object to buffer '{name}' (torch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what ``self.name = module`` does)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``''`` is ``self``)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the module at dotted path ``target``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``'layer1.0.weight'``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``'bn.running_mean'``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(mod, name)

    def get_extra_state(self) -> Any:
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. Please file an "
            "issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml to report this bug."
        )

    def set_extra_state(self, state: Any) -> None:
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. Please file an "
            "issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml to report this bug."
        )

    # --- iteration ------------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module and every descendant, each once by default."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool, check: bool = False):
        seen: set = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            if check and mod not in _containers_checked:
                mod._scan_own_containers()
            for name, v in mod.__dict__[store].items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """``(dotted name, parameter)`` pairs; a shared parameter appears once (first name)."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate, check=True)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, each once: what an optimizer is built from.

        >>> import nnbox.nn as nn
        >>> sum(p.numel() for p in nn.Linear(3, 2).parameters())
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and gradients --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant (Dropout, BatchNorm care)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """``self.train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad`` (to ``None`` by default, as torch 2)."""
        for _, p in self._named_members("_parameters", "", True, True):
            g = p._grad
            if g is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    def share_memory(self) -> Module:
        return self

    # --- device and dtype -----------------------------------------------------------------------
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Apply ``fn`` to every parameter and buffer.  Parameters keep their identity (their array
        is swapped), so an optimizer built before ``.to()``/``.double()`` still updates them."""
        if recurse:
            for m in self.children():
                m._apply(fn)
        with grad_mode.no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                new = fn(param)
                if new is not param:
                    param._data = new._data
                g = param._grad
                if g is not None:
                    new_g = fn(g)
                    if new_g is not g:
                        g._data = new_g._data
            for key, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[key] = fn(buf)
        return self

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn(m)`` on every descendant, then on ``self`` (for custom initialisation).

        >>> import nnbox.nn as nn
        >>> net = nn.Sequential(nn.Linear(2, 2))
        >>> _ = net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast parameters and buffers in place: ``to(device)``, ``to(dtype)``,
        ``to(tensor)``.  Only floating point (and complex) tensors change dtype."""
        from ...ops.convert import _parse_to

        dev, dtype, _ = _parse_to(args, dict(kwargs))
        if dtype is not None:
            from ..._backend import dtype as _dt

            npdt = _dt.to_numpy_dtype(dtype)
            if npdt.kind not in "fcV":  # V: bfloat16
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            if dtype is not None and t._data.dtype.kind in "fcV":
                return t.to(dev, dtype)
            return t.to(dev) if dev is not None else t

        self._check_plain_containers()
        return self._apply(convert)

    def to_empty(self, *, device=None, recurse: bool = True) -> Module:
        """Give every parameter and buffer fresh uninitialised storage on ``device``."""
        from ...ops.creation import empty_like

        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def cuda(self, device=None) -> Module:
        return self._apply(lambda t: t.cuda(device))

    def cpu(self) -> Module:
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type) -> Module:
        """Cast every parameter and buffer (integer ones too) to ``dst_type``."""
        return self._apply(lambda t: t.type(dst_type))

    def _cast_floats(self, np_dtype) -> Module:
        from ...ops.convert import cast

        return self._apply(lambda t: cast(t, np_dtype) if t._data.dtype.kind in "fV" else t)

    def float(self) -> Module:
        import numpy as np

        return self._cast_floats(np.dtype(np.float32))

    def double(self) -> Module:
        import numpy as np

        return self._cast_floats(np.dtype(np.float64))

    def half(self) -> Module:
        import numpy as np

        return self._cast_floats(np.dtype(np.float16))

    def bfloat16(self) -> Module:
        """Cast floating-point parameters and buffers to bfloat16 (needs ml_dtypes).

        >>> import nnbox
        >>> nnbox.nn.Linear(2, 1).bfloat16().weight.dtype
        torch.bfloat16
        """
        from ..._backend.dtype import load_bfloat16

        return self._cast_floats(load_bfloat16())

    # --- state dict -----------------------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """Put this module's own parameters and persistent buffers (not children's) in ``destination``."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        non_persistent = self._non_persistent_buffers_set
        for name, b in self._buffers.items():
            if b is not None and name not in non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ``OrderedDict`` of every parameter and persistent buffer by dotted name (detached
        unless ``keep_vars``): the keys torch would produce for the same model.

        >>> import nnbox.nn as nn
        >>> list(nn.Sequential(nn.Linear(2, 2)).state_dict())
        ['0.weight', '0.bias']
        """
        if args:  # torch's deprecated positional form: (destination, prefix, keep_vars)
            if len(args) > 3:
                raise TypeError(f"state_dict() takes at most 3 positional arguments but {len(args)} were given")
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, local_metadata)
            if res is not None:
                destination = res
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs) -> None:
        """Check and load this module's own entries of ``state_dict`` (children load themselves).

        Subclasses override this to adapt old checkpoints (e.g. BatchNorm's ``num_batches_tracked``)
        and then call ``super()._load_from_state_dict``.
        """
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        non_persistent = self._non_persistent_buffers_set
        local = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, v) for k, v in self._buffers.items() if v is not None and k not in non_persistent)
        assign = local_metadata.get("assign_to_params_buffers", False)
        queue = _load_queue[-1] if _load_queue else None
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like object '
                    f"from checkpoint but received {type(value)}"
                )
                continue
            lazy = isinstance(param, UninitializedParameter)
            if not lazy and tuple(value.shape) != tuple(param._data.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                    f"the shape in current model is {param.shape}."
                )
                continue
            job = (self, name, param, value, assign)
            if queue is None:
                _copy_into(*job)
            else:
                queue.append(job)
        extra_key = prefix + "_extra_state"
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head, dot, _ = key[len(prefix):].partition(".")
                    if dot:
                        if head not in self._modules:
                            unexpected_keys.append(key)
                    elif head not in local:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict``.  With ``strict`` (default) missing or
        unexpected keys raise torch's ``RuntimeError``; shape mismatches always raise.  Nothing is
        copied unless every entry checks out.  Returns ``(missing_keys, unexpected_keys)``."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module: Module, local_sd: dict, prefix: str) -> None:
            meta = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                meta["assign_to_params_buffers"] = True
            module._load_from_state_dict(local_sd, prefix, meta, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_sd.items() if k.startswith(child_prefix)}, child_prefix)

        _load_queue.append([])
        try:
            load(self, state_dict, "")
        finally:
            queue = _load_queue.pop()
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(self._get_name(), "\n\t".join(errors)))
        for job in queue:
            _copy_into(*job)
        result = _IncompatibleKeys(missing, unexpected)
        for m in self.modules():
            for hook in m._load_state_dict_post_hooks.values():
                hook(m, result)
        return result

    # --- hook registration ----------------------------------------------------------------------
    @staticmethod
    def _add_hook(store: OrderedDict, hook, prepend: bool, extra=None) -> RemovableHandle:
        handle = RemovableHandle(store, extra_dict=extra)
        store[handle.id] = hook
        if prepend:
            store.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        """Run ``hook(module, args)`` (or ``hook(module, args, kwargs)``) before ``forward``; a
        non-None result replaces the input."""
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend, [self._forward_pre_hooks_with_kwargs])
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Run ``hook(module, args, output)`` after ``forward``; a non-None result replaces the output.

        >>> import nnbox, nnbox.nn as nn
        >>> lin, seen = nn.Linear(2, 3), []
        >>> h = lin.register_forward_hook(lambda m, inp, out: seen.append(out.shape))
        >>> _ = lin(nnbox.ones(1, 2)); h.remove(); seen
        [torch.Size([1, 3])]
        """
        handle = self._add_hook(self._forward_hooks, hook, prepend,
                                [self._forward_hooks_with_kwargs, self._forward_hooks_always_called])
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(module, grad_input, grad_output)`` once the gradients with respect to the
        module's positional tensor inputs are known; a non-None result replaces ``grad_input``."""
        self.__dict__["_is_full_backward_hook"] = True
        return self._add_hook(self._backward_hooks, hook, prepend)

    register_backward_hook = register_full_backward_hook  # the legacy form: full semantics here

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(module, grad_output)`` when the output gradients arrive; a non-None result
        replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        return self._add_hook(self._state_dict_pre_hooks, hook, False)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        return self._add_hook(self._state_dict_hooks, hook, False)

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors)``."""
        return self._add_hook(self._load_state_dict_pre_hooks, _WithModule(self, hook), False)

    def _register_load_state_dict_pre_hook(self, hook: Callable, with_module: bool = False) -> RemovableHandle:
        return self._add_hook(self._load_state_dict_pre_hooks, _WithModule(self, hook) if with_module else hook, False)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` after a successful ``load_state_dict``."""
        return self._add_hook(self._load_state_dict_post_hooks, hook, False)

    # --- repr -----------------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside this module's parentheses (e.g. ``in_features=2, ...``); override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        return self._format_repr(extra_lines, child_lines)

    def _format_repr(self, extra_lines: list, child_lines: list) -> str:
        lines = extra_lines + child_lines
        if not lines:
            return self._get_name() + "()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class _WithModule:
    """A load-state-dict pre hook that also receives the module (torch's public hook form)."""

    def __init__(self, module: Module, hook: Callable):
        self.module, self.hook = module, hook

    def __call__(self, *args):
        return self.hook(self.module, *args)


def _copy_into(module: Module, name: str, param: Tensor, value: Tensor, assign: bool) -> None:
    """Load one checked ``state_dict`` entry into ``module.name``."""
    with grad_mode.no_grad():
        if isinstance(param, UninitializedParameter):
            param.materialize(value.shape, device=value.device, dtype=param.dtype)
        if assign:
            if isinstance(param, Parameter) and not isinstance(value, Parameter):
                value = Parameter(value, requires_grad=param.requires_grad)
            elif isinstance(param, Parameter):
                value.requires_grad_(param.requires_grad)
            if name in module._parameters:
                module._parameters[name] = value
            else:
                module._buffers[name] = value
        else:
            param.copy_(value)
