"""torch's CPU random stream, bit for bit: every sampler against torch 2.13 over seeds 0-99,
at sizes around torch's thresholds (16 for vectorised normals), float32 and float64, and across
successive calls (the generator's position and its cached normal carry over)."""
import numpy as np
import pytest
import torch

import nnbox

pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")

SEEDS = range(100)
SIZES = [1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 1000]
DTYPES = [("float32", torch.float32, nnbox.float32), ("float64", torch.float64, nnbox.float64)]


def same(a, b):
    if a.dtype == torch.bfloat16:  # no NumPy dtype in torch: compare the bits
        assert b.dtype == nnbox.bfloat16
        a, b = a.view(torch.int16), b.view(nnbox.int16)
    a, b = np.asarray(a.numpy()), np.asarray(b.numpy())
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a.view(np.uint8) if a.dtype.kind == "f" else a, b.view(np.uint8) if b.dtype.kind == "f" else b), \
        f"first difference at {np.flatnonzero(a != b)[:5]}"


def both(fn, seed):
    """Run fn(lib) under torch and nnbox from the same seed, twice in a row (successive calls)."""
    torch.manual_seed(seed)
    nnbox.manual_seed(seed)
    for _ in range(2):
        same(fn(torch), fn(nnbox))


CASES = {
    "rand": lambda L, n, d: L.rand(n, dtype=d),
    "randn": lambda L, n, d: L.randn(n, dtype=d),
    "randn_2d": lambda L, n, d: L.randn(n, 3, dtype=d),
    "uniform_": lambda L, n, d: L.empty(n, dtype=d).uniform_(-0.3, 2.7),
    "normal_": lambda L, n, d: L.empty(n, dtype=d).normal_(0.3, 2.7),
    "normal_sized": lambda L, n, d: L.normal(-1.5, 0.25, (n,), dtype=d),
    "normal_tensor": lambda L, n, d: L.normal(L.arange(n, dtype=d), 2.0),
    "normal_tensor_std": lambda L, n, d: L.normal(1.0, L.arange(n, dtype=d) + 1),
    "bernoulli_": lambda L, n, d: L.empty(n, dtype=d).bernoulli_(0.3),
    "bernoulli": lambda L, n, d: L.bernoulli(L.linspace(0, 1, n, dtype=d)),
    "bernoulli_p": lambda L, n, d: L.bernoulli(L.empty(n, dtype=d), p=0.3),
    "bernoulli_tensor_p": lambda L, n, d: L.empty(n, dtype=d).bernoulli_(L.linspace(0, 1, n)),
    "exponential_": lambda L, n, d: L.empty(n, dtype=d).exponential_(1.5),
    "geometric_": lambda L, n, d: L.empty(n, dtype=d).geometric_(0.3),
    "cauchy_": lambda L, n, d: L.empty(n, dtype=d).cauchy_(0.5, 2.0),
    "log_normal_": lambda L, n, d: L.empty(n, dtype=d).log_normal_(0.5, 0.7),
    "random_range": lambda L, n, d: L.empty(n, dtype=d).random_(-5, 90),
    "random_": lambda L, n, d: L.empty(n, dtype=d).random_(),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dt", DTYPES, ids=[d[0] for d in DTYPES])
def test_float_samplers_match_torch(name, dt):
    fn = CASES[name]
    for seed in SEEDS:
        n = SIZES[seed % len(SIZES)]
        both(lambda L: fn(L, n, dt[1] if L is torch else dt[2]), seed)


@pytest.mark.parametrize("n", SIZES)
def test_sizes_around_thresholds_every_seed(n):
    for seed in SEEDS:
        both(lambda L: L.cat([L.randn(n), L.randn(n, dtype=L.float64), L.rand(n).double(), L.rand(n, dtype=L.float64)]), seed)


@pytest.mark.parametrize("lo,hi", [(0, 10), (-5, 7), (0, 2**31), (3, 2**33), (-(2**40), 2**40)])
def test_randint(lo, hi):
    for seed in SEEDS:
        n = SIZES[seed % len(SIZES)]
        both(lambda L: L.randint(lo, hi, (n,)), seed)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "float32", "float64"])
def test_random_full_range(dtype):
    for seed in SEEDS[:20]:
        both(lambda L: L.empty(9, dtype=getattr(L, dtype)).random_(), seed)


def test_randperm():
    for seed in SEEDS:
        for n in (0, 1, 2, 5, 16, 100, 1001):
            both(lambda L: L.randperm(n), seed)


def test_explicit_generator_and_default_seed():
    g_t, g_n = torch.Generator().manual_seed(7), nnbox.Generator().manual_seed(7)
    same(torch.randn(20, generator=g_t), nnbox.randn(20, generator=g_n))
    same(torch.rand(3, generator=torch.Generator()), nnbox.rand(3, generator=nnbox.Generator()))
    assert nnbox.Generator().initial_seed() == torch.Generator().initial_seed()
    for s in (2**40 + 5, -3, 2**64 - 1):
        torch.manual_seed(s), nnbox.manual_seed(s)
        same(torch.rand(4), nnbox.rand(4))
        assert nnbox.initial_seed() == torch.initial_seed()


def test_interleaved_calls_keep_the_cached_normal():
    for seed in SEEDS:
        both(lambda L: L.cat([L.randn(1), L.rand(2), L.randn(3, dtype=L.float64).float(), L.randn(17),
                              L.empty(1).normal_(), L.randint(0, 5, (2,)).float()]), seed)


def test_state_layout_and_round_trips():
    for seed in SEEDS:
        torch.manual_seed(seed), nnbox.manual_seed(seed)
        for step in range(4):
            same(torch.get_rng_state(), nnbox.get_rng_state())
            [L.randn(1 + 9 * step) for L in (torch, nnbox)]
        # torch -> nnbox -> torch
        torch.randn(3)
        st = torch.get_rng_state()
        nnbox.set_rng_state(nnbox.tensor(st.numpy()))
        same(torch.get_rng_state(), nnbox.get_rng_state())
        same(torch.randn(5), nnbox.randn(5))
        torch.set_rng_state(torch.from_numpy(nnbox.get_rng_state().numpy()))
        same(torch.rand(700), nnbox.rand(700))
    torch.randint(0, 3, (624 * 2 - 1,)), nnbox.randint(0, 3, (624 * 2 - 1,))
    same(torch.get_rng_state(), nnbox.get_rng_state())


def test_bad_state_is_refused_and_leaves_generator_alone():
    nnbox.manual_seed(3)
    before = nnbox.get_rng_state()
    with pytest.raises(RuntimeError, match="size"):
        nnbox.set_rng_state(nnbox.zeros(10, dtype=nnbox.uint8))
    same(before, nnbox.get_rng_state())


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multinomial(replacement, dtype):
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        k = int(rng.integers(2, 40))
        p = rng.random((3, k)) * (rng.random((3, k)) > 0.2) + 1e-3
        for n in (1, 2, k):
            both(lambda L: L.multinomial(L.tensor(p, dtype=getattr(L, dtype)), n, replacement), seed)
            both(lambda L: L.multinomial(L.tensor(p[0], dtype=getattr(L, dtype)), n, replacement), seed)


def test_weighted_random_sampler():
    for seed in SEEDS[:30]:
        w = np.random.default_rng(seed).random(20).tolist()
        for repl in (True, False):
            torch.manual_seed(seed)
            nnbox.manual_seed(seed)
            a = list(torch.utils.data.WeightedRandomSampler(w, 10, replacement=repl))
            b = list(nnbox.utils.data.WeightedRandomSampler(w, 10, replacement=repl))
            assert a == b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson(dtype):
    for seed in SEEDS:
        rates = np.random.default_rng(seed).random(20) * np.array([0.5, 3, 9.9, 10, 15, 100, 1000, 0, 2, 50] * 2)
        both(lambda L: L.poisson(L.tensor(rates, dtype=getattr(L, dtype))), seed)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(1, float("inf")), (-float("inf"), 1), (float("nan"), 1), (1, float("nan")), (2, 1),
                                    (-3e38, 3e38), (1e39, 1e40), (-1e308, 1e308), (1, 70000)], ids=str)
def test_uniform_bounds_checked_as_torch(dtype, bounds):
    """Bounds outside the dtype, a reversed range or an overflowing span raise torch's error,
    and nothing is drawn or written."""
    import re

    try:
        torch.zeros(2, dtype=getattr(torch, dtype)).uniform_(*bounds)
    except RuntimeError as e:
        t = nnbox.zeros(2, dtype=getattr(nnbox, dtype))
        before = nnbox.get_rng_state()
        with pytest.raises(RuntimeError, match=re.escape(str(e))):
            t.uniform_(*bounds)
        assert not t.numpy().any() and nnbox.equal(before, nnbox.get_rng_state())
    else:
        nnbox.zeros(2, dtype=getattr(nnbox, dtype)).uniform_(*bounds)


def _ramp(L, n, d, start):
    """start, start + 1/8, ...: exact in every dtype, so both libraries start from the same values."""
    return (L.arange(n, dtype=L.float32) / 8 + start).to(d)


HALF_DTYPES = ["float16"] + (["bfloat16"] if hasattr(nnbox, "bfloat16") else [])
HALF_NORMALS = {
    "randn": lambda L, n, d: L.randn(n, dtype=d),
    "normal_": lambda L, n, d: L.empty(n, dtype=d).normal_(0.3, 2.7),
    "normal_tensor": lambda L, n, d: L.normal(_ramp(L, n, d, -1), 0.7),
    "normal_tensor_tensor": lambda L, n, d: L.normal(_ramp(L, n, d, -1)[:, None],
                                                     _ramp(L, n, d, 0.5)),
    "normal_tensor_std": lambda L, n, d: L.normal(0.3, _ramp(L, n, d, 0.5)),
}


@pytest.mark.parametrize("name", sorted(HALF_NORMALS))
@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_16bit_normals_match_torch(name, dtype):
    """16-bit normals are float32 Box-Muller values rounded, but past the last whole block of 16
    torch draws no prefill uniforms (only the fresh 16 for the tail)."""
    fn = HALF_NORMALS[name]
    for seed in SEEDS:
        for n in (1, 15, 16, 17, 31, 33, 48, 100):
            both(lambda L: fn(L, n, getattr(L, dtype)), seed)


@pytest.mark.parametrize("name", ["normal_tensor", "normal_tensor_tensor", "normal_tensor_std"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_tensor_overloads_round_as_torch(name, dtype):
    """normal(Tensor, number) is normal_(0, std) + mean; with a std tensor, normal_() * std + mean."""
    fn = HALF_NORMALS[name]
    for seed in SEEDS:
        for n in (1, 15, 16, 17, 33):
            both(lambda L: fn(L, n, getattr(L, dtype)), seed)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(0, 1), (0.3, 0.7), (2, 3), (1000, 1001), (-5, -3)], ids=str)
def test_uniform_values_rounding_to_the_top_wrap_to_the_bottom(dtype, bounds):
    """torch keeps [from, to): a draw that rounds up to ``to`` in the dtype becomes ``from``
    (frequent in 16-bit floats, rare in float32 with wide bounds)."""
    for seed in range(5):
        both(lambda L: L.empty(20000, dtype=getattr(L, dtype)).uniform_(*bounds), seed)
        both(lambda L: L.rand(20000, dtype=getattr(L, dtype)), seed)
