"""``gradcheck``: compare autograd's gradients with central finite differences (float64).

For every differentiable input ``x_i`` and every output ``y_o`` the Jacobian ``d y_o / d x_i`` is
built twice: numerically, by nudging each element of ``x_i`` by ``+-eps`` and differencing the
outputs, and analytically, by one backward pass per output element (one row of the Jacobian each).
They must agree within ``atol + rtol * |numerical|``.  Slow (one pass per element) but exact about
what it checks; use small float64 inputs.
"""
from __future__ import annotations

import numpy as np

from .._backend.device import array_module
from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    from .._tensor import Tensor

    out = _as_tuple(func(*inputs))
    return [o for o in out if isinstance(o, Tensor)]


def _host(a):
    """A NumPy copy of a result for the Jacobian tables (gradcheck is a host-side check)."""
    return a if type(a) is np.ndarray else a.get()


def _numerical(func, inputs, diff_idx, outputs, eps):
    """Central differences: J[o][i] has shape (numel(out o), numel(input i))."""
    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in diff_idx] for o in outputs]
    with no_grad():
        for k, i in enumerate(diff_idx):
            flat = inputs[i]._data.reshape(-1)  # a view: the nudges below reach the input
            data = inputs[i]._data
            if not (np.shares_memory(flat, data) if type(data) is np.ndarray else data.flags.c_contiguous):
                raise GradcheckError(f"gradcheck needs input {i} to be contiguous")
            for j in range(flat.size):
                orig = flat[j].item()
                flat[j] = orig + eps
                plus = [_host(o._data).astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
                flat[j] = orig - eps
                minus = [_host(o._data).astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
                flat[j] = orig
                for o in range(len(outputs)):
                    jac[o][k][:, j] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def _analytical(inputs, diff_idx, outputs):
    """One backward pass per output element: J[o][i] rows are d out[o].flat[r] / d input i."""
    from .._tensor import Tensor
    from . import grad as autograd_grad

    jac = [[np.zeros((o._data.size, inputs[i]._data.size)) for i in diff_idx] for o in outputs]
    wrt = [inputs[i] for i in diff_idx]
    for o, out in enumerate(outputs):
        if not out._rg:
            continue
        for r in range(out._data.size):
            seed = array_module(out._data).zeros(out._data.size, dtype=out._data.dtype)
            seed[r] = 1
            grads = autograd_grad(out, wrt, grad_outputs=Tensor._make(seed.reshape(out._data.shape)),
                                  retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                if g is not None:
                    if g._data.shape != wrt[k]._data.shape:
                        raise GradcheckError(
                            f"Gradient of input {diff_idx[k]} has shape {tuple(g._data.shape)}, expected "
                            f"{tuple(wrt[k]._data.shape)}"
                        )
                    jac[o][k][r, :] = _host(g._data).astype(np.float64).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked=None) -> bool:
    """Check ``func``'s gradients w.r.t. the inputs that require grad against finite differences.

    Returns True, or raises ``GradcheckError`` (False with ``raise_exception=False``).  ``fast_mode``
    runs the full check (stricter than torch's fast mode).

    >>> import nnbox
    >>> x = nnbox.rand(3, dtype=nnbox.float64, requires_grad=True)
    >>> nnbox.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    import warnings

    from .._tensor import Tensor

    for flag, name in ((check_batched_grad, "check_batched_grad"), (check_forward_ad, "check_forward_ad"),
                       (check_batched_forward_grad, "check_batched_forward_grad")):
        if flag:
            raise NotImplementedError(f"gradcheck({name}=True) is not supported by nnbox (no forward-mode/vmap AD)")
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._rg]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.")
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point or complex. "
                "This check will likely fail if all the inputs are not of double precision floating point or complex. ",
                UserWarning, stacklevel=2,
            )
    outputs = _outputs(func, inputs)
    if not check_backward_ad:
        return True

    def fail(msg: str) -> bool:
        if raise_exception:
            raise GradcheckError(msg)
        return False

    numerical = _numerical(func, inputs, diff_idx, outputs, eps)
    analytical = _analytical(inputs, diff_idx, outputs)
    for o in range(len(outputs)):
        for k, i in enumerate(diff_idx):
            a, n = analytical[o][k], numerical[o][k]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return fail(
                    f"Jacobian mismatch for output {o} with respect to input {i},\n"
                    f"numerical:{n!r}\nanalytical:{a!r}\n"
                )
    # reentrancy: a second backward must give the same gradients (within nondet_tol)
    again = _analytical(inputs, diff_idx, outputs)
    for o in range(len(outputs)):
        for k in range(len(diff_idx)):
            if np.abs(again[o][k] - analytical[o][k]).max(initial=0.0) > nondet_tol:
                return fail(
                    "Backward is not reentrant, i.e., running backward with same input and grad_output "
                    "multiple times gives different values, although analytical gradient matches numerical "
                    f"gradient.The tolerance for nondeterminism was {nondet_tol}."
                )
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: ``gradcheck`` of the function that maps (inputs, grad_outputs) to
    the first gradients, taken with ``create_graph=True``.  ``grad_outputs`` default to random
    normal tensors (from nnbox's generator) that require grad, so the check also covers the
    gradient's dependence on the upstream gradient.

    >>> import nnbox
    >>> x = nnbox.rand(3, dtype=nnbox.float64, requires_grad=True)
    >>> nnbox.autograd.gradgradcheck(lambda t: t * t * t, (x,))
    True
    """
    from .._tensor import Tensor
    from . import grad as autograd_grad
    from .grad_mode import enable_grad

    if check_fwd_over_rev:
        raise NotImplementedError("gradgradcheck(check_fwd_over_rev=True) is not supported by nnbox (no forward-mode AD)")
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        from ..ops.creation import randn

        with enable_grad():
            outs = [o for o in _outputs(func, inputs) if o._rg]
        grad_outputs = tuple(randn(tuple(o.shape), dtype=o.dtype, device=o.device, requires_grad=True) for o in outs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_go = len(grad_outputs)

    def first_grads(*args):
        inp, gos = args[:-n_go] if n_go else args, args[-n_go:] if n_go else ()
        with enable_grad():
            outs = [o for o in _outputs(func, inp) if o._rg]
            wrt = [t for t in inp if isinstance(t, Tensor) and t._rg]
            grads = autograd_grad(outs, wrt, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not check_rev_over_rev:
        return True
    return gradcheck(first_grads, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
                     check_batched_grad=check_batched_grad, fast_mode=fast_mode, masked=masked)
