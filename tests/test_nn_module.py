"""nn.Module against torch: attribute routing, iteration, state_dict, modes, dtype moves, hooks, repr,
errors (same type and message), and the plain-container warning."""
from __future__ import annotations

import copy
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

import nnbox
from oracle import same_error


def make_net(m):
    """A model with nesting, a shared layer, a None parameter, buffers (one non-persistent)."""
    nn = m.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.register_buffer("running", m.zeros(3))
            self.register_buffer("scratch", m.ones(2), persistent=False)
            self.register_buffer("count", m.tensor(0))
            self.register_parameter("unused", None)
            self.scale = nn.Parameter(m.ones(1))

        def forward(self, x):
            return self.fc(x) * self.scale

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(4, 3)
            self.blocks = nn.Sequential(Block(), Block())
            self.shared = self.stem  # the same module under two names
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Identity()})
            self.extra = nn.ParameterList([nn.Parameter(m.ones(2))])

        def forward(self, x):
            return self.heads["a"](self.blocks(self.stem(x)))

    return Net()


def copy_state(tm, nm):
    return nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


# --- attribute routing --------------------------------------------------------------------------------
def test_setattr_routes_params_modules_buffers():
    nn = nnbox.nn
    m = nn.Module()
    m.w = nn.Parameter(nnbox.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("b", nnbox.zeros(1))
    m.plain = 3
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["b"]
    assert "w" not in m.__dict__ and m.w is m._parameters["w"] and m.plain == 3
    m.b = nnbox.ones(1)  # a tensor assigned to a buffer name stays a buffer
    assert list(m._buffers) == ["b"] and float(m.b) == 1.0
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    m.b = nn.Linear(1, 1)  # changing kind moves the name between stores
    assert "b" not in m._buffers and "b" in m._modules
    m.sub = nn.Parameter(nnbox.ones(1))
    assert "sub" not in m._modules and "sub" in m._parameters
    m.plain = nn.Parameter(nnbox.ones(1))
    assert "plain" not in m.__dict__ and "plain" in m._parameters
    del m.sub, m.b, m.plain
    assert "sub" not in m._parameters and "b" not in m._modules and not hasattr(m, "plain")
    m.buf = nn.Buffer(nnbox.ones(2), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set and "buf" not in m.state_dict()


@pytest.mark.parametrize("case", [
    lambda m: type("A", (m.nn.Module,), {"__init__": lambda s: setattr(s, "l", m.nn.Linear(1, 1))})(),
    lambda m: type("B", (m.nn.Module,), {"__init__": lambda s: setattr(s, "p", m.nn.Parameter(m.ones(1)))})(),
    lambda m: type("C", (m.nn.Module,), {"__init__": lambda s: s.register_buffer("x", m.ones(1))})(),
    lambda m: m.nn.Module()(1),
    lambda m: m.nn.Module().foo,
    lambda m: m.nn.Module().register_parameter("a.b", None),
    lambda m: m.nn.Module().register_parameter("", None),
    lambda m: m.nn.Module().register_parameter("w", m.ones(2)),
    lambda m: m.nn.Module().register_parameter(3, None),
    lambda m: m.nn.Module().register_buffer("x", 3),
    lambda m: m.nn.Module().register_buffer(3, m.ones(1)),
    lambda m: m.nn.Module().register_buffer("a.b", m.ones(1)),
    lambda m: m.nn.Module().register_buffer("", m.ones(1)),
    lambda m: m.nn.Module().add_module("a.b", m.nn.Linear(1, 1)),
    lambda m: m.nn.Module().add_module("", m.nn.Linear(1, 1)),
    lambda m: m.nn.Module().add_module("q", 3),
    lambda m: m.nn.Module().add_module(3, m.nn.Linear(1, 1)),
    lambda m: m.nn.Module().add_module("train", m.nn.Linear(1, 1)),
    lambda m: m.nn.Linear(1, 1).register_buffer("weight", m.ones(1)),
    lambda m: setattr(m.nn.Linear(1, 1), "weight", m.ones(1)),
    lambda m: setattr(m.nn.Sequential(m.nn.Linear(1, 1)), "0", 3),
    lambda m: m.nn.Module().train(3),
    lambda m: m.nn.Parameter(m.tensor([1, 2])),
    lambda m: delattr(m.nn.Module(), "nonexist"),
])
def test_errors_equal_torch(case):
    same_error(case)


def test_get_submodule_parameter_buffer():
    for fn in [lambda m: make_net(m).get_submodule("nope"), lambda m: make_net(m).get_submodule("blocks.0.nope"),
               lambda m: make_net(m).get_submodule("stem.weight"), lambda m: make_net(m).get_parameter("stem.nope"),
               lambda m: make_net(m).get_parameter("stem"), lambda m: make_net(m).get_buffer("stem.weight"),
               lambda m: make_net(m).get_parameter("blocks.0.running")]:
        same_error(fn)
    net = make_net(nnbox)
    assert net.get_submodule("blocks.1.fc") is net.blocks[1].fc and net.get_submodule("") is net
    assert net.get_parameter("blocks.0.fc.bias") is net.blocks[0].fc.bias
    assert net.get_buffer("blocks.1.running") is net.blocks[1].running
    new = nnbox.nn.Linear(3, 3)
    net.set_submodule("blocks.0.fc", new)
    assert net.blocks[0].fc is new


# --- iteration ----------------------------------------------------------------------------------------
def test_named_members_match_torch():
    t, n = make_net(torch), make_net(nnbox)
    for call in [lambda x: [k for k, _ in x.named_parameters()],
                 lambda x: [k for k, _ in x.named_parameters(remove_duplicate=False)],
                 lambda x: [k for k, _ in x.named_parameters(prefix="model")],
                 lambda x: [k for k, _ in x.blocks[0].named_parameters(recurse=False)],
                 lambda x: [k for k, _ in x.named_buffers()],
                 lambda x: [k for k, _ in x.named_buffers(recurse=False)],
                 lambda x: [k for k, _ in x.named_children()],
                 lambda x: [k for k, _ in x.named_modules()],
                 lambda x: [k for k, _ in x.named_modules(remove_duplicate=False)],
                 lambda x: [k for k, _ in x.named_modules(prefix="root")],
                 lambda x: [type(c).__name__ for c in x.children()],
                 lambda x: [type(c).__name__ for c in x.modules()],
                 lambda x: [tuple(p.shape) for p in x.parameters()],
                 lambda x: [tuple(b.shape) for b in x.buffers()]]:
        assert call(n) == call(t)


def test_shared_parameter_counted_once():
    nn = nnbox.nn
    a = nn.Linear(3, 3)
    net = nn.Sequential(a, nn.Linear(3, 3))
    net[1].weight = a.weight  # tied weights
    names = [k for k, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert len(list(net.parameters())) == 3
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


# --- state_dict ---------------------------------------------------------------------------------------
def test_state_dict_keys_shapes_metadata_match_torch():
    t, n = make_net(torch), make_net(nnbox)
    ts, ns = t.state_dict(), n.state_dict()
    assert type(ns) is OrderedDict
    assert list(ns) == list(ts)
    assert [tuple(v.shape) for v in ns.values()] == [tuple(v.shape) for v in ts.values()]
    assert [str(v.dtype) for v in ts.values()] == [repr(v.dtype) for v in ns.values()]
    assert dict(ns._metadata) == dict(ts._metadata)
    assert list(n.state_dict(prefix="p.")) == list(t.state_dict(prefix="p."))
    assert all(not v.requires_grad for v in ns.values())
    kept = n.state_dict(keep_vars=True)
    assert kept["stem.weight"] is n.stem.weight


def test_load_state_dict_roundtrip_and_values():
    t, n = make_net(torch).double(), make_net(nnbox).double()
    res = copy_state(t, n)
    assert repr(res) == "<All keys matched successfully>" and res.missing_keys == [] and res.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(n(nnbox.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # int buffer stays int, values copied in place (same objects)
    w = n.stem.weight
    copy_state(t, n)
    assert n.stem.weight is w and n.blocks[0].count.dtype == nnbox.int64


def test_load_state_dict_errors_equal_torch():
    def bad(m, sd_fn, **kw):
        net = make_net(m)
        return net.load_state_dict(sd_fn(m, net), **kw)

    def missing_unexpected_size(m, net):
        sd = net.state_dict()
        del sd["stem.bias"]
        sd["nope"] = m.ones(1)
        sd["blocks.0.fc.nope"] = m.ones(1)
        sd["blocks.0.fc.weight"] = m.ones(5, 3)
        return sd

    def non_tensor(m, net):
        sd = net.state_dict()
        sd["stem.weight"] = 5
        return sd

    same_error(lambda m: bad(m, missing_unexpected_size))
    same_error(lambda m: bad(m, missing_unexpected_size, strict=False))  # size mismatch still raises
    same_error(lambda m: bad(m, non_tensor))
    same_error(lambda m: make_net(m).load_state_dict(3))

    def only_keys(m, net):
        sd = net.state_dict()
        del sd["stem.bias"]
        sd["nope"] = m.ones(1)
        return sd

    t_res = make_net(torch).load_state_dict(only_keys(torch, make_net(torch)), strict=False)
    n_res = make_net(nnbox).load_state_dict(only_keys(nnbox, make_net(nnbox)), strict=False)
    assert repr(n_res) == repr(t_res) and n_res.missing_keys == ["stem.bias"]


def test_load_state_dict_is_atomic():
    net = make_net(nnbox)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sd = {k: v + 1 for k, v in net.state_dict().items()}
    sd["blocks.1.fc.bias"] = nnbox.ones(7)  # one bad entry
    with pytest.raises(RuntimeError, match="size mismatch for blocks.1.fc.bias"):
        net.load_state_dict(sd)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy())


def test_load_state_dict_assign():
    n = make_net(nnbox)
    src = make_net(nnbox).state_dict()
    n.load_state_dict(src, assign=True)
    assert n.stem.weight._data is src["stem.weight"]._data
    assert isinstance(n.stem.weight, nnbox.nn.Parameter) and n.stem.weight.requires_grad
    assert n.blocks[0].running is src["blocks.0.running"]


def test_load_from_state_dict_extension_point_and_version():
    nn = nnbox.nn

    class Counter(nn.Module):
        _version = 2

        def __init__(self):
            super().__init__()
            self.register_buffer("n", nnbox.tensor(0))
            self.seen = None

        def _load_from_state_dict(self, sd, prefix, meta, *args):
            self.seen = meta.get("version")
            if prefix + "n" not in sd:  # an old checkpoint: fill in the default
                sd[prefix + "n"] = nnbox.tensor(7)
            super()._load_from_state_dict(sd, prefix, meta, *args)

    c = nn.Sequential(Counter())
    sd = c.state_dict()
    assert sd._metadata["0"] == {"version": 2}
    c.load_state_dict(sd)
    assert c[0].seen == 2
    c.load_state_dict(OrderedDict())  # no key: the override supplies it
    assert int(c[0].n) == 7 and c[0].seen is None


def test_extra_state():
    nn = nnbox.nn

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg = {"a": 1}

        def get_extra_state(self):
            return dict(self.cfg)

        def set_extra_state(self, state):
            self.cfg = state

    w = nn.Sequential(WithExtra())
    sd = w.state_dict()
    assert list(sd) == ["0._extra_state"] and sd["0._extra_state"] == {"a": 1}
    w.load_state_dict({"0._extra_state": {"a": 5}})
    assert w[0].cfg == {"a": 5}


def test_state_dict_hooks():
    lin = nnbox.nn.Linear(2, 2)
    calls = []
    lin.register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append("pre"))
    lin.register_load_state_dict_post_hook(lambda mod, keys: calls.append(("post", tuple(keys.missing_keys))))
    lin.load_state_dict(lin.state_dict())
    assert calls == ["pre", ("post", ())]


# --- modes, grads, dtype/device -------------------------------------------------------------------------
def test_train_eval_propagate_and_requires_grad():
    net = make_net(nnbox)
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].training and not net.training
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_grad():
    lin = nnbox.nn.Linear(2, 2)
    lin(nnbox.ones(1, 2)).sum().backward()
    g = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is g and not g.numpy().any()
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_to_keeps_parameter_identity_and_casts_only_floats():
    net = make_net(nnbox)
    params = list(net.parameters())
    net(nnbox.ones(2, 4)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == nnbox.float64 for p in net.parameters())
    assert net.stem.weight.grad.dtype == nnbox.float64 and net.stem.weight.grad.shape == (3, 4)
    assert net.blocks[0].count.dtype == nnbox.int64 and net.blocks[0].running.dtype == nnbox.float64
    net.to(nnbox.float32)
    assert all(p.dtype == nnbox.float32 for p in net.parameters())
    net.half()
    assert net.stem.weight.dtype == nnbox.float16
    net.float().to("cpu").cpu()
    assert net.stem.weight.dtype == nnbox.float32 and isinstance(net.stem.weight, nnbox.nn.Parameter)
    net.to(dtype=nnbox.float64, device="cpu")
    assert net.stem.weight.dtype == nnbox.float64
    net.to(nnbox.ones(1))  # like a tensor: float32 on cpu
    assert net.stem.weight.dtype == nnbox.float32
    net.type(nnbox.float64)
    assert net.blocks[0].count.dtype == nnbox.float64  # .type casts everything, as torch's
    same_error(lambda m: m.nn.Linear(1, 1).to(m.int64))


def test_apply_order():
    order = []
    net = make_net(nnbox)
    net.apply(lambda mod: order.append(type(mod).__name__))
    t_order = []
    make_net(torch).apply(lambda mod: t_order.append(type(mod).__name__))
    assert order == t_order


# --- calling and hooks ----------------------------------------------------------------------------------
def test_forward_hooks_like_torch():
    def run(m):
        log = []
        lin = m.nn.Linear(2, 2)
        with m.no_grad():
            lin.weight.copy_(m.eye(2))
            lin.bias.zero_()
        h1 = lin.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = lin.register_forward_hook(lambda mod, args, out: out + 1)
        lin.register_forward_hook(lambda mod, args, out: log.append("first"), prepend=True)
        lin.register_forward_pre_hook(lambda mod, args, kw: (args, {**kw}), with_kwargs=True)
        lin.register_forward_hook(lambda mod, args, kw, out: log.append(("kw", tuple(out.shape))), with_kwargs=True)
        y1 = lin(m.ones(1, 2)).detach().numpy().copy()
        h1.remove()
        h2.remove()
        y2 = lin(m.ones(1, 2)).detach().numpy().copy()
        return y1, y2, log

    (ty1, ty2, tlog), (ny1, ny2, nlog) = run(torch), run(nnbox)
    np.testing.assert_array_equal(ny1, ty1)
    np.testing.assert_array_equal(ny2, ty2)
    assert nlog == tlog


def test_always_call_hook_runs_on_error():
    nn = nnbox.nn

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    b = Boom()
    b.register_forward_hook(lambda m, a, out: seen.append(out), always_call=True)
    b.register_forward_hook(lambda m, a, out: seen.append("never"))
    with pytest.raises(ValueError, match="boom"):
        b(1)
    assert seen == [None]


def test_global_forward_hook():
    from nnbox.nn.modules.module import register_module_forward_hook

    seen = []
    h = register_module_forward_hook(lambda m, a, out: seen.append(type(m).__name__))
    try:
        nnbox.nn.Sequential(nnbox.nn.Linear(2, 2), nnbox.nn.Identity())(nnbox.ones(1, 2))
    finally:
        h.remove()
    nnbox.nn.Linear(2, 2)(nnbox.ones(1, 2))
    assert seen == ["Linear", "Identity", "Sequential"]


def test_full_backward_hooks_match_torch():
    def run(m):
        m.manual_seed(0)
        lin = m.nn.Linear(3, 2).double()
        with m.no_grad():
            lin.weight.copy_(m.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=m.float64))
            lin.bias.copy_(m.tensor([0.5, -0.25], dtype=m.float64))
        got = {}

        def hook(mod, gi, go):
            got["gi"] = [g.detach().numpy().copy() for g in gi]
            got["go"] = [g.detach().numpy().copy() for g in go]
            return (gi[0] * 10,)

        def pre(mod, go):
            got["pre"] = go[0].detach().numpy().copy()
            return (go[0] * 2,)

        lin.register_full_backward_hook(hook)
        lin.register_full_backward_pre_hook(pre)
        x = m.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        (lin(x) ** 2).sum().backward()
        got["xgrad"] = x.grad.numpy().copy()
        got["wgrad"] = lin.weight.grad.numpy().copy()
        return got

    t, n = run(torch), run(nnbox)
    for key in ("pre", "xgrad", "wgrad"):
        np.testing.assert_allclose(n[key], t[key], rtol=1e-12)
    for key in ("gi", "go"):
        assert len(n[key]) == len(t[key])
        for a, b in zip(n[key], t[key]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_full_backward_hook_inputs_without_grad():
    lin = nnbox.nn.Linear(2, 3)
    seen = []
    lin.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, tuple(go[0].shape))))
    with pytest.warns(UserWarning, match="Full backward hook is firing"):
        lin(nnbox.ones(4, 2)).sum().backward()
    assert seen == [((None,), (4, 3))]


def test_call_without_hooks_is_forward():
    lin = nnbox.nn.Linear(2, 2)
    x = nnbox.ones(1, 2)
    np.testing.assert_array_equal(lin(x).detach().numpy(), lin.forward(x).detach().numpy())


@pytest.mark.cpu_only(reason="compares with torch's CPU reprs (the device shows in a cuda parameter's)")
# --- repr, dir, copies ---------------------------------------------------------------------------------
def test_repr_matches_torch():
    def build(m):
        class Custom(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = m.nn.Sequential(OrderedDict([("fc", m.nn.Linear(2, 2)), ("id", m.nn.Identity())]))
                self.layers = m.nn.ModuleList([m.nn.Linear(2, 2) for _ in range(3)] + [m.nn.Flatten()])

            def extra_repr(self):
                return "hello\nworld"

        class OneLine(m.nn.Module):
            def extra_repr(self):
                return "k=3"

        return [make_net(m), Custom(), OneLine(), m.nn.Module(), m.nn.Sequential(Custom(), OneLine())]

    for t, n in zip(build(torch), build(nnbox)):
        assert repr(n) == repr(t)


def test_dir_lists_members():
    net = make_net(nnbox)
    d = dir(net)
    for name in ("stem", "blocks", "heads", "forward", "training", "state_dict"):
        assert name in d
    assert "weight" in dir(net.stem) and "0" not in dir(net.blocks)


class PickleNet(nnbox.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nnbox.nn.Linear(4, 3)
        self.shared = self.stem
        self.head = nnbox.nn.Sequential(nnbox.nn.Linear(3, 2))
        self.register_buffer("count", nnbox.tensor(3))

    def forward(self, x):
        return self.head(self.shared(x))


def test_deepcopy_and_pickle_keep_structure():
    net = PickleNet()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.shared is clone.stem  # sharing survives
        assert type(clone.stem.weight) is nnbox.nn.Parameter and clone.stem.weight is not net.stem.weight
        assert list(clone.state_dict()) == list(net.state_dict())
        np.testing.assert_array_equal(clone.stem.weight.detach().numpy(), net.stem.weight.detach().numpy())
        assert clone(nnbox.ones(1, 4)).shape == (1, 2)


# --- the plain-container warning -------------------------------------------------------------------------
def test_warns_once_for_modules_in_plain_list():
    nn = nnbox.nn

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

    with pytest.warns(UserWarning, match=r"Bad\.layers is a plain list .*nn\.ModuleList"):
        Bad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Bad()  # once per class and attribute
        assert list(Bad().parameters()) == []


def test_warns_for_list_filled_after_assignment_and_dicts():
    nn = nnbox.nn

    class Later(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.table = {}
            for _ in range(2):
                self.blocks.append(nn.Linear(2, 2))
            self.table["w"] = nn.Parameter(nnbox.ones(1))

    m = Later()
    with pytest.warns(UserWarning) as rec:
        list(m.parameters())
    msgs = sorted(str(r.message) for r in rec)
    assert any("Later.blocks is a plain list" in s and "nn.ModuleList" in s for s in msgs)
    assert any("Later.table is a plain dict" in s and "nn.ParameterDict" in s for s in msgs)


def test_no_warning_for_proper_containers():
    nn = nnbox.nn

    class Good(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2)])
            self.sizes = [1, 2, 3]
            self.names = {"a": "b"}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = Good()
        list(g.parameters())
        g.to(nnbox.float64)


def test_full_backward_hook_two_inputs_and_tuple_output_match_torch():
    def run(m):
        m.manual_seed(0)
        nn = m.nn

        class Two(nn.Module):
            def __init__(self):
                super().__init__()
                self.bil = nn.Bilinear(2, 3, 4).double()

            def forward(self, a, b):
                y = self.bil(a, b)
                return y, y * 3

        mod = Two()
        with m.no_grad():
            mod.bil.weight.copy_(m.tensor(np.linspace(-1, 1, 24).reshape(4, 2, 3)))
            mod.bil.bias.copy_(m.tensor([0.1, 0.2, 0.3, 0.4], dtype=m.float64))
        seen = {}

        def hook(module, gi, go):
            seen["gi"] = [None if g is None else g.numpy().copy() for g in gi]
            seen["go"] = [g.numpy().copy() for g in go]

        mod.register_full_backward_hook(hook)
        a = m.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
        b = m.tensor(np.arange(6.0).reshape(2, 3))  # needs no grad: torch reports zeros for it
        y1, y2 = mod(a, b)
        (y1.sum() + (y2 ** 2).sum()).backward()
        seen["a"] = a.grad.numpy().copy()
        return seen

    t, n = run(torch), run(nnbox)
    assert len(n["gi"]) == len(t["gi"]) == 2 and len(n["go"]) == len(t["go"]) == 2
    for x, y in zip(n["gi"], t["gi"]):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    for x, y in zip(n["go"], t["go"]):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    np.testing.assert_allclose(n["a"], t["a"], rtol=1e-12)


def test_full_backward_hook_tuple_layout_matches_torch():
    def run(m):
        class Mixed(m.nn.Module):
            def forward(self, a, k, b):
                return a * k, b * 1, 3

        seen = []
        mod = Mixed()
        mod.register_full_backward_hook(
            lambda mod_, gi, go: seen.append(([None if g is None else g.numpy().tolist() for g in gi],
                                              [None if g is None else g.numpy().tolist() for g in go])))
        mod.register_full_backward_pre_hook(lambda mod_, go: seen.append([g is None for g in go]))
        a = m.ones(2, requires_grad=True)
        out = mod(a, 2.0, m.ones(3))
        assert not out[1].requires_grad and out[2] == 3
        out[0].sum().backward()
        return seen

    assert run(nnbox) == run(torch)


def test_optimizer_built_before_to_still_updates():
    net = nnbox.nn.Linear(3, 2)
    opt = nnbox.optim.SGD(net.parameters(), lr=0.5)
    net.double()
    before = net.weight.detach().numpy().copy()
    net(nnbox.ones(4, 3, dtype=nnbox.float64)).sum().backward()
    opt.step()
    assert net.weight.dtype == nnbox.float64
    np.testing.assert_allclose(net.weight.detach().numpy(), before - 0.5 * 4.0, rtol=1e-12)


def test_to_empty():
    net = nnbox.nn.Sequential(nnbox.nn.Linear(3, 2))
    w = net[0].weight
    assert net.to_empty(device="cpu") is net
    assert net[0].weight is w and w.shape == (3 - 1, 3) and w.dtype == nnbox.float32


def test_full_backward_hook_in_a_create_graph_backward_matches_torch():
    # the hook sees (and returns) gradients with a graph, as torch's; its change is differentiated
    def run(m):
        lin = m.nn.Linear(3, 2).double()
        with m.no_grad():
            lin.weight.copy_(m.tensor(np.arange(6.0).reshape(2, 3) / 7))
            lin.bias.copy_(m.tensor([0.1, -0.2]))
        seen = []

        def hook(mod, gi, go):
            seen.append((gi[0].requires_grad, go[0].requires_grad))
            return (gi[0] * 2,)

        lin.register_full_backward_hook(hook)
        x = m.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
        (gx,) = m.autograd.grad(lin(x.sin()).tanh().pow(2).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        return seen, [t.detach().numpy() for t in (gx, x.grad, lin.weight.grad, lin.bias.grad)]

    (ts, tv), (ns, nv) = run(torch), run(nnbox)
    assert ns == ts
    for a, b in zip(nv, tv):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
