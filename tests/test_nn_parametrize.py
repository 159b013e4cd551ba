"""Parametrizations and the older weight_norm / spectral_norm hooks against torch: values,
gradients, reprs, state_dict keys, checkpoints loading both ways, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import parametrizations as TP
from torch.nn.utils import parametrize as TZ

import nnbox
import nnbox.nn as nn
from nnbox.nn.utils import parametrizations as NP
from nnbox.nn.utils import parametrize as NZ


def _to_nnbox(sd):
    return {k: nnbox.tensor(v.detach().numpy().copy()) for k, v in sd.items()}


def _to_torch(sd):
    return {k: torch.tensor(v.detach().numpy().copy()) for k, v in sd.items()}


def _pair(make_t, make_n):
    """The same module in torch and nnbox (nnbox gets torch's initial weights)."""
    torch.manual_seed(0)
    t = make_t().double()
    n = make_n().double()
    n.load_state_dict(_to_nnbox(t.state_dict()))
    return t, n


def _same(a, b, rtol=1e-10, atol=1e-12, what=""):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def _check_forward_backward(t, n, x):
    tx, nx = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    ty, ny = t(tx), n(nx)
    _same(ny, ty, what="forward")
    (ty ** 2).sum().backward()
    (ny ** 2).sum().backward()
    _same(nx.grad, tx.grad, what="input grad")
    tp, npar = dict(t.named_parameters()), dict(n.named_parameters())
    assert list(npar) == list(tp)
    for k in tp:
        _same(npar[k].grad, tp[k].grad, what=f"grad of {k}")


class TSym(torch.nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).T


class NSym(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).T


class TScale(torch.nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, A):
        return A / 2


class NScale(nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, A):
        return A / 2


def test_register_parametrization_as_torch():
    t, n = _pair(lambda: torch.nn.Linear(3, 3), lambda: nn.Linear(3, 3))
    w_param_t, w_param_n = t.weight, n.weight
    TZ.register_parametrization(t, "weight", TSym())
    NZ.register_parametrization(n, "weight", NSym())
    assert type(n).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert isinstance(n, nn.Linear) and NZ.type_before_parametrizations(n) is nn.Linear
    assert repr(n) == repr(t).replace("TSym", "NSym")
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert n.parametrizations.weight.original is w_param_n and t.parametrizations.weight.original is w_param_t
    _same(n.weight, t.weight)
    _check_forward_backward(t, n, np.random.default_rng(0).standard_normal((4, 3)))
    assert NZ.is_parametrized(n) and NZ.is_parametrized(n, "weight") and not NZ.is_parametrized(n, "bias")


def test_chained_parametrizations_right_inverse_and_assignment():
    t, n = _pair(lambda: torch.nn.Linear(3, 3), lambda: nn.Linear(3, 3))
    for lib_z, m, scale in ((TZ, t, TScale), (NZ, n, NScale)):
        lib_z.register_parametrization(m, "weight", scale())
    _same(n.parametrizations.weight.original, t.parametrizations.weight.original)  # right_inverse ran
    A = np.random.default_rng(1).standard_normal((3, 3))
    t.weight = torch.tensor(A)
    n.weight = nnbox.tensor(A)
    _same(n.parametrizations.weight.original, t.parametrizations.weight.original)
    _same(n.weight, t.weight)
    for lib_z, m, sym in ((TZ, t, TSym), (NZ, n, NSym)):
        lib_z.register_parametrization(m, "weight", sym())  # chained after the scaling
    _same(n.weight, t.weight)
    _check_forward_backward(t, n, np.ones((2, 3)))
    with pytest.raises(RuntimeError) as te:
        t.weight = torch.tensor(A)
    with pytest.raises(RuntimeError) as ne:
        n.weight = nnbox.tensor(A)
    assert str(ne.value) == str(te.value).replace("TSym", "NSym")


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations_as_torch(leave):
    t, n = _pair(lambda: torch.nn.Linear(3, 3), lambda: nn.Linear(3, 3))
    TZ.register_parametrization(t, "weight", TSym())
    NZ.register_parametrization(n, "weight", NSym())
    TZ.remove_parametrizations(t, "weight", leave_parametrized=leave)
    NZ.remove_parametrizations(n, "weight", leave_parametrized=leave)
    assert type(n) is nn.Linear and not hasattr(n, "parametrizations")
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    assert isinstance(n.weight, nn.Parameter)
    _same(n.weight, t.weight)


class TFirstRow(torch.nn.Module):
    def forward(self, X):
        return X[:1]


class NFirstRow(nn.Module):
    def forward(self, X):
        return X[:1]


def test_parametrize_errors_as_torch():
    for lib_z, lib_nn, sym, first in ((TZ, torch.nn, TSym, TFirstRow), (NZ, nn, NSym, NFirstRow)):
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name 'foo'"):
            lib_z.register_parametrization(lib_nn.Linear(3, 3), "foo", sym())
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            lib_z.remove_parametrizations(lib_nn.Linear(3, 3), "weight")
        with pytest.raises(ValueError, match="may not change the shape"):
            lib_z.register_parametrization(lib_nn.Linear(3, 2), "weight", first())


def test_cached_computes_once():
    m = NP.weight_norm(nn.Linear(3, 2))
    calls = []
    m.parametrizations.weight[0].register_forward_hook(lambda *a: calls.append(1))
    with NZ.cached():
        a, b = m.weight, m.weight
        assert a is b
    assert len(calls) == 1
    assert m.weight is not m.weight


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(dim):
    t, n = _pair(lambda: torch.nn.Linear(4, 3), lambda: nn.Linear(4, 3))
    TP.weight_norm(t, dim=dim)
    NP.weight_norm(n, dim=dim)
    assert list(n.state_dict()) == list(t.state_dict())
    assert repr(n) == repr(t)
    for k, v in t.state_dict().items():
        _same(n.state_dict()[k], v, what=k)
    _check_forward_backward(t, n, np.random.default_rng(2).standard_normal((5, 4)))


def test_weight_norm_on_conv_and_checkpoints_both_ways(tmp_path):
    t, n = _pair(lambda: torch.nn.Conv2d(2, 3, 3), lambda: nn.Conv2d(2, 3, 3))
    TP.weight_norm(t)
    NP.weight_norm(n)
    _check_forward_backward(t, n, np.random.default_rng(3).standard_normal((2, 2, 5, 5)))
    # nnbox's checkpoint into a fresh torch model, through a file in torch's format
    with nnbox.no_grad():
        n.parametrizations.weight.original0.mul_(1.5)
    nnbox.save(n.state_dict(), tmp_path / "wn.pt")
    t2 = TP.weight_norm(torch.nn.Conv2d(2, 3, 3).double())
    t2.load_state_dict(torch.load(tmp_path / "wn.pt"))
    x = np.ones((1, 2, 5, 5))
    _same(n(nnbox.tensor(x)), t2(torch.tensor(x)))
    # and torch's into a fresh nnbox model
    n2 = NP.weight_norm(nn.Conv2d(2, 3, 3).double())
    n2.load_state_dict(_to_nnbox(t2.state_dict()))
    _same(n2(nnbox.tensor(x)), t2(torch.tensor(x)))


@pytest.mark.parametrize("make", ["linear", "conv", "convT"])
def test_spectral_norm_parametrization(make):
    mk = {"linear": (lambda L: L.Linear(5, 4)), "conv": (lambda L: L.Conv2d(2, 3, 3)),
          "convT": (lambda L: L.ConvTranspose2d(3, 2, 3))}[make]
    x = {"linear": np.ones((2, 5)), "conv": np.ones((1, 2, 5, 5)), "convT": np.ones((1, 3, 4, 4))}[make]
    t, n = _pair(lambda: mk(torch.nn), lambda: mk(nn))
    TP.spectral_norm(t)
    NP.spectral_norm(n)
    assert list(n.state_dict()) == list(t.state_dict())
    assert repr(n) == repr(t)
    # the power-iteration vectors start random: take torch's, then everything must agree
    n.load_state_dict(_to_nnbox(t.state_dict()))
    for mode in ("train", "eval"):
        getattr(t, mode)()
        getattr(n, mode)()
        _check_forward_backward(t, n, x)
        for k, v in t.state_dict().items():
            _same(n.state_dict()[k], v, rtol=1e-9, what=k)
        for m in (t, n):
            for p in m.parameters():
                p.grad = None


def test_spectral_norm_sigma_is_the_top_singular_value():
    nnbox.manual_seed(0)
    m = NP.spectral_norm(nn.Linear(6, 4).double(), n_power_iterations=30)
    m.train()
    _ = m.weight
    assert abs(np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0] - 1.0) < 1e-8


def test_old_weight_norm_hook_as_torch(tmp_path):
    t, n = _pair(lambda: torch.nn.Linear(4, 3), lambda: nn.Linear(4, 3))
    with pytest.warns(FutureWarning, match="weight_norm` is deprecated"):
        nn.utils.weight_norm(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(t)
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert repr(n) == repr(t)
    _check_forward_backward(t, n, np.random.default_rng(4).standard_normal((3, 4)))
    with nnbox.no_grad():
        n.weight_g.mul_(0.5)
    t.load_state_dict(_to_torch(n.state_dict()))  # nnbox -> torch
    x = np.ones((1, 4))
    _same(n(nnbox.tensor(x)), t(torch.tensor(x)))
    nn.utils.remove_weight_norm(n)
    torch.nn.utils.remove_weight_norm(t)
    assert list(n.state_dict()) == list(t.state_dict())
    _same(n.weight, t.weight)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(n)


def test_old_spectral_norm_hook_as_torch():
    t, n = _pair(lambda: torch.nn.Linear(5, 3), lambda: nn.Linear(5, 3))
    torch.nn.utils.spectral_norm(t)
    nn.utils.spectral_norm(n)
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [k for k, _ in n.named_buffers()] == [k for k, _ in t.named_buffers()]
    n.load_state_dict(_to_nnbox(t.state_dict()))  # torch -> nnbox (u, v included)
    x = np.random.default_rng(5).standard_normal((2, 5))
    for mode in ("train", "eval", "train"):
        getattr(t, mode)()
        getattr(n, mode)()
        _check_forward_backward(t, n, x)
        for k, v in t.state_dict().items():
            _same(n.state_dict()[k], v, rtol=1e-9, what=k)
        for m in (t, n):
            for p in m.parameters():
                p.grad = None
    t2 = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 3).double()).eval()
    t2.load_state_dict(_to_torch(n.state_dict()))  # nnbox -> torch
    n.eval()
    _same(n(nnbox.tensor(x)), t2(torch.tensor(x)))
    nn.utils.remove_spectral_norm(n)
    torch.nn.utils.remove_spectral_norm(t2)
    assert list(n.state_dict()) == list(t2.state_dict()) == ["bias", "weight"]
    _same(n.weight, t2.weight)


def test_spectral_norm_errors_as_torch():
    for lib in (torch, nnbox):
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)


@pytest.mark.parametrize("orth_map", ["matrix_exp", "cayley", "householder", None])
@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5)])
def test_orthogonal_as_torch(orth_map, shape):
    out_f, in_f = shape
    t, n = _pair(lambda: torch.nn.Linear(in_f, out_f), lambda: nn.Linear(in_f, out_f))
    TP.orthogonal(t, orthogonal_map=orth_map)
    NP.orthogonal(n, orthogonal_map=orth_map)
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "parametrizations.weight.original",
                                                           "parametrizations.weight.0.base"]
    assert repr(n) == repr(t)
    W = n.weight.detach().numpy()
    gram = W @ W.T if out_f <= in_f else W.T @ W
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)
    # base comes from a QR of the initial weight (square) or of it completed at random: take torch's
    n.load_state_dict(_to_nnbox(t.state_dict()))
    _same(n.weight, t.weight)
    x = np.random.default_rng(6).standard_normal((2, in_f))
    _check_forward_backward(t, n, x)
    # one SGD step on the unconstrained original: the weights move identically and stay orthogonal
    for m, lib in ((t, torch), (n, nnbox)):
        opt = lib.optim.SGD(m.parameters(), lr=0.5)
        opt.step()
    _same(n.weight, t.weight, rtol=1e-9, atol=1e-12)
    W = n.weight.detach().numpy()
    gram = W @ W.T if out_f <= in_f else W.T @ W
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)


def test_orthogonal_assignment_and_errors_as_torch():
    t, n = _pair(lambda: torch.nn.Linear(3, 3), lambda: nn.Linear(3, 3))
    TP.orthogonal(t)
    NP.orthogonal(n)
    Q = np.linalg.qr(np.random.default_rng(7).standard_normal((3, 3)))[0]
    t.weight = torch.tensor(Q)
    n.weight = nnbox.tensor(Q)
    _same(n.weight, t.weight)
    np.testing.assert_allclose(n.weight.detach().numpy(), Q, atol=1e-12)
    for lib in (torch, nnbox):
        with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", "cayley", "householder"'):
            lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), orthogonal_map="qr")
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
            lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), "bias")
