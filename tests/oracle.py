"""The torch oracle: run the same program on torch and on nnbox, compare values and gradients.

    check(lambda m, x, y: m.add(x, y), [a, b])

``m`` is the module (``torch`` or ``nnbox``); the inputs are NumPy arrays, made into tensors of
each library (floating ones with ``requires_grad=True``).  Outputs (a tensor or nested tuples/lists
of them) must match in shape, dtype and values; then a fixed random upstream gradient is pushed
through both and every input's ``.grad`` must match too.
"""
from __future__ import annotations

import re

import numpy as np
import torch

import nnbox

RNG = np.random.default_rng(1234)


def torch_repr(t) -> str:
    """torch's repr of ``t``, as torch prints the same tensor on cuda:0 when this is the device pass:
    the device is the first suffix (``tensor([1.], device='cuda:0', dtype=torch.float64)``), and
    suffixes that would pass the line width go on a line of their own, indented under the data."""
    r = repr(t) if not isinstance(t, str) else t
    if nnbox.get_default_device().type != "cuda":
        return r
    body = r[len("tensor("):-1]
    end = body.rfind("]") + 1 if "]" in body else (body.find(",") if "," in body else len(body))
    data, rest = "tensor(" + body[:end], body[end:]
    suffixes = ["device='cuda:0'"] + [x for x in re.split(r",\s+(?=[a-z_]+=)", rest) if x.strip(", \n")]
    out, line = data, len(data) - data.rfind("\n") + 1
    width = torch._tensor_str.PRINT_OPTS.linewidth
    for sfx in suffixes:
        if line + len(sfx) + 2 > width:
            out += ",\n" + " " * len("tensor(") + sfx
            line = len("tensor(") + len(sfx)
        else:
            out += ", " + sfx
            line += len(sfx) + 2
    return out + ")"


def torch_message(msg: str) -> str:
    """An error message of torch's with each tensor repr in it as torch words it on cuda:0 when
    this is the device pass (``torch_repr`` of every ``tensor(...)``)."""
    if nnbox.get_default_device().type != "cuda":
        return msg
    out, i = [], 0
    while (j := msg.find("tensor(", i)) >= 0:
        if j and (msg[j - 1].isalnum() or msg[j - 1] == "_"):
            out.append(msg[i:j + 7])
            i = j + 7
            continue
        depth, k = 0, j + 6
        while True:
            depth += {"(": 1, ")": -1}.get(msg[k], 0)
            if depth == 0:
                break
            k += 1
        out.append(msg[i:j] + torch_repr(msg[j:k + 1]))
        i = k + 1
    return "".join(out) + msg[i:]


def arr(*shape, dtype=np.float64, low=-2.0, high=2.0, positive=False):
    """A random test array (float64 by default, so comparisons can be tight)."""
    if np.dtype(dtype).kind in "iu":
        return np.asarray(RNG.integers(0 if positive else -5, 6, size=shape).astype(dtype))
    if np.dtype(dtype) == np.bool_:
        return np.asarray(RNG.random(shape) > 0.5)  # an array even for shape ()
    a = RNG.uniform(0.1 if positive else low, high, size=shape)
    return np.asarray(a, dtype=dtype)


def _make(lib, a, grad):
    if isinstance(a, np.ndarray):
        t = lib.tensor(a.copy())
        if grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    return a


def _flatten(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flatten(o))
        return res
    return [out]


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch's second gradients may be ZeroTensors
    if isinstance(t, nnbox.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def _tol(dtype, rtol, atol):
    if rtol is not None:
        return rtol, atol if atol is not None else rtol
    if dtype in (np.float32, np.float16):
        return 1e-5 if dtype == np.float32 else 1e-3, 1e-5 if dtype == np.float32 else 1e-3
    return 1e-10, 1e-12


def _same_scalar(a, b, where: str) -> None:
    """A non-Tensor value (number, bool, None, dtype, device, string): same kind and same value."""
    if a is None or b is None:
        assert a is b, f"{where}: {b!r} != torch {a!r}"
    elif isinstance(b, (torch.Tensor, nnbox.Tensor)):
        raise AssertionError(f"{where}: expected {type(a).__name__} {a!r}, got a Tensor")
    elif isinstance(a, bool):
        assert isinstance(b, (bool, np.bool_)) and bool(b) == a, f"{where}: {b!r} != torch {a!r}"
    elif isinstance(a, int):
        assert isinstance(b, (int, np.integer)) and not isinstance(b, bool) and int(b) == a, \
            f"{where}: {b!r} ({type(b).__name__}) != torch {a!r} (int)"
    elif isinstance(a, float):
        assert isinstance(b, (float, np.floating)), f"{where}: {b!r} ({type(b).__name__}) != torch {a!r} (float)"
        assert a == b or np.isclose(a, b, equal_nan=True), f"{where}: {b} != torch {a}"
    elif isinstance(a, (torch.dtype, torch.device)):
        assert str(a) == str(b).replace("nnbox.", "torch."), f"{where}: {b!r} != torch {a!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {b!r} ({type(b).__name__}) != torch {a!r} ({type(a).__name__})"


def assert_same(t_out, n_out, rtol=None, atol=None, what="output"):
    """torch's and nnbox's results agree: the same number of values, Tensors where torch has
    Tensors (same shape, dtype, values) and equal plain values (None, numbers, dtypes) elsewhere."""
    to, no = _flatten(t_out), _flatten(n_out)
    assert len(to) == len(no), f"{what}: torch gave {len(to)} outputs, nnbox {len(no)}"
    for i, (a, b) in enumerate(zip(to, no)):
        if isinstance(a, torch.Tensor):
            assert isinstance(b, nnbox.Tensor), f"{what}[{i}]: expected a Tensor, got {type(b).__name__}"
            assert tuple(a.shape) == tuple(b.shape), f"{what}[{i}]: shape {tuple(b.shape)} != torch {tuple(a.shape)}"
            assert str(a.dtype) == repr(b.dtype), f"{what}[{i}]: dtype {b.dtype!r} != torch {a.dtype}"
            an, bn = _np(a), _np(b)
            r, at = _tol(an.dtype, rtol, atol)
            if an.dtype.kind in "fc":
                np.testing.assert_allclose(bn, an, rtol=r, atol=at, err_msg=f"{what}[{i}] values", equal_nan=True)
            else:
                np.testing.assert_array_equal(bn, an, err_msg=f"{what}[{i}] values")
        else:
            _same_scalar(a, b, f"{what}[{i}]")


def check(fn, inputs, *, grad: bool = True, rtol=None, atol=None, grad_rtol=None, grad_atol=None, order: int = 1):
    """Compare ``fn(torch, *inputs)`` with ``fn(nnbox, *inputs)``: values, then gradients.

    ``order=2`` also compares second derivatives: the first gradients are taken with
    ``create_graph=True`` (w.r.t. the inputs and the upstream gradient, which then requires grad
    too), a random weighted sum of them is differentiated again, and every input's and the upstream
    gradient's ``.grad`` must match torch's (and so must which first gradients have a graph).
    """
    if order == 2:
        return _check_order2(fn, inputs, rtol=rtol, atol=atol, grad_rtol=grad_rtol, grad_atol=grad_atol)
    t_in = [_make(torch, a, grad) for a in inputs]
    n_in = [_make(nnbox, a, grad) for a in inputs]
    t_out = fn(torch, *t_in)
    n_out = fn(nnbox, *n_in)
    assert_same(t_out, n_out, rtol, atol)
    if not grad:
        return t_out, n_out
    t_outs = [o for o in _flatten(t_out) if isinstance(o, torch.Tensor) and o.requires_grad]
    n_outs = [o for o in _flatten(n_out) if isinstance(o, nnbox.Tensor) and o.requires_grad]
    assert len(t_outs) == len(n_outs), "different outputs require grad"
    if not t_outs:
        return t_out, n_out
    t_loss, n_loss = 0, 0
    for to, no in zip(t_outs, n_outs):
        g = RNG.standard_normal(tuple(to.shape))
        t_loss = t_loss + (to * torch.tensor(g, dtype=to.dtype)).sum()
        n_loss = n_loss + (no * nnbox.tensor(g, dtype=no.dtype, device=no.device)).sum()
    t_loss.backward()
    n_loss.backward()
    for i, (a, b) in enumerate(zip(t_in, n_in)):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            if a.grad is None:
                assert b.grad is None, f"input {i}: nnbox has a grad, torch none"
                continue
            assert b.grad is not None, f"input {i}: torch has a gradient, nnbox none"
            assert_same(a.grad, b.grad, grad_rtol or rtol, grad_atol or atol, what=f"grad of input {i}")
    return t_out, n_out


def _check_order2(fn, inputs, *, rtol, atol, grad_rtol, grad_atol):
    t_in = [_make(torch, a, True) for a in inputs]
    n_in = [_make(nnbox, a, True) for a in inputs]
    t_out, n_out = fn(torch, *t_in), fn(nnbox, *n_in)
    assert_same(t_out, n_out, rtol, atol)
    t_outs = [o for o in _flatten(t_out) if isinstance(o, torch.Tensor) and o.requires_grad]
    n_outs = [o for o in _flatten(n_out) if isinstance(o, nnbox.Tensor) and o.requires_grad]
    assert len(t_outs) == len(n_outs) > 0, "different outputs require grad"
    t_ups, n_ups = [], []
    for to in t_outs:  # each upstream gradient on its output's device (torch refuses one elsewhere)
        g = RNG.standard_normal(tuple(to.shape))
        t_ups.append(torch.tensor(g, dtype=to.dtype, requires_grad=True))
        n_ups.append(nnbox.tensor(g, dtype=_nn_dtype(to.dtype), device=n_outs[len(n_ups)].device, requires_grad=True))
    t_wrt = [t for t in t_in if isinstance(t, torch.Tensor) and t.requires_grad]
    n_wrt = [t for t in n_in if isinstance(t, nnbox.Tensor) and t.requires_grad]
    t_g = torch.autograd.grad(t_outs, t_wrt, t_ups, create_graph=True, allow_unused=True)
    n_g = nnbox.autograd.grad(n_outs, n_wrt, n_ups, create_graph=True, allow_unused=True)
    r, a = grad_rtol or rtol, grad_atol or atol
    t_loss, n_loss = 0, 0
    for i, (tg, ng) in enumerate(zip(t_g, n_g)):
        if tg is None:
            assert ng is None or not np.any(ng.detach().numpy()), f"first grad {i}: nnbox has one, torch none"
            continue
        assert ng is not None, f"first grad {i}: torch has one, nnbox none"
        assert_same(tg, ng, r, a, what=f"first grad of input {i}")
        assert tg.requires_grad == ng.requires_grad, (
            f"first grad {i}: requires_grad {ng.requires_grad} != torch {tg.requires_grad}")
        if tg.requires_grad:
            w = RNG.standard_normal(tuple(tg.shape))
            t_loss = t_loss + (tg * torch.tensor(w, dtype=tg.dtype)).sum()
            n_loss = n_loss + (ng * nnbox.tensor(w, dtype=ng.dtype, device=ng.device)).sum()
    if isinstance(t_loss, int):
        return t_out, n_out  # the op is linear in its inputs: nothing to differentiate twice
    t_loss.backward()
    n_loss.backward()
    for what, ts, ns in (("input", t_wrt, n_wrt), ("upstream grad", t_ups, n_ups)):
        for i, (tt, nt) in enumerate(zip(ts, ns)):
            if tt.grad is None:
                assert nt.grad is None or not np.any(nt.grad.numpy()), f"second grad of {what} {i}: nnbox has one, torch none"
                continue
            assert nt.grad is not None, f"second grad of {what} {i}: torch has one, nnbox none"
            assert_same(tt.grad, nt.grad, r, a, what=f"second grad of {what} {i}")
    return t_out, n_out


def _nn_dtype(torch_dtype):
    return getattr(nnbox, str(torch_dtype).split(".")[-1])


def check_error(fn, inputs, match: str | None = None):
    """``fn`` must raise the same exception type in torch and nnbox (nnbox's message may be checked)."""
    import pytest

    t_in = [_make(torch, a, False) for a in inputs]
    n_in = [_make(nnbox, a, False) for a in inputs]
    with pytest.raises(Exception) as te:
        fn(torch, *t_in)
    with pytest.raises(type(te.value)) as ne:
        fn(nnbox, *n_in)
    if match is not None:
        import re

        assert re.search(match, str(ne.value)), f"message {str(ne.value)!r} does not match {match!r}"
    return te.value, ne.value


def fd_check(fn, inputs, *, wrt=None, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0):
    """Finite differences for hand-written backwards, by the one checker: ``nnbox.autograd.gradcheck``.

    The NumPy ``inputs`` become nnbox tensors (float ones require grad; only those at the indices
    ``wrt`` when given), and ``fn``'s floating outputs are projected onto one scalar with fixed
    random weights, so each check costs one backward pass instead of one per output element.
    """
    rng = np.random.default_rng(seed)
    tensors = []
    for i, a in enumerate(inputs):
        if isinstance(a, np.ndarray):
            t = nnbox.tensor(a.copy())
            if a.dtype.kind == "f" and (wrt is None or i in wrt):
                t.requires_grad_(True)
            a = t
        tensors.append(a)
    weights = []

    def projected(*xs):
        outs = [o for o in _flatten(fn(*xs)) if isinstance(o, nnbox.Tensor) and o.dtype.is_floating_point]
        if not weights:  # drawn once: the numerical and analytical passes see the same projection
            weights.extend(nnbox.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device) for o in outs)
        return sum((o * w).sum() for o, w in zip(outs, weights))

    assert nnbox.autograd.gradcheck(projected, tuple(tensors), eps=eps, rtol=rtol, atol=atol)


def same_error(fn, match: str | None = None):
    """``fn(torch)`` and ``fn(nnbox)`` raise the same exception type with the same message (class
    paths normalised: ``nnbox.`` reads ``torch.``); ``match`` is searched in nnbox's message."""
    import pytest

    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)) as ne:
        fn(nnbox)
    got = str(ne.value).replace("nnbox.", "torch.")
    if nnbox.get_default_device().type == "cuda":  # the device pass: torch (the oracle) ran on the CPU
        got = got.replace("torch.cuda.", "torch.")
    if match is not None:
        import re

        assert re.search(match, got), f"{got!r} does not match {match!r}"
    assert got == str(te.value), f"{ne.value!s} != torch {te.value!s}"
    return ne.value


def gradgrad_fd(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Finite differences on the first gradients of ``fn(*inputs)`` (upstream gradient of ones), so
    an op's hand-written double backward is checked on its own, not only against torch: the one
    checker, ``nnbox.autograd.gradgradcheck``.  Float64 inputs that require grad."""
    with nnbox.enable_grad():
        ones = nnbox.ones_like(fn(*inputs))
    return nnbox.autograd.gradgradcheck(fn, tuple(inputs), (ones,), eps=eps, atol=atol, rtol=rtol)

