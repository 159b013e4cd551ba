"""``torch.autograd.functional``: Jacobians, Hessians and vector products of a Python function.

Everything here is reverse mode on nnbox's tape: a Jacobian is one vector-Jacobian product per
output element, a Hessian is the Jacobian of a gradient taken with ``create_graph=True``, and
the forward-mode products (``jvp``, ``hvp``) use the double-backward trick (the vjp is linear in
its vector, so differentiating it w.r.t. that vector gives the jvp), as torch does without
``vectorize``.  ``vectorize=True`` is accepted and gives the same numbers (nnbox has no vmap to
batch the products: they run one after another).

>>> import nnbox
>>> from nnbox.autograd.functional import hessian
>>> hessian(lambda x: (x * x * x).sum(), nnbox.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""
from __future__ import annotations

from . import grad as _autograd_grad
from . import grad_mode

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tensor_cls():
    from .._tensor import Tensor

    return Tensor


def _as_tuple(x, what: str, fn_name: str):
    """``x`` as a tuple of Tensors, and whether it was a tuple (results mirror the input's form)."""
    T = _tensor_cls()
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, T):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise TypeError(
                f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors but {where} "
                f"has type {type(el)}."
            )
    return is_tuple, items


def _unpack(x, is_tuple: bool):
    return x if is_tuple else x[0]


def _unpack2(x, outer: bool, inner: bool):
    if not inner:
        x = tuple(row[0] for row in x)
    return x if outer else x[0]


def _prepare(inputs, create_graph: bool, need_graph: bool):
    """Fresh inputs to differentiate w.r.t.: connected to the caller's graph only when the results
    must be differentiable (``create_graph`` on an input that requires grad), detached otherwise."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(x, create_graph: bool):
    """Results leave the function detached unless the caller asked for a graph."""
    if isinstance(x, tuple):
        return tuple(_finish(e, create_graph) for e in x)
    if x is None or create_graph:
        return x
    return x.detach()


def _check_outputs(outputs, strict: bool) -> None:
    if not strict:
        return
    for i, o in enumerate(outputs):
        if not o.requires_grad:
            raise RuntimeError(
                f"Output {i} of the user-provided function does not require gradients. The outputs must be "
                "computed in a differentiable manner from the input when running in strict mode."
            )


def _validate_v(v, ref, is_tuple: bool) -> None:
    if len(v) != len(ref):
        if is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(ref)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for a, b in zip(v, ref):
        if a.shape != b.shape:
            raise RuntimeError(f"v has invalid size: should be {b.shape} but got {a.shape}.")


def _grad(outputs, inputs, grad_outputs=None, create_graph: bool = False, retain_graph=None):
    """``autograd.grad`` over the outputs that require grad; None for inputs they do not reach."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs or [None] * len(outputs)) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gos = zip(*pairs)
    return _autograd_grad(list(outs), list(inputs), list(gos), retain_graph=retain_graph,
                          create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs "
                  "when using the double backward trick to compute forward mode gradients. This is not "
                  "allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not "
                   "allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the grad "
                         "jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _zeros_for_none(grads, refs, strict: bool, stage: str):
    """Gradients that autograd left as None (independent of that input) become zeros, or, in strict
    mode, an error."""
    from ..ops.creation import zeros_like

    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = zeros_like(r)
        out.append(g)
    return tuple(out)


def _call(func, inputs, fn_name: str):
    with grad_mode.enable_grad():
        outputs = func(*inputs)
    is_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    return is_tuple, outputs


def _scalar_output(outputs, fn_name: str):
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")
    out = outputs[0]
    return out if out.ndim == 0 else out.reshape(())


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product.

    >>> import nnbox
    >>> from nnbox.autograd.functional import vjp
    >>> vjp(lambda x: (x * x).sum(), nnbox.tensor([1.0, 2.0]))
    (tensor(5.), tensor([2., 4.]))
    """
    in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph, True)
    out_tuple, outputs = _call(func, inputs, "vjp")
    _check_outputs(outputs, strict)
    if v is not None:
        _, v = _as_tuple(v, "v", "vjp")
        _validate_v(v, outputs, out_tuple)
    elif len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(
            "The vector v can only be None if the user-provided function returns a single Tensor with a "
            "single element."
        )
    with grad_mode.enable_grad():
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        grads = _zeros_for_none(grads, inputs, strict, "back")
    return _finish(_unpack(outputs, out_tuple), create_graph), _finish(_unpack(grads, in_tuple), create_graph)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-backward trick.

    >>> import nnbox
    >>> from nnbox.autograd.functional import jvp
    >>> jvp(lambda x: x * x, nnbox.tensor([1.0, 2.0]), nnbox.tensor([1.0, 1.0]))
    (tensor([1., 4.]), tensor([2., 4.]))
    """
    from ..ops.creation import zeros_like

    in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph, True)
    if v is not None:
        _, v = _as_tuple(v, "v", "jvp")
        _validate_v(v, inputs, in_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(
            "The vector v can only be None if the input to the user-provided function is a single Tensor "
            "with a single element."
        )
    out_tuple, outputs = _call(func, inputs, "jvp")
    _check_outputs(outputs, strict)
    with grad_mode.enable_grad():
        # u -> J^T u is linear in u: its derivative w.r.t. u, applied to v, is J v
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_in = _grad(outputs, inputs, dummies, create_graph=True)
        _zeros_for_none(grad_in, inputs, strict, "back")
        live = [(g, vi) for g, vi in zip(grad_in, v or (None,) * len(inputs)) if g is not None]
        if live:
            res = _grad([g for g, _ in live], dummies, [vi for _, vi in live], create_graph=create_graph)
        else:
            res = (None,) * len(dummies)
        res = _zeros_for_none(res, outputs, strict, "back_trick")
    return _finish(_unpack(outputs, out_tuple), create_graph), _finish(_unpack(res, out_tuple), create_graph)


def _check_strategy(strategy: str, vectorize: bool) -> None:
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function has more '
            'outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer to use '
            '"reverse-mode".'
        )
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError(
            "Computing Jacobian using forward-AD or forward-over-reverse Hessian isonly implemented for "
            "`vectorize=True`."
        )


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``o`` and input ``i``, a Tensor of shape
    ``o.shape + i.shape``, nested like torch's (tuples where the inputs/outputs were tuples).

    >>> import nnbox
    >>> from nnbox.autograd.functional import jacobian
    >>> jacobian(lambda x: x * x, nnbox.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    _check_strategy(strategy, vectorize)
    in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph, True)
    out_tuple, outputs = _call(func, inputs, "jacobian")
    _check_outputs(outputs, strict)
    with grad_mode.enable_grad():
        rows = tuple(_jacobian_of(o, inputs, create_graph, strict) for o in outputs)
    return _finish(_unpack2(rows, out_tuple, in_tuple), create_graph)


def _jacobian_of(out, inputs, create_graph: bool, strict: bool):
    """d out / d inputs, one backward pass per element of ``out`` (one row each)."""
    import numpy as np

    from ..ops.creation import zeros
    from ..ops.shape import stack

    n = out.numel()
    per_input = [[] for _ in inputs]
    for r in range(n):
        seed = np.zeros(n, dtype=out._data.dtype)
        seed[r] = 1
        go = _tensor_cls()._make(seed.reshape(out._data.shape))
        if type(out._data) is not np.ndarray:
            go = go.to(out.device)
        grads = _grad((out,), inputs, (go,), create_graph=create_graph, retain_graph=True)
        for k, (g, x) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(_INDEPENDENT["back"].format(i=k))
                g = zeros(x.shape, dtype=x.dtype, device=x.device)
            per_input[k].append(g)
    result = []
    for k, x in enumerate(inputs):
        if n:
            j = stack(per_input[k]).reshape(tuple(out.shape) + tuple(x.shape))
        else:
            j = zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype, device=x.device)
        result.append(j)
    return tuple(result)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func``: shape ``i.shape + j.shape`` for inputs ``i``, ``j``.

    >>> import nnbox
    >>> from nnbox.autograd.functional import hessian
    >>> hessian(lambda x: (x * x * x).sum(), nnbox.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    _check_strategy(outer_jacobian_strategy, vectorize)
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*inp):
        _, outputs = _call(func, inp, "hessian")
        out = _scalar_output(outputs, "hessian")
        _check_outputs((out,), strict)
        grads = _grad((out,), inp, create_graph=True)
        return _zeros_for_none(grads, inp, strict, "double_back")

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return res if in_tuple else res[0][0]


def _second_order(func, inputs, v, create_graph: bool, strict: bool, fn_name: str, trick: bool):
    from ..ops.creation import zeros_like

    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph, True)
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        _validate_v(v, inputs, in_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(
            "The vector v can only be None if the input to the user-provided function is a single Tensor "
            "with a single element."
        )
    _, outputs = _call(func, inputs, fn_name)
    out = _scalar_output(outputs, fn_name)
    _check_outputs((out,), strict)
    with grad_mode.enable_grad():
        jac = _grad((out,), inputs, create_graph=True)
        jac = _zeros_for_none(jac, inputs, strict, "double_back")
        live = [k for k, j in enumerate(jac) if j.requires_grad]
        if trick:  # H v as the derivative of (u -> u^T H) w.r.t. u, applied to v
            dummies = tuple(zeros_like(x).requires_grad_(True) for x in inputs)
            back = _grad([jac[k] for k in live], inputs, [dummies[k] for k in live], create_graph=True)
            back = _zeros_for_none(back, inputs, strict, "double_back_trick")
            live2 = [k for k, b in enumerate(back) if b.requires_grad]
            res = _grad([back[k] for k in live2], dummies, [v[k] for k in live2], create_graph=create_graph)
            res = _zeros_for_none(res, inputs, strict, "double_back_trick")
        else:
            res = _grad([jac[k] for k in live], inputs, [v[k] for k in live], create_graph=create_graph)
            res = _zeros_for_none(res, inputs, strict, "double_back")
    return _finish(out, create_graph), _finish(_unpack(res, in_tuple), create_graph)


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar ``func``.

    >>> import nnbox
    >>> from nnbox.autograd.functional import vhp
    >>> vhp(lambda x: (x * x * x).sum(), nnbox.tensor([1.0, 2.0]), nnbox.tensor([1.0, 1.0]))
    (tensor(9.), tensor([ 6., 12.]))
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp", trick=False)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar ``func``, by the double-backward trick.

    >>> import nnbox
    >>> from nnbox.autograd.functional import hvp
    >>> hvp(lambda x: (x * x * x).sum(), nnbox.tensor([1.0, 2.0]), nnbox.tensor([1.0, 1.0]))
    (tensor(9.), tensor([ 6., 12.]))
    """
    return _second_order(func, inputs, v, create_graph, strict, "hvp", trick=True)
