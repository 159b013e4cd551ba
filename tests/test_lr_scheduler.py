"""nnbox.optim.lr_scheduler against torch's: the same learning rates (and momenta), exactly, over
100 steps, including a resume from state_dict half-way and a start with ``last_epoch``."""
from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

import nnbox


def _opt(m, kind="SGD"):
    groups = [
        {"params": [m.zeros(2, requires_grad=True)]},
        {"params": [m.zeros(3, requires_grad=True)], "lr": 0.2},
    ]
    if kind == "SGD":
        return m.optim.SGD(groups, lr=0.1, momentum=0.9)
    return m.optim.Adam(groups, lr=0.1)


def _metric(step):
    return 1.0 / (1 + step) + 0.05 * math.sin(step)


SCHEDULERS = {
    "LambdaLR": (lambda L, o: L.LambdaLR(o, lambda e: 0.95**e), "SGD"),
    "LambdaLR-list": (lambda L, o: L.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 / (e + 1)]), "SGD"),
    "MultiplicativeLR": (lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97), "SGD"),
    "StepLR": (lambda L, o: L.StepLR(o, 7, gamma=0.5), "SGD"),
    "MultiStepLR": (lambda L, o: L.MultiStepLR(o, [10, 30, 30, 60], gamma=0.3), "SGD"),
    "ConstantLR": (lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=8), "SGD"),
    "LinearLR": (lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=30), "SGD"),
    "ExponentialLR": (lambda L, o: L.ExponentialLR(o, 0.97), "SGD"),
    "PolynomialLR": (lambda L, o: L.PolynomialLR(o, total_iters=40, power=2.0), "SGD"),
    "CosineAnnealingLR": (lambda L, o: L.CosineAnnealingLR(o, T_max=15, eta_min=0.001), "SGD"),
    "CosineAnnealingWarmRestarts": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 7, T_mult=2, eta_min=0.01), "SGD"),
    "CosineAnnealingWarmRestarts-1": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 10), "Adam"),
    "CyclicLR-triangular2": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=7, mode="triangular2"), "SGD"),
    "CyclicLR-exp_range": (
        lambda L, o: L.CyclicLR(o, [0.01, 0.02], [0.1, 0.3], step_size_up=6, step_size_down=4, mode="exp_range", gamma=0.99),
        "SGD",
    ),
    "CyclicLR-betas": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5, base_momentum=0.7, max_momentum=0.95), "Adam"),
    "CyclicLR-scale_fn": (
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5, scale_fn=lambda x: 0.5**x, scale_mode="iterations", cycle_momentum=False),
        "SGD",
    ),
    "OneCycleLR": (lambda L, o: L.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=100), "SGD"),
    "OneCycleLR-three_phase": (
        lambda L, o: L.OneCycleLR(o, 0.1, epochs=10, steps_per_epoch=11, three_phase=True, anneal_strategy="linear"),
        "Adam",
    ),
    "ReduceLROnPlateau": (lambda L, o: L.ReduceLROnPlateau(o, patience=3, factor=0.5, cooldown=2, threshold=0.01), "SGD"),
    "ReduceLROnPlateau-max-abs": (
        lambda L, o: L.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", patience=2, min_lr=[0.001, 0.05]),
        "SGD",
    ),
    "SequentialLR": (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.1, total_iters=5), L.ExponentialLR(o, 0.9)], [5]), "SGD"),
    "SequentialLR-3": (
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, 0.2, total_iters=10), L.StepLR(o, 5, 0.5), L.CosineAnnealingLR(o, 20)], milestones=[10, 40]
        ),
        "SGD",
    ),
    "ChainedScheduler": (lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.1, total_iters=4), L.ExponentialLR(o, 0.9)]), "SGD"),
    "ChainedScheduler-opt": (
        lambda L, o: L.ChainedScheduler([L.MultiStepLR(o, [20, 50]), L.CosineAnnealingLR(o, 30)], optimizer=o),
        "Adam",
    ),
}


def _record(opt, sched):
    momentum = [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]
    return [g["lr"] for g in opt.param_groups], list(sched.get_last_lr()), momentum


def _run(m, name, steps=100, resume_at=50):
    make, kind = SCHEDULERS[name]
    L = m.optim.lr_scheduler
    opt = _opt(m, kind)
    sched = make(L, opt)
    out = [_record(opt, sched)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's step(0) warns in torch too: see test below
        for step in range(steps):
            if step == resume_at:
                osd, ssd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
                opt = _opt(m, kind)
                sched = make(L, opt)
                opt.load_state_dict(osd)
                sched.load_state_dict(ssd)
            opt.step()
            if name.startswith("ReduceLROnPlateau"):
                sched.step(_metric(step))
            else:
                sched.step()
            out.append(_record(opt, sched))
    return out, sched


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_matches_torch(name):
    t, st = _run(torch, name)
    n, sn = _run(nnbox, name)
    assert n == t  # exact: same formulas, same order of floating-point operations
    assert len({tuple(r[0]) for r in t}) > 1  # the schedule does change the lr
    # the state_dicts agree on every plain value
    sdt, sdn = st.state_dict(), sn.state_dict()
    for k, v in sdt.items():
        if k in ("_schedulers", "lr_lambdas", "_scale_fn_custom"):
            continue
        assert k in sdn, k
        assert sdn[k] == v, k


RESUMABLE = {
    "LambdaLR": lambda L, o, e: L.LambdaLR(o, lambda k: 0.95**k, last_epoch=e),
    "MultiplicativeLR": lambda L, o, e: L.MultiplicativeLR(o, lambda k: 0.97, last_epoch=e),
    "StepLR": lambda L, o, e: L.StepLR(o, 3, gamma=0.5, last_epoch=e),
    "MultiStepLR": lambda L, o, e: L.MultiStepLR(o, [4, 9, 9], gamma=0.3, last_epoch=e),
    "ConstantLR": lambda L, o, e: L.ConstantLR(o, factor=0.5, total_iters=6, last_epoch=e),
    "LinearLR": lambda L, o, e: L.LinearLR(o, start_factor=0.1, total_iters=10, last_epoch=e),
    "ExponentialLR": lambda L, o, e: L.ExponentialLR(o, 0.9, last_epoch=e),
    "PolynomialLR": lambda L, o, e: L.PolynomialLR(o, total_iters=12, power=2.0, last_epoch=e),
    "CosineAnnealingLR": lambda L, o, e: L.CosineAnnealingLR(o, 5, eta_min=0.001, last_epoch=e),
    "CosineAnnealingWarmRestarts": lambda L, o, e: L.CosineAnnealingWarmRestarts(o, 4, T_mult=2, last_epoch=e),
    "CyclicLR": lambda L, o, e: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2", last_epoch=e),
}


@pytest.mark.parametrize("last_epoch", [1, 4, 9])
@pytest.mark.parametrize("name", list(RESUMABLE))
def test_resume_with_last_epoch(name, last_epoch):
    """Built with last_epoch=k on an optimizer whose groups hold initial_lr: continues as torch."""
    def run(m):
        opt = _opt(m)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        sched = RESUMABLE[name](m.optim.lr_scheduler, opt, last_epoch)
        res = [_record(opt, sched)]
        for _ in range(20):
            opt.step()
            sched.step()
            res.append(_record(opt, sched))
        return res

    assert run(nnbox) == run(torch)


def test_resume_without_initial_lr_raises():
    for m in (torch, nnbox):
        with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
            m.optim.lr_scheduler.StepLR(_opt(m), 3, last_epoch=4)


def test_bookkeeping():
    opt = _opt(nnbox)
    sched = nnbox.optim.lr_scheduler.StepLR(opt, 3)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert sched.base_lrs == [0.1, 0.2] and sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.2]
    assert nnbox.optim.lr_scheduler._LRScheduler is nnbox.optim.lr_scheduler.LRScheduler
    t_keys = list(torch.optim.lr_scheduler.StepLR(_opt(torch), 3).state_dict())
    assert list(sched.state_dict()) == t_keys


def _warning_texts(m, fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(m)
    return [str(x.message) for x in w if issubclass(x.category, UserWarning)]


def test_warns_when_scheduler_steps_first():
    def wrong_order(m):
        opt = _opt(m)
        s = m.optim.lr_scheduler.StepLR(opt, 2)
        s.step()
        opt.step()

    def right_order(m):
        opt = _opt(m)
        s = m.optim.lr_scheduler.StepLR(opt, 2)
        opt.step()
        s.step()

    t = _warning_texts(torch, wrong_order)
    assert t and _warning_texts(nnbox, wrong_order) == t
    assert "before `optimizer.step()`" in t[0]
    assert _warning_texts(nnbox, right_order) == _warning_texts(torch, right_order) == []


def test_warns_on_epoch_argument_and_get_lr():
    def epoch_arg(m):
        opt = _opt(m)
        s = m.optim.lr_scheduler.StepLR(opt, 2)
        opt.step()
        s.step(5)
        s.get_lr()

    t = _warning_texts(torch, epoch_arg)
    assert len(t) == 2 and _warning_texts(nnbox, epoch_arg) == t


def test_sequential_warnings_match_torch():
    def run(m):
        _run(m, "SequentialLR", steps=10, resume_at=-1)

    def seq(m):
        opt = _opt(m)
        L = m.optim.lr_scheduler
        s = L.SequentialLR(opt, [L.ConstantLR(opt, 0.1, total_iters=5), L.ExponentialLR(opt, 0.9)], [3])
        for _ in range(6):
            opt.step()
            s.step()

    assert _warning_texts(nnbox, seq) == _warning_texts(torch, seq)


def test_epoch_closed_forms_match_torch():
    for name in ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR"]:
        def run(m):
            make, kind = SCHEDULERS[name]
            opt = _opt(m, kind)
            s = make(m.optim.lr_scheduler, opt)
            res = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for e in [3, 9, 1, 30, 60, 12]:
                    opt.step()
                    s.step(e)
                    res.append(s.get_last_lr())
            return res

        assert run(nnbox) == run(torch), name


def test_warm_restarts_fractional_epochs():
    def run(m):
        opt = _opt(m)
        s = m.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 5, T_mult=2)
        res = []
        for epoch in range(12):
            for i in range(4):
                opt.step()
                s.step(epoch + i / 4)
                res.append(s.get_last_lr())
        return res

    assert run(nnbox) == run(torch)


def test_one_cycle_past_total_steps_raises():
    for m in (torch, nnbox):
        opt = _opt(m)
        s = m.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
        for _ in range(3):
            opt.step()
            s.step()
        with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
            s.step()


BAD = [
    lambda L, o: L.ConstantLR(o, factor=1.5),
    lambda L, o: L.LinearLR(o, start_factor=0),
    lambda L, o: L.LinearLR(o, end_factor=1.5),
    lambda L, o: L.LambdaLR(o, [lambda e: 1.0]),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, 0),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, T_mult=0),
    lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="foo"),
    lambda L, o: L.CyclicLR(o, [0.01], 0.1),
    lambda L, o: L.OneCycleLR(o, 0.1),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="foo"),
    lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
    lambda L, o: L.ReduceLROnPlateau(o, mode="foo"),
    lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="foo"),
    lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]),
    lambda L, o: L.SequentialLR(o, [], milestones=[]),
    lambda L, o: L.StepLR(None, 3),
    lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(type(o)(o.param_groups[0]["params"], lr=0.1), 2)], [3]),
    lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), L.StepLR(type(o)(o.param_groups[0]["params"], lr=0.1), 2)]),
    lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], [3]),
    lambda L, o: L.ChainedScheduler([]),
]


@pytest.mark.parametrize("fn", BAD)
def test_bad_input_raises_like_torch(fn):
    with pytest.raises(Exception) as et:
        fn(torch.optim.lr_scheduler, _opt(torch))
    with pytest.raises(type(et.value)) as en:
        fn(nnbox.optim.lr_scheduler, _opt(nnbox))
    assert str(en.value) == str(et.value)


def test_cyclic_needs_momentum():
    for m in (torch, nnbox):
        opt = m.optim.Adagrad([m.zeros(2, requires_grad=True)])
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            m.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1)


def test_user_defined_scheduler_subclass():
    """Subclassing LRScheduler with only get_lr works as in torch (bookkeeping comes from the base)."""
    def run(m):
        class Halve(m.optim.lr_scheduler.LRScheduler):
            def __init__(self, optimizer, every, last_epoch=-1):
                self.every = every
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                return [base * 0.5 ** (self.last_epoch // self.every) for base in self.base_lrs]

        opt = _opt(m)
        s = Halve(opt, 3)
        out = []
        for _ in range(10):
            opt.step()
            s.step()
            out.append(s.get_last_lr())
        return out, sorted(s.state_dict())

    assert run(nnbox) == run(torch)


def test_tensor_lr_is_filled_in_place():
    def run(m):
        opt = m.optim.SGD([m.zeros(2, requires_grad=True)], lr=m.tensor(0.5))
        lr = opt.param_groups[0]["lr"]
        s = m.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        for _ in range(3):
            opt.step()
            s.step()
        assert opt.param_groups[0]["lr"] is lr and s.get_last_lr()[0] is not lr  # a copy, as torch
        return float(lr)

    assert run(nnbox) == run(torch) == 0.0625


class _Decay:
    """A callable object: schedulers save its __dict__ in their state_dict."""

    def __init__(self, k):
        self.k = k

    def __call__(self, e):
        return self.k**e


def test_callable_objects_are_saved_and_restored():
    def run(m):
        L = m.optim.lr_scheduler
        opt = _opt(m)
        s = L.LambdaLR(opt, [_Decay(0.9), lambda e: 1.0])
        c = L.CyclicLR(_opt(m), 0.01, 0.1, step_size_up=2, scale_fn=_Decay(0.5))
        sd, cd = s.state_dict(), c.state_dict()
        saved = (sd["lr_lambdas"], cd["_scale_fn_custom"])
        s2 = L.LambdaLR(_opt(m), [_Decay(0.1), lambda e: 1.0])
        s2.load_state_dict(sd)
        c2 = L.CyclicLR(_opt(m), 0.01, 0.1, step_size_up=2, scale_fn=_Decay(0.7))
        c2.load_state_dict(cd)
        return saved + (s2.lr_lambdas[0].k, c2._scale_fn_custom.k)

    assert run(nnbox) == run(torch) == ([{"k": 0.9}, None], {"k": 0.5}, 0.9, 0.5)
