"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict against torch: the same operations
give the same repr, keys and errors."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import nnbox
from oracle import same_error


def both(fn):
    """Run ``fn(m)`` with m = torch and m = nnbox; return both results."""
    return fn(torch), fn(nnbox)


def same_repr(fn):
    t, n = both(fn)
    assert repr(n) == repr(t)
    return t, n


def lins(m, *sizes):
    return [m.nn.Linear(a, b) for a, b in sizes]


# --- Sequential ------------------------------------------------------------------------------------------
def test_sequential_construction_and_forward():
    same_repr(lambda m: m.nn.Sequential(*lins(m, (2, 3), (3, 1))))
    same_repr(lambda m: m.nn.Sequential(OrderedDict([("fc1", m.nn.Linear(2, 3)), ("flat", m.nn.Flatten())])))
    same_repr(lambda m: m.nn.Sequential())
    t, n = both(lambda m: m.nn.Sequential(OrderedDict([("fc1", m.nn.Linear(2, 3)), ("fc2", m.nn.Linear(3, 1))])))
    assert list(n.state_dict()) == list(t.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    n.load_state_dict({k: nnbox.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(n(nnbox.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("op", [
    lambda s: s[1],
    lambda s: s[-1],
    lambda s: s[1:],
    lambda s: s[::2],
    lambda s: len(s),
    lambda s: [type(x).__name__ for x in s],
])
def test_sequential_indexing(op):
    t, n = both(lambda m: op(m.nn.Sequential(*lins(m, (2, 3), (3, 4), (4, 5)))))
    assert repr(n) == repr(t)


def test_sequential_slice_is_sequential_sharing_modules():
    s = nnbox.nn.Sequential(*lins(nnbox, (2, 3), (3, 4), (4, 5)))
    sub = s[1:]
    assert type(sub) is nnbox.nn.Sequential and sub[0] is s[1]


@pytest.mark.parametrize("mutate", [
    lambda m, s: s.append(m.nn.Identity()),
    lambda m, s: s.insert(1, m.nn.Identity()),
    lambda m, s: s.insert(-1, m.nn.Identity()),
    lambda m, s: s.extend([m.nn.Identity(), m.nn.Flatten()]),
    lambda m, s: s.pop(1),
    lambda m, s: s.__delitem__(0),
    lambda m, s: s.__delitem__(slice(0, 2)),
    lambda m, s: s.__setitem__(-1, m.nn.Identity()),
    lambda m, s: s.add_module("named", m.nn.Identity()),
])
def test_sequential_mutation(mutate):
    def run(m):
        s = m.nn.Sequential(*lins(m, (2, 3), (3, 4), (4, 5)))
        mutate(m, s)
        return s

    t, n = same_repr(run)
    assert list(n.state_dict()) == list(t.state_dict())


def test_sequential_add_mul():
    same_repr(lambda m: m.nn.Sequential(m.nn.Linear(1, 2)) + m.nn.Sequential(m.nn.Identity()))
    same_repr(lambda m: m.nn.Sequential(m.nn.Linear(1, 2), m.nn.Identity()) * 2)
    same_error(lambda m: m.nn.Sequential() + 3)


@pytest.mark.parametrize("fn", [
    lambda m: m.nn.Sequential(m.nn.Identity())[3],
    lambda m: m.nn.Sequential(m.nn.Identity())[-4],
    lambda m: m.nn.Sequential(m.nn.Identity())["a"],
    lambda m: m.nn.Sequential(m.nn.Identity()).insert(5, m.nn.Identity()),
    lambda m: m.nn.Sequential(m.nn.Identity()).insert(0, 3),
    lambda m: m.nn.Sequential(3),
])
def test_sequential_errors(fn):
    same_error(fn)


# --- ModuleList ------------------------------------------------------------------------------------------
def test_modulelist_repr_collapses_runs():
    same_repr(lambda m: m.nn.ModuleList(lins(m, (2, 2), (2, 2), (2, 2)) + [m.nn.Identity()] + lins(m, (2, 3), (2, 3))))
    same_repr(lambda m: m.nn.ModuleList())
    same_repr(lambda m: m.nn.ModuleList([m.nn.Sequential(m.nn.Linear(1, 1)), m.nn.Sequential(m.nn.Linear(1, 1))]))


@pytest.mark.parametrize("mutate", [
    lambda m, ml: ml.append(m.nn.Identity()),
    lambda m, ml: ml.extend([m.nn.Identity()]),
    lambda m, ml: ml.insert(1, m.nn.Identity()),
    lambda m, ml: ml.pop(0),
    lambda m, ml: ml.__delitem__(slice(1, None)),
    lambda m, ml: ml.__setitem__(-1, m.nn.Flatten()),
    lambda m, ml: ml.__iadd__([m.nn.Identity()]),
])
def test_modulelist_mutation(mutate):
    def run(m):
        ml = m.nn.ModuleList(lins(m, (2, 3), (3, 4), (4, 5)))
        mutate(m, ml)
        return ml

    t, n = same_repr(run)
    assert list(n.state_dict()) == list(t.state_dict())


def test_modulelist_indexing_and_add():
    ml = nnbox.nn.ModuleList(lins(nnbox, (2, 3), (3, 4)))
    assert ml[-1] is ml[1] and type(ml[:1]) is nnbox.nn.ModuleList and len(ml) == 2
    both_ = ml + [nnbox.nn.Identity()]
    assert type(both_) is nnbox.nn.ModuleList and len(both_) == 3 and both_[0] is ml[0]
    same_error(lambda m: m.nn.ModuleList([m.nn.Identity()])[3])
    same_error(lambda m: m.nn.ModuleList().extend(3))
    same_error(lambda m: m.nn.ModuleList([3]))
    same_error(lambda m: m.nn.ModuleList()(1))


# --- ModuleDict ----------------------------------------------------------------------------------------
def test_moduledict():
    t, n = same_repr(lambda m: m.nn.ModuleDict({"b": m.nn.Linear(1, 1), "a": m.nn.Identity()}))
    assert list(n.keys()) == list(t.keys()) == ["b", "a"]
    same_repr(lambda m: m.nn.ModuleDict([("x", m.nn.Identity()), ("y", m.nn.Flatten())]))
    d = nnbox.nn.ModuleDict()
    d["fc"] = nnbox.nn.Linear(2, 2)
    d.update({"id": nnbox.nn.Identity()})
    assert "fc" in d and len(d) == 2 and list(d) == ["fc", "id"]
    assert [k for k, _ in d.named_parameters()] == ["fc.weight", "fc.bias"]
    assert type(d.pop("fc")) is nnbox.nn.Linear and list(d.keys()) == ["id"]
    d.clear()
    assert len(d) == 0
    for fn in [lambda m: m.nn.ModuleDict().update(3), lambda m: m.nn.ModuleDict().update([(1,)]),
               lambda m: m.nn.ModuleDict().update([3]), lambda m: m.nn.ModuleDict()["x"]]:
        same_error(fn)


@pytest.mark.cpu_only(reason="compares with torch's CPU reprs (the device shows in a cuda parameter's)")
# --- ParameterList / ParameterDict ------------------------------------------------------------------------
def test_parameterlist():
    same_repr(lambda m: m.nn.ParameterList([m.nn.Parameter(m.ones(2, 3)), m.ones(2, dtype=m.float64)]))
    same_repr(lambda m: m.nn.ParameterList([m.nn.Parameter(m.ones(2))]))
    same_repr(lambda m: m.nn.ParameterList())
    same_repr(lambda m: m.nn.ParameterList([m.ones(1)]).append(3))
    t, n = both(lambda m: m.nn.ParameterList([m.ones(1), m.ones(2)]))
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()] == ["0", "1"]
    assert all(type(p) is nnbox.nn.Parameter for p in n)
    assert type(n[0:1]) is nnbox.nn.ParameterList and n[-1] is n[1]
    n[0] = nnbox.zeros(3)
    assert type(n[0]) is nnbox.nn.Parameter and n[0].shape == (3,)
    n.extend([nnbox.ones(4)])
    n += [nnbox.ones(5)]
    assert len(n) == 4
    same_error(lambda m: m.nn.ParameterList()(1))
    same_error(lambda m: m.nn.ParameterList().extend(m.ones(2)))
    same_error(lambda m: m.nn.ParameterList([m.ones(1)])[2])


@pytest.mark.cpu_only(reason="compares with torch's CPU reprs (the device shows in a cuda parameter's)")
def test_parameterdict():
    t, n = same_repr(lambda m: m.nn.ParameterDict({"b": m.nn.Parameter(m.ones(2, 3)), "a": m.ones(2)}))
    assert list(n.keys()) == list(t.keys()) == ["a", "b"]  # a plain dict is sorted, as torch does
    same_repr(lambda m: m.nn.ParameterDict(OrderedDict([("z", m.ones(1)), ("y", m.ones(1))])))
    same_repr(lambda m: m.nn.ParameterDict([("z", m.ones(1)), ("y", 3)]))
    same_repr(lambda m: m.nn.ParameterDict())
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert "a" in n and n.get("zz", 5) == 5 and len(n) == 2 and type(n["a"]) is nnbox.nn.Parameter
    n["c"] = nnbox.zeros(1)
    assert list(n) == ["a", "b", "c"] and list(reversed(n)) == ["c", "b", "a"]
    assert n.pop("c").shape == (1,) and n.popitem()[0] == "b"
    assert n.setdefault("q", nnbox.ones(2)).shape == (2,)
    merged = n | nnbox.nn.ParameterDict({"r": nnbox.ones(1)})
    assert list(merged) == ["a", "q", "r"] and list(n.copy()) == ["a", "q"]
    n.clear()
    assert len(n) == 0
    for fn in [lambda m: m.nn.ParameterDict()[3], lambda m: m.nn.ParameterDict().update(3),
               lambda m: m.nn.ParameterDict().update([(1,)]), lambda m: m.nn.ParameterDict()(1)]:
        same_error(fn)


def test_containers_train_and_to_propagate():
    s = nnbox.nn.Sequential(nnbox.nn.ModuleList([nnbox.nn.Linear(2, 2)]),
                            nnbox.nn.ModuleDict({"a": nnbox.nn.Linear(2, 2)}))
    s.add_module("plist", nnbox.nn.ParameterList([nnbox.ones(1)]))
    s.eval()
    assert not any(m.training for m in s.modules())
    s.double()
    assert all(p.dtype == nnbox.float64 for p in s.parameters()) and len(list(s.parameters())) == 5
