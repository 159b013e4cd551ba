"""nnbox.optim against torch.optim: 50 steps on the same small model, same data, same weights.

Each case trains a two-layer tanh network built from raw tensors with both libraries, resumes
half-way through from a (deep-copied) ``state_dict`` in a fresh optimizer, and compares every
parameter after every step, then the final optimizer state (keys, dtypes, values).
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import nnbox
from oracle import same_error

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    # these tensors are tiny: torch's thread pool only adds overhead on a shared machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SHAPES = [(5, 4), (5,), (3, 5), (3,)]
INIT = [RNG.normal(0, 0.5, s) for s in SHAPES]
DATA = [(RNG.normal(size=(8, 4)), RNG.normal(size=(8, 3))) for _ in range(4)]


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _model(m, dtype):
    dt = getattr(m, dtype)
    params = [m.tensor(a, dtype=dt, requires_grad=True) for a in INIT]
    data = [(m.tensor(x, dtype=dt), m.tensor(y, dtype=dt)) for x, y in DATA]

    def loss_fn(step):
        w1, b1, w2, b2 = params
        x, y = data[step % len(data)]
        h = m.tanh(x @ w1.T + b1)
        return ((h @ w2.T + b2 - y) ** 2).mean()

    return params, loss_fn


def _train(m, name, kw, dtype="float64", steps=50, resume_at=25, groups=None, decay_every=0):
    """Parameters after each step, and the final state_dict, for library ``m``."""
    params, loss_fn = _model(m, dtype)
    cls = getattr(m.optim, name)

    def make():
        if groups is None:
            return cls(params, **kw)
        return cls([dict(g, params=[params[i] for i in g["params"]]) for g in groups], **kw)

    opt = make()
    traj = []
    for step in range(steps):
        if step == resume_at:
            sd = copy.deepcopy(opt.state_dict())
            opt = make()
            opt.load_state_dict(sd)

        def closure():
            opt.zero_grad()
            loss = loss_fn(step)
            loss.backward()
            return loss

        closure()
        opt.step()
        if decay_every and step % decay_every == decay_every - 1:
            opt.param_groups[0]["lr"] *= 0.1  # the seeds' manual decay
        traj.append([_np(p).copy() for p in params])
    return traj, opt.state_dict()


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, foreach=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5), eps=1e-3, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, fused=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.2, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.4, 0.8), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.9))),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=20, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1, maximize=True)),
]


def _ids(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _compare_state(sd_t, sd_n, rtol, atol):
    assert sd_n["param_groups"] == sd_t["param_groups"]
    assert sd_n["state"].keys() == sd_t["state"].keys()
    for k, st in sd_t["state"].items():
        sn = sd_n["state"][k]
        assert list(sn.keys()) == list(st.keys())
        for key, vt in st.items():
            vn = sn[key]
            if isinstance(vt, torch.Tensor):
                assert isinstance(vn, nnbox.Tensor), key
                assert str(vn.dtype) == str(vt.dtype), key
                np.testing.assert_allclose(_np(vn), _np(vt), rtol=rtol, atol=atol, err_msg=key)
            elif isinstance(vt, list):
                assert len(vn) == len(vt)
                for a, b in zip(vn, vt):
                    if b is None:
                        assert a is None
                    else:
                        np.testing.assert_allclose(np.asarray(_np(a)), _np(b), rtol=rtol, atol=atol, err_msg=key)
            elif isinstance(vt, float):
                assert vn == pytest.approx(vt, rel=rtol, abs=atol), key
            else:
                assert vn == vt, key


def _compare(name, kw, dtype="float64", rtol=1e-10, atol=1e-10, **run):
    tt, sd_t = _train(torch, name, kw, dtype, **run)
    tn, sd_n = _train(nnbox, name, kw, dtype, **run)
    for step, (pt, pn) in enumerate(zip(tt, tn)):
        for i, (a, b) in enumerate(zip(pt, pn)):
            assert b.dtype == a.dtype
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"step {step}, param {i}")
    _compare_state(sd_t, sd_n, rtol, atol)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_torch_float64(case):
    _compare(*case)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "maximize" not in c[1]],
    ids=_ids,
)
def test_matches_torch_float32(case):
    _compare(*case, dtype="float32", rtol=2e-4, atol=2e-5)


# --- LBFGS: a full-batch, well-posed objective (Rosenbrock), as L-BFGS is meant for -----------------

X0 = np.array([-1.5, 2.0, -0.5, 1.2, 0.3, -1.0])


def _lbfgs_run(m, kw, dtype="float64", steps=12, resume_at=6):
    x = m.tensor(X0, dtype=getattr(m, dtype), requires_grad=True)
    opt = m.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss

    traj, losses = [], []
    for step in range(steps):
        if step == resume_at:
            sd = copy.deepcopy(opt.state_dict())
            opt = m.optim.LBFGS([x], **kw)
            opt.load_state_dict(sd)
        losses.append(float(opt.step(closure).detach()))
        traj.append(_np(x).copy())
    return traj, losses, opt.state_dict()


LBFGS_CASES = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(history_size=3, max_iter=5, line_search_fn="strong_wolfe"),
    dict(lr=0.1, max_iter=7, max_eval=9),
    dict(lr=1, max_iter=3, tolerance_grad=1e-3, tolerance_change=1e-4),
]


@pytest.mark.parametrize("kw", LBFGS_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "default")
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 3e-3)])
def test_lbfgs_matches_torch(kw, dtype, tol):
    tt, lt, sd_t = _lbfgs_run(torch, kw, dtype)
    tn, ln, sd_n = _lbfgs_run(nnbox, kw, dtype)
    for step, (a, b) in enumerate(zip(tt, tn)):
        assert b.dtype == a.dtype
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol, err_msg=f"step {step}")
    np.testing.assert_allclose(ln, lt, rtol=tol, atol=tol)
    if dtype == "float64":  # float32 rounding near the optimum may flip a stopping test
        st, sn = sd_t["state"][0], sd_n["state"][0]
        assert sn["func_evals"] == st["func_evals"] and sn["n_iter"] == st["n_iter"]
        _compare_state(sd_t, sd_n, 1e-6, 1e-8)  # ro = 1/(y.s) near the optimum: cancellation


@pytest.mark.parametrize("kw", [dict(line_search_fn="strong_wolfe"),
                                dict(history_size=3, max_iter=5, line_search_fn="strong_wolfe")], ids=["default", "short"])
def test_lbfgs_strong_wolfe_follows_torch_for_50_steps(kw):
    tt, lt, sd_t = _lbfgs_run(torch, kw, "float64", steps=50, resume_at=25)
    tn, ln, sd_n = _lbfgs_run(nnbox, kw, "float64", steps=50, resume_at=25)
    for step, (a, b) in enumerate(zip(tt, tn)):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10, err_msg=f"step {step}")
    np.testing.assert_allclose(ln, lt, rtol=1e-10, atol=1e-10)
    st, sn = sd_t["state"][0], sd_n["state"][0]
    assert sn["func_evals"] == st["func_evals"] and sn["n_iter"] == st["n_iter"]


def test_lbfgs_converges():
    x = nnbox.tensor([-1.2, 1.0], dtype=nnbox.float64, requires_grad=True)
    opt = nnbox.optim.LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(_np(x), [1.0, 1.0], atol=1e-4)  # torch stops at the same point


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.5, momentum=0.9)), ("Adam", dict(lr=0.1))])
def test_manual_lr_decay_keeps_momentum(name, kw):
    """The seeds' ``param_groups[0]['lr'] *= 0.1`` every 5 epochs: same steps as torch."""
    _compare(name, kw, decay_every=5, resume_at=-1)


GROUPS = [
    {"params": [0, 2], "weight_decay": 0.1},
    {"params": [1, 3], "weight_decay": 0, "lr": 0.003},
]


@pytest.mark.parametrize(
    "name,kw",
    [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)), ("RMSprop", dict(lr=0.01))],
)
def test_per_group_options(name, kw):
    """No weight decay and a smaller lr on the biases; resume keeps the groups apart."""
    _compare(name, kw, groups=GROUPS, decay_every=7)


def test_lr_decay_changes_the_trajectory():
    # guards the test above: decaying must change the steps (else it would prove nothing)
    a, _ = _train(nnbox, "SGD", dict(lr=0.5, momentum=0.9), steps=10, resume_at=-1)
    b, _ = _train(nnbox, "SGD", dict(lr=0.5, momentum=0.9), steps=10, resume_at=-1, decay_every=5)
    assert np.abs(a[-1][0] - b[-1][0]).max() > 1e-3


def test_fresh_optimizer_loses_momentum():
    """A new optimizer (instead of editing param_groups) restarts momentum, as the seeds warn."""
    def run(m, recreate):
        params, loss_fn = _model(m, "float64")
        opt = m.optim.SGD(params, lr=0.1, momentum=0.9)
        for step in range(6):
            if step == 3 and recreate:
                opt = m.optim.SGD(params, lr=0.1, momentum=0.9)
            opt.zero_grad()
            loss_fn(step).backward()
            opt.step()
        return [_np(p) for p in params]

    for recreate in (False, True):
        for a, b in zip(run(torch, recreate), run(nnbox, recreate)):
            np.testing.assert_allclose(b, a, rtol=1e-12)
    assert not np.allclose(run(nnbox, True)[0], run(nnbox, False)[0])


@pytest.mark.parametrize(
    "name,kw",
    [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1, amsgrad=True)), ("AdamW", dict(lr=0.1)),
     ("RMSprop", dict(centered=True, momentum=0.5)), ("Adagrad", dict()), ("Adadelta", dict()),
     ("NAdam", dict()), ("RAdam", dict(weight_decay=0.1))],
)
def test_complex_params_match_torch(name, kw):
    """Complex parameters are updated as torch does (real and imaginary parts as separate reals)."""
    rng = np.random.default_rng(3)
    z0 = rng.normal(size=(3,)) + 1j * rng.normal(size=(3,))
    c = rng.normal(size=(3,)) + 1j * rng.normal(size=(3,))

    def run(m):
        z = m.tensor(z0.copy(), requires_grad=True)
        opt = getattr(m.optim, name)([z], **kw)
        for _ in range(10):
            z.grad = m.tensor(c * _np(z) + 0.5)  # a fixed gradient field (independent of autograd)
            opt.step()
        return _np(z)

    np.testing.assert_allclose(run(nnbox), run(torch), rtol=1e-10)


ALGOS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(centered=True, momentum=0.5)),
    ("Adagrad", dict(lr_decay=0.1)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adamax", dict()),
    ("NAdam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(weight_decay=0.1)),
    ("Rprop", dict(etas=(0.4, 1.3))),
    ("ASGD", dict(t0=2, weight_decay=0.1)),
    ("Adafactor", dict(weight_decay=0.1)),
]


@pytest.mark.parametrize("case", ALGOS, ids=_ids)
def test_large_and_strided_params_match_torch(case):
    """A parameter larger than one update slice (the CPU path updates it in chunks) and a
    non-contiguous one (a transposed view, updated whole) follow torch exactly."""
    name, kw = case
    rng = np.random.default_rng(5)
    big0, small0 = rng.normal(size=(300, 230)), rng.normal(size=(7, 5))
    c_big, c_small = rng.normal(size=big0.shape), rng.normal(size=(5, 7))

    def run(m):
        big = m.tensor(big0.copy(), requires_grad=True)
        base = m.tensor(small0.copy())
        strided = base.t().requires_grad_()  # a leaf that is a transposed view
        opt = getattr(m.optim, name)([big, strided], **kw)
        for _ in range(6):
            big.grad = m.tensor(c_big * _np(big) + 0.1)  # fixed gradient fields
            strided.grad = m.tensor(np.sin(_np(strided)) + c_small)
            opt.step()
        return _np(big), _np(strided)

    for a, b in zip(run(torch), run(nnbox)):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_seed_training_loop_with_nn_modules():
    """The seeds' loop on nn modules (weights copied from torch): named parameters, no weight decay
    on biases, lr *= 0.1 every 5 epochs, Adam then SGD+momentum; losses and weights follow torch."""
    rng = np.random.default_rng(11)
    xs = rng.normal(size=(3, 16, 10))
    ys = rng.integers(0, 4, size=(3, 16))
    tmodel = torch.nn.Sequential(torch.nn.Linear(10, 12), torch.nn.ReLU(), torch.nn.Linear(12, 4)).double()

    def run(m):
        model = m.nn.Sequential(m.nn.Linear(10, 12), m.nn.ReLU(), m.nn.Linear(12, 4)).double()
        with m.no_grad():
            for p, q in zip(model.parameters(), tmodel.parameters()):
                p.copy_(m.tensor(q.detach().numpy().copy()))
        decay = [(n, p) for n, p in model.named_parameters() if n.endswith("weight")]
        no_decay = [(n, p) for n, p in model.named_parameters() if n.endswith("bias")]
        groups = [{"params": decay, "weight_decay": 1e-2}, {"params": no_decay, "weight_decay": 0.0}]
        criterion = m.nn.CrossEntropyLoss()
        losses = []
        for opt in (m.optim.Adam(groups, lr=0.01), m.optim.SGD(groups, lr=0.1, momentum=0.9)):
            for epoch in range(10):
                if epoch and epoch % 5 == 0:
                    opt.param_groups[0]["lr"] *= 0.1
                for x, y in zip(xs, ys):
                    opt.zero_grad()
                    loss = criterion(model(m.tensor(x)), m.tensor(y))
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
        return losses, [_np(p) for p in model.parameters()], opt.state_dict()["param_groups"]

    lt, pt, gt = run(torch)
    ln, pn, gn = run(nnbox)
    np.testing.assert_allclose(ln, lt, rtol=1e-9)
    for a, b in zip(pt, pn):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    assert gn == gt and gn[0]["param_names"] == ["0.weight", "2.weight"]


def test_named_parameters_errors_like_torch():
    def mixed_groups(m, p):
        opt = m.optim.SGD([p(2)], lr=0.1)
        opt.add_param_group({"params": [("b", p(2))]})

    def mixed_params(m, p):
        m.optim.SGD([("a", p(2)), p(2)], lr=0.1)

    _same_error(mixed_groups, "cannot add param group with names")
    _same_error(mixed_params, "Some param names are missing")


def test_load_keeps_param_names_like_torch():
    def run(m):
        model = m.nn.Linear(2, 3)
        named = m.optim.SGD(model.named_parameters(), lr=0.2)
        named.load_state_dict(m.optim.SGD(model.parameters(), lr=0.1).state_dict())
        plain = m.optim.SGD(model.parameters(), lr=0.2)
        plain.load_state_dict(m.optim.SGD(model.named_parameters(), lr=0.1).state_dict())
        g = named.param_groups[0]
        return list(g), g["param_names"], g["lr"], list(plain.param_groups[0])

    assert run(nnbox) == run(torch)


def test_state_dict_hooks():
    w = _p(2)
    opt = nnbox.optim.SGD([w], lr=0.1, momentum=0.9)
    seen = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append("load-pre"))
    h = opt.register_load_state_dict_post_hook(lambda o: seen.append("load-post"))
    sd = opt.state_dict()
    assert sd["extra"] == 1 and seen == ["pre"]
    opt.load_state_dict(sd)
    assert seen == ["pre", "load-pre", "load-post"]
    h.remove()
    opt.load_state_dict(sd)
    assert seen[-1] == "load-pre"


def test_tensor_lr():
    def run(m):
        params, loss_fn = _model(m, "float64")
        opt = m.optim.Adam(params, lr=m.tensor(0.01))
        for step in range(5):
            opt.zero_grad()
            loss_fn(step).backward()
            opt.step()
        return [_np(p) for p in params]

    for a, b in zip(run(torch), run(nnbox)):
        np.testing.assert_allclose(b, a, rtol=1e-12)
    with pytest.raises(ValueError, match="lr as a Tensor is not supported for capturable=False and foreach=True"):
        nnbox.optim.Adam([_p(2)], lr=nnbox.tensor(0.1), foreach=True)


# --- the Optimizer base -----------------------------------------------------------------------------

def _p(*shape):
    return nnbox.zeros(*shape, requires_grad=True)


def test_param_groups_defaults_and_repr():
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "LBFGS",
                 "Rprop", "ASGD", "Adafactor"]:
        kw = {}
        t = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
        n = getattr(nnbox.optim, name)([_p(2)], **kw)
        assert n.defaults == t.defaults, name
        assert list(n.param_groups[0].keys()) == list(t.param_groups[0].keys()), name
        assert {k: v for k, v in n.param_groups[0].items() if k != "params"} == {
            k: v for k, v in t.param_groups[0].items() if k != "params"
        }
        assert repr(n) == repr(t), name
    t = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)
    n = nnbox.optim.SGD([{"params": [_p(1)]}, {"params": [_p(1)], "lr": 0.5}], lr=0.1)
    assert repr(n) == repr(t)


def test_seed_param_group_is_a_dict_of_settings():
    w = _p(2)
    opt = nnbox.optim.SGD([w], lr=0.1, momentum=0.9)
    g = opt.param_groups[0]
    assert isinstance(g, dict) and g["params"][0] is w and g["lr"] == 0.1 and g["momentum"] == 0.9
    assert len(g) == len(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).param_groups[0])


def test_add_param_group_and_state_keys():
    a, b = _p(2), _p(3)
    opt = nnbox.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["betas"] == (0.5, 0.6)
    a.grad = nnbox.ones(2)
    opt.step()
    assert isinstance(opt.state, dict) and a in opt.state and b not in opt.state
    assert set(opt.state[a]) == {"step", "exp_avg", "exp_avg_sq"}


def test_zero_grad():
    a = _p(2)
    opt = nnbox.optim.SGD([a], lr=0.1)
    a.grad = nnbox.ones(2)
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None
    opt.step()  # no gradient: nothing happens
    assert a.tolist() == [0.0, 0.0]


def test_step_builds_no_graph_and_bumps_version():
    a = _p(2)
    a.grad = nnbox.ones(2)
    v = a._version
    nnbox.optim.Adam([a]).step()
    assert a.grad_fn is None and a.is_leaf and a._version > v


def test_state_dict_ids_and_load_moves_dtype():
    a, b = _p(2), _p(3)
    opt = nnbox.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad, b.grad = nnbox.ones(2), nnbox.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert set(sd["state"]) == {0, 1}
    assert str(sd["state"][0]["step"].dtype) == "torch.float32"
    a64, b64 = (nnbox.zeros(n, dtype=nnbox.float64, requires_grad=True) for n in (2, 3))
    opt2 = nnbox.optim.Adam([{"params": [a64]}, {"params": [b64]}])
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.5 and opt2.param_groups[1]["params"][0] is b64
    assert opt2.state[b64]["exp_avg"].dtype == nnbox.float64
    assert opt2.state[b64]["step"].dtype == nnbox.float32  # step keeps its dtype, like torch


def test_load_state_dict_errors():
    opt = nnbox.optim.SGD([_p(2)], lr=0.1)
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1], "lr": 0.1}]})
    assert opt.param_groups[0]["lr"] == 0.1


def _same_error(fn, match):
    """Both libraries raise the same exception type with the same message."""
    same_error(lambda m: fn(m, (lambda *s: torch.zeros(*s, requires_grad=True)) if m is torch else _p), match)


BAD = [
    (lambda m, p: m.optim.SGD([p(2)], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1, momentum=-1), "Invalid momentum value"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda m, p: m.optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda m, p: m.optim.SGD(p(2), lr=0.1), "should be an iterable of Tensors or dicts, but got torch.FloatTensor"),
    (lambda m, p: m.optim.SGD([{"params": {p(2)}}], lr=0.1), "ordering of tensors in sets"),
    (lambda m, p: m.optim.SGD([p(2) * 2], lr=0.1), "can't optimize a non-leaf Tensor"),
    (lambda m, p: m.optim.SGD([1.0], lr=0.1), "one of the params is float"),
    (lambda m, p: m.optim.SGD([np.ones(2)], lr=0.1), "one of the params is numpy.ndarray"),
    (lambda m, p: (lambda a: m.optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1))(p(2)), "more than one parameter group"),
    (lambda m, p: (lambda a: m.optim.SGD([a], lr=0.1).add_param_group({"params": [a]}))(p(2)), "more than one"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1).add_param_group([p(2)]), "param_group must be a dict"),
    (lambda m, p: m.optim.SGD([p(2)], lr=0.1, foreach=True, fused=True), "cannot be `True` together"),
    (lambda m, p: m.optim.Adam([p(2)], lr=-1), "Invalid learning rate: -1"),
    (lambda m, p: m.optim.Adam([p(2)], betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda m, p: m.optim.Adam([p(2)], betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (lambda m, p: m.optim.AdamW([p(2)], betas=(-0.1, 0.9)), "Invalid beta parameter at index 0"),
    (lambda m, p: m.optim.Adam([p(2)], eps=-1), "Invalid epsilon value: -1"),
    (lambda m, p: m.optim.AdamW([p(2)], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda m, p: m.optim.RMSprop([p(2)], alpha=-1), "Invalid alpha value"),
    (lambda m, p: m.optim.RMSprop([p(2)], momentum=-1), "Invalid momentum value"),
    (lambda m, p: m.optim.Adagrad([p(2)], lr_decay=-1), "Invalid lr_decay value"),
    (lambda m, p: m.optim.Adagrad([p(2)], initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda m, p: m.optim.Adadelta([p(2)], rho=1.1), "Invalid rho value"),
    (lambda m, p: m.optim.Adamax([p(2)], betas=(1, 0)), "Invalid beta parameter"),
    (lambda m, p: m.optim.NAdam([p(2)], momentum_decay=-1), "Invalid momentum_decay value"),
    (lambda m, p: m.optim.RAdam([p(2)], betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
    (lambda m, p: m.optim.LBFGS([p(2)], lr=-1), "Invalid learning rate"),
    (lambda m, p: m.optim.Rprop([p(2)], etas=(1.1, 1.2)), "Invalid eta values: 1.1, 1.2"),
    (lambda m, p: m.optim.ASGD([p(2)], weight_decay=-1), "Invalid weight_decay value"),
    (lambda m, p: m.optim.Adafactor([p(2)], lr=-1), "Learning rate should be >= 0 but is: -1"),
    (lambda m, p: m.optim.Adafactor([p(2)], beta2_decay=0.1), "beta2_decay should be <= 0"),
    (lambda m, p: m.optim.Adafactor([p(2)], eps=(-1, 1e-3)), "epsilon1 should be >= 0"),
    (lambda m, p: m.optim.Adafactor([p(2)], d=0.5), "Clipping threshold d should be >= 1"),
    (lambda m, p: m.optim.LBFGS([p(2)]).step(), "missing 1 required positional argument: 'closure'"),
    (lambda m, p: m.optim.LBFGS([{"params": [p(2)]}, {"params": [p(2)]}]), "per-parameter options"),
]


@pytest.mark.parametrize("fn,match", BAD)
def test_bad_input_raises_like_torch(fn, match):
    _same_error(fn, match)


def test_required_hyper_parameter_and_duplicate_warning():
    from nnbox.optim.optimizer import required

    class Plain(nnbox.optim.Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([_p(2)])
    assert Plain([{"params": [_p(2)], "lr": 0.3}]).param_groups[0]["lr"] == 0.3
    assert repr(required) == "<required parameter>"
    a = _p(2)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        nnbox.optim.SGD([a, a], lr=0.1)


def test_failed_add_param_group_leaves_optimizer_unchanged():
    a, b = _p(2), _p(2)
    opt = nnbox.optim.SGD([a], lr=0.1)
    group = {"params": [b, a]}
    with pytest.raises(ValueError):
        opt.add_param_group(group)
    assert len(opt.param_groups) == 1 and "lr" not in group


def test_unsupported_options_fail_clearly():
    with pytest.raises(NotImplementedError, match="capturable=True"):
        nnbox.optim.Adam([_p(2)], capturable=True)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        nnbox.optim.SGD([_p(2)], lr=0.1, differentiable=True)


def test_lbfgs_line_search_name_checked():
    w = _p(2)
    opt = nnbox.optim.LBFGS([w], line_search_fn="foo")

    def closure():
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


def test_step_hooks_and_closure():
    w = _p(2)
    opt = nnbox.optim.SGD([w], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))

    def closure():
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        calls.append("closure")
        return loss

    loss = opt.step(closure)
    assert calls == ["pre", "closure", "post"] and float(loss) == 2.0
    h1.remove()
    opt.step(closure)
    assert calls[3:] == ["closure", "post"]


@pytest.mark.cpu_only(reason="the module's docstring shows CPU tensors' reprs")
def test_module_docstring_example_subclass():
    """The extension example of nnbox/optim/optimizer.py, run under both libraries."""
    import doctest

    import nnbox.optim.optimizer as mod

    res = doctest.testmod(mod, verbose=False)
    assert res.attempted >= 6 and res.failed == 0

    src = "\n".join(
        line[4:] if line.startswith(("... ", ">>> ")) else "" for line in mod.__doc__.splitlines()
    )
    outs = {}
    for lib in (torch, nnbox):
        ns = {"nnbox": lib, "Optimizer": lib.optim.Optimizer}
        exec(src.replace("import nnbox", "").replace("from nnbox.optim import Optimizer", ""), ns)
        outs[lib.__name__] = ns["w"].detach().numpy().tolist()
    assert outs["torch"] == outs["nnbox"] == [0.5, -1.5]


def test_pickle_roundtrip():
    import pickle

    w = _p(2)
    w.grad = nnbox.ones(2)
    opt = nnbox.optim.Adam([w], lr=0.1)
    opt.step()
    opt2 = pickle.loads(pickle.dumps(opt))
    assert opt2.param_groups[0]["lr"] == 0.1 and len(opt2.state) == 1


def test_no_warnings_in_plain_training():
    params, loss_fn = _model(nnbox, "float32")
    opt = nnbox.optim.Adam(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(3):
            opt.zero_grad()
            loss_fn(step).backward()
            opt.step()


def _check_devices(opt):
    for key, v in opt.state[opt.param_groups[0]["params"][0]].items():
        if isinstance(v, nnbox.Tensor) and v.dim() > 0:
            assert v.is_cuda, key
        if key == "step":
            assert not v.is_cuda  # step counters stay on the CPU, as in torch


@pytest.mark.gpu
@pytest.mark.skipif(not nnbox.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("case", ALGOS + [("LBFGS", dict(line_search_fn="strong_wolfe"))], ids=_ids)
def test_cuda_matches_cpu(case):
    """The same update code on CuPy arrays: equal to the NumPy run; state lives on the GPU except
    the step counters; a CPU state_dict loads onto GPU parameters and continues identically."""
    name, kw = case
    rng = np.random.default_rng(2)
    x0, c = rng.normal(size=(300, 230)), np.abs(rng.normal(size=(300, 230))) + 0.1

    def run(device, steps, opt_from=None):
        x = nnbox.tensor(x0.copy(), device=device, requires_grad=True)
        opt = getattr(nnbox.optim, name)([x], **kw)
        if opt_from is not None:
            with nnbox.no_grad():
                x.copy_(opt_from.param_groups[0]["params"][0].to(device))
            opt.load_state_dict(copy.deepcopy(opt_from.state_dict()))

        def closure():  # the quadratic 0.5 c x^2 + 0.1 x, gradient written by hand
            xv = x.detach().cpu().numpy()
            x.grad = nnbox.tensor(c * xv + 0.1, device=device)
            return nnbox.tensor(float((0.5 * c * xv**2 + 0.1 * xv).sum()))

        for _ in range(steps):
            closure()
            opt.step(closure)
        return x.detach().cpu().numpy(), opt

    a, opt_cpu = run("cpu", 4)
    b, opt_gpu = run("cuda", 4)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    _check_devices(opt_gpu)
    a2, _ = run("cpu", 2, opt_from=opt_cpu)
    b2, opt_gpu2 = run("cuda", 2, opt_from=opt_cpu)
    _check_devices(opt_gpu2)
    np.testing.assert_allclose(b2, a2, rtol=1e-9, atol=1e-12)


def test_top_level_set_is_accepted_like_torch():
    """torch 2.13 turns a top-level iterable (even a set) into a list; only a set inside a group
    dict is refused (see BAD above).  nnbox does the same."""
    a, b = _p(2), _p(3)
    opt = nnbox.optim.SGD({a, b}, lr=0.1)
    assert {id(p) for p in opt.param_groups[0]["params"]} == {id(a), id(b)}
    ta, tb = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    assert len(torch.optim.SGD({ta, tb}, lr=0.1).param_groups[0]["params"]) == 2


def test_subclass_of_builtin_runs_hooks_once_and_feeds_schedulers():
    class ClippedSGD(nnbox.optim.SGD):
        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        p.grad.clamp_(-1, 1)
            return super().step(closure)

    w = _p(2)
    opt = ClippedSGD([w], lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    sched = nnbox.optim.lr_scheduler.StepLR(opt, 1)
    w.grad = nnbox.tensor([5.0, -0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "scheduler before optimizer" warning
        opt.step()
        sched.step()
    assert calls == [1] and w.tolist() == [-0.5, 0.25]


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("LBFGS", dict(history_size=4, max_iter=3))])
def test_checkpoint_from_torch_resumes_in_nnbox(name, kw, tmp_path):
    """torch trains, torch.save()s model and optimizer; nnbox.load() + load_state_dict continue
    exactly where torch continues (checkpoints map one-to-one)."""
    tparams, tloss = _model(torch, "float64")
    topt = getattr(torch.optim, name)(tparams, **kw)

    def run(m, opt, params, loss_fn, steps):
        for step in steps:
            def closure():
                opt.zero_grad()
                loss = loss_fn(0 if name == "LBFGS" else step)
                loss.backward()
                return loss

            if name == "LBFGS":
                opt.step(closure)
            else:
                closure()
                opt.step()
        return [_np(p).copy() for p in params]

    run(torch, topt, tparams, tloss, range(5))
    torch.save({"params": [p.detach() for p in tparams], "opt": topt.state_dict()}, tmp_path / "ck.pt")
    want = run(torch, topt, tparams, tloss, range(5, 10))

    ck = nnbox.load(tmp_path / "ck.pt")
    nparams, nloss = _model(nnbox, "float64")
    with nnbox.no_grad():
        for p, saved in zip(nparams, ck["params"]):
            p.copy_(saved)
    nopt = getattr(nnbox.optim, name)(nparams, **kw)
    nopt.load_state_dict(ck["opt"])
    got = run(nnbox, nopt, nparams, nloss, range(5, 10))
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
