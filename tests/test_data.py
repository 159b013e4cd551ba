"""nnbox.utils.data datasets, samplers and collation, checked against torch.utils.data."""
from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import nnbox
import nnbox.utils.data as ndata
import oracle
from oracle import assert_same

LIBS = [(torch, tdata), (nnbox, ndata)]


def same_error(fn):
    """``fn(lib, data_module)`` raises the same exception type and message in torch and nnbox."""
    return oracle.same_error(lambda m: fn(m, tdata if m is torch else ndata))


def same_structure(t, n, path="batch"):
    """Same container types all the way down, same strings/numbers, tensors equal (shape, dtype, values)."""
    if isinstance(t, torch.Tensor):
        assert_same(t, n, what=path)
    elif isinstance(t, nnbox.Tensor):  # nnbox against nnbox (e.g. workers vs main process)
        assert isinstance(n, nnbox.Tensor) and n.dtype == t.dtype, f"{path}: {n!r} vs {t!r}"
        np.testing.assert_array_equal(n.numpy(), t.numpy(), err_msg=path)
    elif isinstance(t, dict):
        assert type(n) is type(t) and list(n) == list(t), f"{path}: {n!r} vs {t!r}"
        for k in t:
            same_structure(t[k], n[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(n).__name__ == type(t).__name__, f"{path}: {type(n).__name__} != torch {type(t).__name__}"
        assert len(n) == len(t), f"{path}: length {len(n)} != torch {len(t)}"
        for i, (a, b) in enumerate(zip(t, n)):
            same_structure(a, b, f"{path}[{i}]")
    else:
        assert type(n) is type(t) and n == t, f"{path}: {n!r} != torch {t!r}"


# --- datasets ------------------------------------------------------------------------------------

def test_tensor_dataset_indexing_and_len():
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    for lib, data in LIBS:
        ds = data.TensorDataset(lib.tensor(x), lib.tensor(y))
        assert len(ds) == 6
        a, b = ds[4]
        assert a.tolist() == [8.0, 9.0] and b.item() == 4
        sl = ds[1:3]
        assert sl[0].shape == (2, 2)
    same_error(lambda lib, data: data.TensorDataset(lib.zeros(3), lib.zeros(4)))


def test_concat_dataset_indexing_matches_torch():
    parts = [list(range(3)), list(range(10, 12)), list(range(20, 24))]
    t = tdata.ConcatDataset(parts)
    n = ndata.ConcatDataset(parts)
    assert len(n) == len(t) == 9
    assert n.cumulative_sizes == t.cumulative_sizes
    for i in range(-9, 9):
        assert n[i] == t[i]
    same_error(lambda lib, data: data.ConcatDataset(parts)[-10])
    same_error(lambda lib, data: data.ConcatDataset(parts)[9])
    same_error(lambda lib, data: data.ConcatDataset([]))


def test_dataset_add_gives_concat_and_chain():
    class Sq(ndata.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i * i

    class It(ndata.IterableDataset):
        def __iter__(self):
            return iter("ab")

    both = Sq() + Sq()
    assert isinstance(both, ndata.ConcatDataset) and [both[i] for i in range(6)] == [0, 1, 4, 0, 1, 4]
    chain = It() + It()
    assert isinstance(chain, ndata.ChainDataset) and list(chain) == list("abab")
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ndata.ConcatDataset([It()])
    with pytest.raises(TypeError, match="has no len"):
        len(chain)
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        ndata.Dataset()[0]
    with pytest.raises(TypeError, match="abstract"):
        ndata.IterableDataset()


def test_subset_and_stack_dataset():
    base = list(range(100, 110))
    for _, data in LIBS:
        s = data.Subset(base, [9, 0, 4])
        assert len(s) == 3 and [s[i] for i in range(3)] == [109, 100, 104]
        assert s.__getitems__([2, 0]) == [104, 109]
    t, n = tdata.StackDataset(base, base[::-1]), ndata.StackDataset(base, base[::-1])
    assert n[3] == t[3] and len(n) == len(t)
    assert ndata.StackDataset(a=base, b=base)[1] == tdata.StackDataset(a=base, b=base)[1]
    same_error(lambda lib, data: data.StackDataset(base, base[:3]))


@pytest.mark.parametrize("n,fractions", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (10, [0.3, 0.3, 0.4]), (5, [1.0])])
def test_random_split_fraction_lengths_match_torch(n, fractions):
    t = [len(s) for s in tdata.random_split(range(n), fractions)]
    parts = ndata.random_split(range(n), fractions)
    assert [len(s) for s in parts] == t
    assert sorted(i for p in parts for i in p) == list(range(n))  # disjoint and complete


def test_random_split_generator_and_errors():
    g = lambda: nnbox.Generator().manual_seed(3)  # noqa: E731
    a = [list(s) for s in ndata.random_split(range(20), [5, 15], generator=g())]
    b = [list(s) for s in ndata.random_split(range(20), [5, 15], generator=g())]
    assert a == b and sorted(a[0] + a[1]) == list(range(20))
    c = [list(s) for s in ndata.random_split(range(20), [5, 15], generator=nnbox.Generator().manual_seed(4))]
    assert c != a
    same_error(lambda lib, data: data.random_split(range(10), [3, 3]))
    same_error(lambda lib, data: data.random_split(range(10), [0.5, 0.6]))
    same_error(lambda lib, data: data.random_split(range(10), [-0.1, 1.1]))
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        ndata.random_split(range(2), [0.9, 0.05, 0.05])


# --- samplers ------------------------------------------------------------------------------------

def test_sequential_sampler():
    assert list(ndata.SequentialSampler(range(5))) == list(tdata.SequentialSampler(range(5)))
    assert len(ndata.SequentialSampler(range(5))) == 5


@pytest.mark.parametrize("num_samples", [None, 4, 10, 23])
def test_random_sampler_without_replacement(num_samples):
    src = range(10)
    got = list(ndata.RandomSampler(src, num_samples=num_samples, generator=nnbox.Generator().manual_seed(0)))
    ref = list(tdata.RandomSampler(src, num_samples=num_samples))
    assert len(got) == len(ref) == len(ndata.RandomSampler(src, num_samples=num_samples))
    # torch's rule: whole permutations, then the start of one more
    for start in range(0, len(got), 10):
        chunk = got[start:start + 10]
        assert len(set(chunk)) == len(chunk) and set(chunk) <= set(src)
    again = list(ndata.RandomSampler(src, num_samples=num_samples, generator=nnbox.Generator().manual_seed(0)))
    assert again == got


def test_random_sampler_replacement_and_global_seed():
    got = list(ndata.RandomSampler(range(5), replacement=True, num_samples=70))
    assert len(got) == 70 and set(got) <= set(range(5)) and len(set(got)) == 5
    nnbox.manual_seed(7)
    a = list(ndata.RandomSampler(range(50)))
    nnbox.manual_seed(7)
    b = list(ndata.RandomSampler(range(50)))
    c = list(ndata.RandomSampler(range(50)))
    assert a == b and sorted(a) == list(range(50)) and c != b


@pytest.mark.parametrize("kw", [dict(replacement=1), dict(num_samples=0), dict(num_samples=3.0)])
def test_random_sampler_errors(kw):
    same_error(lambda lib, data: data.RandomSampler(range(10), **kw))


def test_subset_random_sampler():
    g = nnbox.Generator().manual_seed(1)
    got = list(ndata.SubsetRandomSampler([5, 7, 9, 11], generator=g))
    assert sorted(got) == [5, 7, 9, 11] and len(ndata.SubsetRandomSampler([5, 7])) == 2


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0]
    got = list(ndata.WeightedRandomSampler(w, 4000, generator=nnbox.Generator().manual_seed(0)))
    counts = np.bincount(got, minlength=4)
    assert counts[0] == counts[3] == 0
    assert abs(counts[2] / 4000 - 0.75) < 0.03  # 5 sigma is about 0.034
    no_rep = list(ndata.WeightedRandomSampler([1, 2, 3, 4, 5], 5, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3, 4]
    assert len(ndata.WeightedRandomSampler(w, 7)) == 7
    same_error(lambda lib, data: data.WeightedRandomSampler([1, 2], 0))
    same_error(lambda lib, data: data.WeightedRandomSampler([1, 2], 2, replacement=1))
    same_error(lambda lib, data: data.WeightedRandomSampler([[1, 2]], 2))
    same_error(lambda lib, data: list(data.WeightedRandomSampler([1, 2], 5, replacement=False)))


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(n, bs, drop):
    t = tdata.BatchSampler(range(n), bs, drop)
    b = ndata.BatchSampler(range(n), bs, drop)
    assert list(b) == list(t) and len(b) == len(t)


@pytest.mark.parametrize("bs,drop", [(0, False), (-1, False), (True, False), (2.5, False), (2, 1)])
def test_batch_sampler_errors(bs, drop):
    same_error(lambda lib, data: data.BatchSampler(range(4), bs, drop))


@pytest.mark.parametrize("n,replicas,drop", [(10, 3, False), (10, 3, True), (9, 3, False), (2, 4, False), (11, 4, True)])
def test_distributed_sampler_unshuffled_matches_torch(n, replicas, drop):
    for rank in range(replicas):
        t = tdata.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop)
        b = ndata.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop)
        assert list(b) == list(t) and len(b) == len(t)


def test_distributed_sampler_shuffle_and_epochs():
    def epoch_order(epoch, seed=0):
        parts = []
        for rank in range(4):
            s = ndata.DistributedSampler(range(20), num_replicas=4, rank=rank, seed=seed)
            s.set_epoch(epoch)
            parts.append(list(s))
        return parts

    e0 = epoch_order(0)
    assert sorted(i for p in e0 for i in p) == list(range(20))  # replicas partition the data
    assert epoch_order(0) == e0 and epoch_order(1) != e0 and epoch_order(0, seed=1) != e0
    same_error(lambda lib, data: data.DistributedSampler(range(4), num_replicas=2, rank=2))
    same_error(lambda lib, data: data.DistributedSampler(range(4)))


# --- collation -----------------------------------------------------------------------------------

Point = collections.namedtuple("Point", "x y")


def _both(make):
    """The same batch built for torch and for nnbox (``make(lib)`` builds one)."""
    return make(torch), make(nnbox)


BATCHES = {
    "tensors": lambda m: [m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])],
    "int tensors 2d": lambda m: [m.ones(2, 3, dtype=m.int32), m.zeros(2, 3, dtype=m.int32)],
    "ints": lambda m: [1, 2, 3],
    "floats": lambda m: [1.5, 2.0],
    "int then float": lambda m: [1, 2.5],
    "bools": lambda m: [True, False],
    "strings": lambda m: ["a", "b"],
    "bytes": lambda m: [b"a", b"b"],
    "numpy arrays": lambda m: [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
    "numpy uint8": lambda m: [np.full(3, 7, np.uint8), np.full(3, 9, np.uint8)],
    "numpy scalars": lambda m: [np.float32(1.0), np.float32(2.0)],
    "numpy int16 scalars": lambda m: [np.int16(1), np.int16(2)],
    "numpy bool scalars": lambda m: [np.bool_(True), np.bool_(False)],
    "tuple samples": lambda m: [(m.zeros(2), 1, "a"), (m.ones(2), 2, "b")],
    "list samples": lambda m: [[1.0, 2.0], [3.0, 4.0]],
    "dict samples": lambda m: [{"img": m.zeros(1, 2), "label": 3, "meta": {"id": "x", "w": [1, 2]}},
                               {"img": m.ones(1, 2), "label": 4, "meta": {"id": "y", "w": [3, 4]}}],
    "namedtuples": lambda m: [Point(m.tensor(1.0), 2), Point(m.tensor(3.0), 4)],
    "ordered dict": lambda m: [collections.OrderedDict(a=1, b=2.0), collections.OrderedDict(a=3, b=4.0)],
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_default_collate_matches_torch(name):
    tb, nb = _both(BATCHES[name])
    same_structure(tdata.default_collate(tb), ndata.default_collate(nb))


@pytest.mark.parametrize("name", ["numpy arrays", "numpy scalars", "tuple samples", "dict samples", "strings"])
def test_default_convert_matches_torch(name):
    tb, nb = _both(BATCHES[name])
    same_structure(tdata.default_convert(tb), ndata.default_convert(nb))
    tb, nb = _both(lambda m: np.float64(2.5))
    same_structure(tdata.default_convert(tb), ndata.default_convert(nb))


@pytest.mark.parametrize("bad", [
    lambda m: [m.zeros(3), m.zeros(4)],
    lambda m: [np.zeros(3), np.zeros(4)],
    lambda m: [np.zeros((2, 3)), np.zeros((3, 2))],
    lambda m: [[1, 2], [1]],
    lambda m: [object(), object()],
    lambda m: [None, None],
    lambda m: [np.array(["a"]), np.array(["b"])],
    lambda m: [{"a": 1}, {"b": 2}],
])
def test_default_collate_errors_match_torch(bad):
    same_error(lambda lib, data: data.default_collate(bad(lib)))


def test_collate_mismatched_shapes_message():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[3\] at entry 0 and \[4\] at entry 1"):
        ndata.default_collate([nnbox.zeros(3), nnbox.zeros(4)])


def test_collate_custom_map():
    class Box:
        def __init__(self, v):
            self.v = v

    fmap = dict(ndata.collate.__globals__["default_collate_fn_map"])
    fmap[Box] = lambda batch, *, collate_fn_map=None: sum(b.v for b in batch)
    assert ndata.collate([(Box(1), 2), (Box(3), 4)], collate_fn_map=fmap)[0] == 4


def test_tensor_pickles_compactly():
    import pickle

    big = nnbox.zeros(100_000)
    assert len(pickle.dumps(big, protocol=5)) < big.numel() * 4 + 1000
    view = big[:10]  # a small view of a big tensor pickles only its own elements
    assert len(pickle.dumps(view, protocol=5)) < 1000
    back = pickle.loads(pickle.dumps(nnbox.arange(6.0).reshape(2, 3).t()))
    assert back.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    x = nnbox.ones(2, requires_grad=True)
    assert pickle.loads(pickle.dumps(x)).requires_grad



