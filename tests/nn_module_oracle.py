"""Compare an nnbox layer with the same torch layer: same weights, same input -> same output,
input gradient and parameter gradients; same state_dict keys/shapes/values and repr."""
from __future__ import annotations

import numpy as np
import torch

import nnbox
from oracle import _flatten, assert_same


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
    # every output (nested tuples too: LSTM's (out, (h, c))), counted, typed and compared
    assert_same(to, no, rtol, atol)
    t_outs = [o for o in _flatten(to) if isinstance(o, torch.Tensor) and o.requires_grad]
    n_outs = [o for o in _flatten(no) if isinstance(o, nnbox.Tensor) and o.requires_grad]
    assert len(t_outs) == len(n_outs), f"{len(n_outs)} outputs require grad, torch {len(t_outs)}"
    if grad and t_outs:
        # backpropagate through every output at once, each with its own random upstream gradient
        rng = np.random.default_rng(0)
        t_loss, n_loss = 0, 0
        for a, b in zip(t_outs, n_outs):
            g = rng.standard_normal(tuple(a.shape))
            t_loss = t_loss + (a * torch.tensor(g, dtype=a.dtype)).sum()
            n_loss = n_loss + (b * nnbox.tensor(g, dtype=b.dtype)).sum()
        t_loss.backward()
        n_loss.backward()
        for i, (a, b) in enumerate(zip(tin, nin)):
            if isinstance(a, torch.Tensor) and a.requires_grad:
                assert (a.grad is None) == (b.grad is None), f"input {i}: grad {b.grad is not None}, torch {a.grad is not None}"
                if a.grad is not None:
                    assert_same(a.grad, b.grad, rtol, atol, what=f"grad of input {i}")
        tp = dict(tm.named_parameters())
        assert list(tp) == [name for name, _ in nm.named_parameters()]
        for name, p in nm.named_parameters():
            if tp[name].grad is None:
                assert p.grad is None, f"{name}: nnbox has a grad, torch none"
                continue
            assert p.grad is not None, f"{name}: torch has a grad, nnbox none"
            assert_same(tp[name].grad, p.grad, rtol, atol, what=f"grad of {name}")
    assert_state_equal(tm, nm, rtol, atol)
    return to, no
