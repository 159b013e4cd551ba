"""``torch.utils.checkpoint``: trade compute for memory by recomputing a segment in backward.

``checkpoint(fn, *args, use_reentrant=False)`` runs ``fn`` and keeps only its inputs and outputs;
the activations inside are freed at once and recomputed when backward reaches the segment,
with the random state of the first run restored so dropout draws the same masks.

How it works: the forward runs ``fn`` with grad on (on detached copies of the inputs) only to
learn which leaves (parameters) it reaches, then drops that graph. The segment becomes one node,
``CheckpointFunctionBackward``, whose inputs are the segment's tensor arguments and those leaves;
its backward reruns ``fn`` and differentiates the rerun. So, as torch's ``use_reentrant=False``,
gradients reach parameters used inside, ``autograd.grad`` works, and the inputs need not require
grad. Unlike torch's non-reentrant variant the outputs' ``grad_fn`` is that one node rather than
the segment's last op. Tensors that ``fn`` closes over should be leaves (parameters, constants);
a closed-over tensor with a graph of its own is differentiated through again in the rerun.

>>> import nnbox as torch
>>> from nnbox.utils.checkpoint import checkpoint
>>> layer = torch.nn.Linear(3, 3)
>>> x = torch.ones(2, 3, requires_grad=True)
>>> checkpoint(layer, x, use_reentrant=False).sum().backward()
>>> bool(torch.allclose(x.grad, layer.weight.sum(0).expand(2, 3)))
True
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import random as _random
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["checkpoint", "checkpoint_sequential", "noop_context_fn"]

_REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
    "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False "
    "is recommended, but if you need to preserve the current default behavior, you can pass "
    "use_reentrant=True. Refer to docs for more details on the differences between the two variants."
)


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def _snapshot(gen):
    """The generator's state, to replay its draws: torch's state tensor on the CPU, a copy of the
    engine on a GPU (CuPy's generators deep-copy with their state)."""
    return gen.get_state() if gen.device.type == "cpu" else copy.deepcopy(gen._rng)


def _restore(gen, snap, copy_first: bool) -> None:
    if gen.device.type == "cpu":
        gen.set_state(snap)  # copies: the snapshot may be replayed again
    else:
        gen._rng = copy.deepcopy(snap) if copy_first else snap


class _RngState:
    """The CPU generator's state and that of every GPU the inputs live on, to replay a segment."""

    def __init__(self, tensors: list):
        self.cpu = _snapshot(_random.default_generator)
        self.gpu = {}
        for t in tensors:
            if t.device.type == "cuda":
                idx = t.device.index or 0
                _random.generator_for(t.device)  # make sure it exists
                self.gpu[idx] = _snapshot(_random._cuda_generators[idx])

    @contextlib.contextmanager
    def replay(self):
        """Run the block from the saved state, then put the current state back (a fork)."""
        now = _RngState.__new__(_RngState)
        now.cpu = _snapshot(_random.default_generator)
        now.gpu = {i: _random._cuda_generators[i]._rng for i in self.gpu}
        self._set(copy_first=True)
        try:
            yield
        finally:
            now._set(copy_first=False)

    def _set(self, copy_first: bool) -> None:
        _restore(_random.default_generator, self.cpu, copy_first)
        for i, s in self.gpu.items():
            _restore(_random._cuda_generators[i], s, copy_first)


def _autocast_snapshot() -> list:
    """Context managers that put autocast back as it is now (per device type it was used on)."""
    from .._backend import autocast_state as _ac

    if not _ac.any_on[0]:
        return []
    from ..amp.autocast_mode import autocast

    return [autocast(dev, dtype=s.dtype, enabled=True, cache_enabled=s.cache_enabled)
            for dev, s in _ac.STATE.items() if s.enabled]


def _leaves(outputs: list, stop: set) -> list:
    """Leaf tensors requiring grad that ``outputs``' graph reaches, in first-seen order; the
    detached inputs (``stop``, by id) are not collected."""
    seen_nodes, seen_leaves, found = set(), set(), []
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        n = stack.pop()
        if id(n) in seen_nodes:
            continue
        seen_nodes.add(id(n))
        for e in getattr(n, "_edges", ()):
            if e is None:
                continue
            if type(e) is tuple:
                stack.append(e[0])
            elif id(e) not in stop and id(e) not in seen_leaves:
                seen_leaves.add(id(e))
                found.append(e)
    return found


class CheckpointFunction(Function):
    """The node standing for one checkpointed segment (``CheckpointFunctionBackward`` in
    ``grad_fn``). Its inputs: the segment's tensor arguments, then the leaves it uses."""

    _array_api = True
    # create_graph=True: the rerun is built on the real inputs, and its gradient has a graph
    _twice = True
    _torch_name = "CheckpointFunctionBackward"

    @staticmethod
    def forward(ctx, *arrays, outs=(), non_diff=()):
        ctx._non_diff = non_diff
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        run = ctx._run
        if run is None:  # a second backward without retain_graph fails like any freed node
            from ..autograd.function import FREED_MESSAGE

            raise RuntimeError(FREED_MESSAGE)
        return run(grads, ctx._in_graph)

    def _release(self) -> None:
        self._run = None  # the closure holds the inputs and the RNG state: free them with the graph


class _SegmentInput(Function):
    """The identity on a segment's argument, for a create_graph rerun: while the rerun's gradient
    is taken (``block[0]`` True) it stops there, so a leaf the argument's own history reaches gets
    only the segment's direct share (the checkpoint node's edge to the argument carries the rest);
    afterwards it passes, so differentiating that gradient again reaches the argument's graph."""

    _array_api = True
    _twice = True

    @staticmethod
    def forward(ctx, a, block):
        ctx.block = block
        return a

    @staticmethod
    def backward(ctx, grad):
        return (None if ctx.block[0] else grad), None


def _flatten_outputs(out) -> tuple[list, Callable]:
    """The tensors in ``out`` (a tensor, or a tuple/list holding tensors and other values) and a
    function that puts replacements back into the same structure."""
    if isinstance(out, Tensor):
        return [out], lambda ts: ts[0]
    if isinstance(out, (tuple, list)):
        pos = [i for i, o in enumerate(out) if isinstance(o, Tensor)]

        def rebuild(ts):
            items = list(out)
            for i, t in zip(pos, ts):
                items[i] = t
            return type(out)(items)

        return [out[i] for i in pos], rebuild
    raise TypeError(f"checkpoint: the function must return a Tensor or a tuple of them, got {type(out).__name__}")


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable = noop_context_fn, determinism_check: str = "default",
               debug: bool = False, early_stop: bool = True, **kwargs) -> Any:
    """Run ``function(*args, **kwargs)`` without keeping its activations; recompute in backward.

    ``preserve_rng_state=True`` (a keyword, as in torch) replays the random state, so dropout
    inside draws the same masks in the recomputation. ``use_reentrant`` should be given; left
    out it warns and means True, as in torch 2.13. With ``use_reentrant=True`` keyword
    arguments for ``function`` are refused and inputs that do not require grad give outputs
    without grad (torch's reentrant rules); both variants are computed the same way otherwise,
    so ``autograd.grad`` also works through a reentrant segment (torch refuses it there).

    >>> import nnbox as torch
    >>> from nnbox.utils.checkpoint import checkpoint
    >>> w = torch.ones(2, requires_grad=True)
    >>> y = checkpoint(lambda x: (x * w).sin(), torch.zeros(2), use_reentrant=False)
    >>> y.grad_fn.name()
    'CheckpointFunctionBackward'
    """
    preserve = kwargs.pop("preserve_rng_state", True)
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, UserWarning, stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if use_reentrant:
        if context_fn is not noop_context_fn or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    tensors = [a for a in args if isinstance(a, Tensor)]
    if use_reentrant and not any(t.requires_grad for t in tensors):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", UserWarning, stacklevel=2)
        with no_grad():
            return function(*args, **kwargs)
    if not is_grad_enabled():  # no graph to save memory on: just run it
        return function(*args, **kwargs)

    rng = _RngState(tensors) if preserve else None
    fwd_ctx, recompute_ctx = context_fn()
    autocast_state = _autocast_snapshot()  # the recomputation runs under the same autocast, as torch

    def run_detached(graph: bool = False):
        # the segment's own leaves: a detached copy of each tensor argument, one per position (a
        # tensor passed twice gets two, so each edge receives only its own share of the gradient);
        # for a create_graph backward an identity view of the argument instead, so the gradient
        # stays connected to the argument's own graph (its derivative w.r.t. the input exists)
        if graph:
            block = [True]
            aliases = [_SegmentInput.apply(t, block) if t.requires_grad else t for t in tensors]
            aliases.append(block)
        else:
            aliases = [t.detach().requires_grad_(t.requires_grad) for t in tensors]
        it = iter(aliases)
        call = [next(it) if isinstance(a, Tensor) else a for a in args]
        return aliases, function(*call, **kwargs)

    with fwd_ctx, enable_grad():
        aliases, out = run_detached()
    outs, rebuild = _flatten_outputs(out)
    leaves = _leaves(outs, {id(a) for a in aliases})
    meta = [(tuple(o.shape), o.dtype) for o in outs]
    non_diff = tuple(o._data for o in outs if not o.requires_grad)
    arrays = [o._data for o in outs]
    del out, aliases  # the segment's graph (and every activation it saved) goes here

    def recompute(grads, graph: bool = False):
        from ..autograd import grad as _grad

        with contextlib.ExitStack() as stack:
            if rng is not None:
                stack.enter_context(rng.replay())
            for ac in autocast_state:
                stack.enter_context(ac)
            stack.enter_context(recompute_ctx)
            stack.enter_context(enable_grad())
            aliases2, out2 = run_detached(graph)
        block = aliases2.pop() if graph else None
        outs2, _ = _flatten_outputs(out2)
        if determinism_check == "default":
            now = [(tuple(o.shape), o.dtype) for o in outs2]
            if now != meta:
                raise RuntimeError(
                    "torch.utils.checkpoint: Recomputed values for the following tensors have different "
                    f"metadata than during the forward pass.\nforward: {meta}\nrecomputation: {now}"
                )
        roots, root_grads = [], []
        for o, g in zip(outs2, grads):
            if g is not None and o.requires_grad:
                roots.append(o)
                root_grads.append(g if graph else Tensor._make(g))
        wanted = [a for a in aliases2 if a.requires_grad] + leaves
        if not roots or not wanted:
            return (None,) * (len(tensors) + len(leaves))
        got = iter(_grad(roots, wanted, root_grads, retain_graph=True, allow_unused=True, create_graph=graph))
        if block is not None:
            block[0] = False  # from now on (differentiating these gradients) the inputs' edges pass
        res = [next(got) if a.requires_grad else None for a in aliases2] + [next(got) for _ in leaves]
        if graph:
            return tuple(res)
        return tuple(None if g is None else g._data for g in res)

    res = CheckpointFunction.apply(*tensors, *leaves, outs=arrays, non_diff=non_diff)
    res = list(res) if isinstance(res, tuple) else [res]
    node = next((r.grad_fn for r in res if r.grad_fn is not None), None)
    if node is not None:
        node._run = recompute
        node._reentrant = use_reentrant
    return rebuild(res)


def checkpoint_sequential(functions, segments: int, input: Tensor, use_reentrant: bool | None = None,
                          **kwargs) -> Tensor:
    """Run a ``Sequential`` (or a list of modules) in ``segments`` checkpointed chunks.

    As torch: the modules are cut into chunks of ``len // segments``; every chunk but the last
    is checkpointed, the last runs normally (its activations are needed at once anyway).

    >>> import nnbox as torch
    >>> from nnbox.utils.checkpoint import checkpoint_sequential
    >>> net = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(4)])
    >>> x = torch.randn(2, 4, requires_grad=True)
    >>> torch.allclose(checkpoint_sequential(net, 2, x, use_reentrant=False), net(x))
    True
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
            "use_reentrant=False is recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
            "differences between the two variants.",
            UserWarning,
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn.modules.container import Sequential

    mods = list(functions.children()) if isinstance(functions, Sequential) else list(functions)
    size = len(mods) // segments

    def run(start: int, end: int):
        def forward(x):
            for m in mods[start:end + 1]:
                x = m(x)
            return x

        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(mods) - 1)(input)
