"""Compare an nnbox layer with the same torch layer: same weights, same input -> same output,
input gradient and parameter gradients; same state_dict keys/shapes/values and repr."""
from __future__ import annotations

import numpy as np
import torch

import nnbox


def copy_state(tm, nm) -> None:
    """Copy every parameter and buffer of torch module ``tm`` into nnbox module ``nm``."""
    nsd = nm.state_dict(keep_vars=True)
    tsd = tm.state_dict(keep_vars=True)
    assert list(nsd) == list(tsd), f"state_dict keys {list(nsd)} != torch {list(tsd)}"
    for k, t in tsd.items():
        n = nsd[k]
        assert tuple(n.shape) == tuple(t.shape), f"{k}: shape {tuple(n.shape)} != torch {tuple(t.shape)}"
        assert str(t.dtype) == repr(n.dtype), f"{k}: dtype {n.dtype!r} != torch {t.dtype}"
        n._data[...] = t.detach().numpy()


def assert_state_equal(tm, nm, rtol=1e-10, atol=1e-12) -> None:
    tsd, nsd = tm.state_dict(), nm.state_dict()
    assert list(nsd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(nsd[k].numpy(), tsd[k].numpy(), rtol=rtol, atol=atol, err_msg=k)


def compare_module(tm, nm, *inputs, rtol=1e-10, atol=1e-12, grad=True, copy=True):
    """Run both modules on the NumPy ``inputs``; compare output, input grads and param grads."""
    assert repr(nm) == repr(tm), f"repr {nm!r} != torch {tm!r}"
    if copy:
        copy_state(tm, nm)
    tin = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
           for a in inputs]
    nin = [nnbox.tensor(a, requires_grad=grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
           for a in inputs]
    to, no = tm(*tin), nm(*nin)
    to_l = list(to) if isinstance(to, tuple) else [to]
    no_l = list(no) if isinstance(no, tuple) else [no]
    for a, b in zip(to_l, no_l):
        assert tuple(a.shape) == tuple(b.shape), f"output shape {tuple(b.shape)} != torch {tuple(a.shape)}"
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=rtol, atol=atol)
    if grad and to_l[0].requires_grad:
        g = np.random.default_rng(0).standard_normal(tuple(to_l[0].shape)).astype(inputs[0].dtype)
        to_l[0].backward(torch.tensor(g))
        no_l[0].backward(nnbox.tensor(g))
        for i, (a, b) in enumerate(zip(tin, nin)):
            if isinstance(a, torch.Tensor) and a.requires_grad:
                np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=rtol, atol=atol,
                                           err_msg=f"grad of input {i}")
        tp = dict(tm.named_parameters())
        for name, p in nm.named_parameters():
            if tp[name].grad is None:
                assert p.grad is None, name
                continue
            np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"grad of {name}")
    assert_state_equal(tm, nm, rtol, atol)
    return to, no
