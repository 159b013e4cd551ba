"""nnbox.optim.swa_utils against torch.optim.swa_utils: averaged weights, SWALR's lrs, update_bn."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnbox

RNG = np.random.default_rng(21)


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    # tiny tensors: torch's thread pool only adds overhead on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


XS = RNG.normal(size=(8, 6, 5))
YS = RNG.normal(size=(8, 6, 2))


def _np(t):
    return t.detach().numpy()


def _models(bn=False):
    layers = lambda m: [m.nn.Linear(5, 7)] + ([m.nn.BatchNorm1d(7)] if bn else []) + [m.nn.Tanh(), m.nn.Linear(7, 2)]
    tm = torch.nn.Sequential(*layers(torch)).double()
    nm = nnbox.nn.Sequential(*layers(nnbox)).double()
    with nnbox.no_grad():
        for p, q in zip(nm.parameters(), tm.parameters()):
            p.copy_(nnbox.tensor(_np(q).copy()))
    return tm, nm


AVG = {
    "swa": lambda S: {},
    "swa-buffers": lambda S: dict(use_buffers=True),
    "ema-multi": lambda S: dict(multi_avg_fn=S.get_ema_multi_avg_fn(0.9)),
    "ema-fn": lambda S: dict(avg_fn=S.get_ema_avg_fn(0.8)),
    "swa-multi": lambda S: dict(multi_avg_fn=S.get_swa_multi_avg_fn()),
    "swa-fn-buffers": lambda S: dict(avg_fn=S.get_swa_avg_fn(), use_buffers=True),
}


@pytest.mark.parametrize("kind", list(AVG))
def test_averaged_model_matches_torch(kind):
    tm, nm = _models(bn=True)

    def run(m, model):
        S = m.optim.swa_utils
        swa = S.AveragedModel(model, **AVG[kind](S))
        opt = m.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = S.SWALR(opt, swa_lr=0.01, anneal_epochs=3)
        lrs = []
        for x, y in zip(XS, YS):
            opt.zero_grad()
            ((model(m.tensor(x)) - m.tensor(y)) ** 2).mean().backward()
            opt.step()
            swa.update_parameters(model)
            sched.step()
            lrs.append(sched.get_last_lr())
        S.update_bn([(m.tensor(x), 0) for x in XS], swa)
        out = swa(m.tensor(XS[0]))
        return [_np(t) for t in swa.state_dict().values()], _np(out), lrs, list(swa.state_dict())

    st, ot, lt, kt = run(torch, tm)
    sn, on, ln, kn = run(nnbox, nm)
    assert kn == kt and ln == lt
    for a, b in zip(st, sn):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(on, ot, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(anneal_epochs=3), dict(anneal_epochs=0), dict(anneal_epochs=5, anneal_strategy="linear")])
def test_swalr_matches_torch(kw):
    def run(m):
        groups = [{"params": [m.zeros(2, requires_grad=True)]}, {"params": [m.zeros(1, requires_grad=True)], "lr": 0.2}]
        opt = m.optim.SGD(groups, lr=0.5)
        s = m.optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.01], **kw)
        out = [s.get_last_lr()]
        for _ in range(10):
            opt.step()
            s.step()
            out.append(s.get_last_lr())
        return out, s.state_dict()

    assert run(nnbox) == run(torch)


def test_swalr_bad_input_like_torch():
    for fn in [lambda S, o: S.SWALR(o, 0.1, anneal_strategy="foo"), lambda S, o: S.SWALR(o, 0.1, anneal_epochs=-1)]:
        with pytest.raises(ValueError) as et:
            fn(torch.optim.swa_utils, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
        with pytest.raises(ValueError) as en:
            fn(nnbox.optim.swa_utils, nnbox.optim.SGD([nnbox.zeros(1, requires_grad=True)], lr=0.1))
        assert str(en.value) == str(et.value)


def test_update_bn_without_batchnorm_is_a_no_op():
    _, nm = _models(bn=False)
    before = [_np(p).copy() for p in nm.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnbox.optim.swa_utils.update_bn([nnbox.tensor(XS[0])], nm)
    assert all(np.array_equal(a, _np(b)) for a, b in zip(before, nm.parameters()))
