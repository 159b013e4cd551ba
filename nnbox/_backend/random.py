"""Random-number state: ``nnbox.Generator`` draws torch's CPU stream bit for bit (CuPy's generator
on a GPU).

torch's CPU generator is a Mersenne Twister (mt19937, the reference ``init_genrand`` seeding
with the low 32 bits of the seed); NumPy ships the same twister in C (``np.random.MT19937``),
whose key and position we set directly, so the raw 32-bit words come out at C speed.  Every
distribution is a fixed transformation of those words, found by black-box comparison with
torch 2.13 (``tests/test_random_stream.py`` checks each one over seeds 0-99):

* a 64-bit draw is two words, the first one high: ``(w0 << 32) | w1``;
* float32 uniforms take the low 24 bits of one word times 2**-24, float64 uniforms the low 53
  bits of a 64-bit draw times 2**-53 (so they consume twice the stream); ``uniform_(a, b)`` is
  ``fma(u, b - a, a)`` in the tensor's dtype, and a value that rounds to b becomes a;
* integers in [lo, hi) are ``word % (hi - lo) + lo`` (modulo bias included, as torch), with a
  64-bit draw once the range reaches 2**28 (``randint``; the full-range ``random_()`` only past
  32 bits, and int64's takes the low 63 bits of a 64-bit draw);
* normals of fewer than 16 elements are drawn one at a time, in double, by Box-Muller on two
  float64 uniforms: ``sqrt(-2 log1p(-u2)) * cos(2 pi u1)``, and the matching sine is cached in
  the generator (``get_rng_state`` carries it) for the next scalar draw;
* 16 or more elements are filled with uniforms of the tensor's dtype first, then each block of
  16 becomes 8 cosines and 8 sines (``u1 = 1 - x[i]``, ``u2 = x[i + 8]``); when the size is not
  a multiple of 16, the last 16 elements are refilled with fresh uniforms and transformed again.
  float32 uses torch's vectorised log/sincos (``torch_math``), float64 uses libm; 16-bit
  floats (float16, bfloat16) take float32's arithmetic and round, but torch prefills only the
  whole blocks with uniforms (the tail's 16 are drawn fresh either way);
* ``bernoulli_(p)`` with a number p compares a float64 uniform with p; ``bernoulli(probs)``
  compares a uniform of the probabilities' dtype per element.

Why reproduce rules rather than just the twister: a seeded tutorial, a bug report or a book's
printed losses only carry over if every draw consumes the same words and rounds the same way, so
each rule above (even torch's modulo bias and its FMA roundings) is part of the contract.  The
samplers built on these (exponential, geometric, cauchy, log-normal, multinomial, poisson) sit
with their ops (``ops/inplace.py``, ``ops/sampling.py``); the Gamma family's sampler (Gamma,
Dirichlet, Beta) is in ``random_gamma.py``.
"""
from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from . import torch_math as tm
from .device import CPU, as_device, require_cupy

_DEFAULT_SEED = 67280421310721  # torch's default_generator.initial_seed()
_N = 624  # mt19937 state words
_STATE_BYTES = 5056  # torch's CPU generator state tensor
_MASK53 = np.uint64((1 << 53) - 1)
_MASK24 = np.uint64((1 << 24) - 1)
_TWO_PI32 = np.float32(2 * math.pi)
_BM_CHUNK = 4096  # Box-Muller blocks per chunk (16 values each)
NORMAL_VECTOR_MIN = 16  # torch draws smaller normal tensors one element at a time


class Generator:
    """A source of random numbers: torch's CPU stream (mt19937) for ``device="cpu"``.

    >>> import nnbox
    >>> g = nnbox.Generator().manual_seed(0)
    >>> nnbox.randn(3, generator=g)
    tensor([ 1.5410, -0.2934, -2.1788])
    """

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self._rng = None if self.device.type == "cpu" else self._make_cuda(self._seed)
        if self.device.type == "cpu":
            self._reseed(self._seed)

    @staticmethod
    def _make_cuda(seed: int):
        cp = require_cupy()
        return cp.random.Generator(cp.random.XORWOW(seed))

    def _reseed(self, seed: int) -> None:
        self._bg_obj = None  # the twister is made on first use: ``numpy.random`` costs ~10 ms to import
        self._bg_seed = seed & 0xFFFFFFFF
        self._fresh = True  # torch writes next=0 (not 624) into a freshly seeded state
        self._normal = None  # cached second Box-Muller value (double) for scalar normals
        self._float_cache = None  # torch's float-normal cache slot (kept for the state layout)

    @property
    def _bg(self):
        """NumPy's MT19937, seeded as torch seeds its twister (``init_genrand`` on the seed's low
        32 bits)."""
        bg = self._bg_obj
        if bg is None:
            bg = self._bg_obj = np.random.MT19937()
            bg._legacy_seeding(self._bg_seed)
        return bg

    @_bg.setter
    def _bg(self, value) -> None:
        self._bg_obj = value

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < -(2**63) or seed >= 2**64:
            raise RuntimeError("Overflow when unpacking long long")
        seed &= (1 << 64) - 1
        self._seed = seed
        if self.device.type == "cpu":
            self._reseed(seed)
        else:
            self._rng = self._make_cuda(seed)
        return self

    def seed(self) -> int:
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    # --- the state, in torch's layout -------------------------------------------------------
    def get_state(self):
        """The state as torch's 5056-byte uint8 tensor: seed, position, the 624 twister words
        (as 64-bit slots) and the normal caches; ``torch.Generator.set_state`` accepts it."""
        from .._tensor import Tensor

        if self.device.type != "cpu":
            raise NotImplementedError("get_state() of a CUDA generator is not supported by nnbox")
        st = self._bg.state["state"]
        pos = int(st["pos"])
        buf = bytearray(_STATE_BYTES)
        np.frombuffer(buf, np.uint64, 1, 0)[0] = self._seed
        np.frombuffer(buf, np.int32, 2, 8)[:] = (_N + 1 - pos, 1)  # left, seeded
        np.frombuffer(buf, np.uint64, 1, 16)[0] = 0 if self._fresh else pos  # next
        np.frombuffer(buf, np.uint64, _N, 24)[:] = np.asarray(st["key"], np.uint64)
        if self._normal is not None:
            np.frombuffer(buf, np.float64, 1, 5024)[0] = self._normal
            np.frombuffer(buf, np.int32, 1, 5040)[0] = 1
        if self._float_cache is not None:
            np.frombuffer(buf, np.float32, 1, 5044)[0] = self._float_cache
            buf[5048] = 1
        return Tensor._make(np.frombuffer(bytes(buf), np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        if self.device.type != "cpu":
            raise NotImplementedError("set_state() of a CUDA generator is not supported by nnbox")
        # a checkpoint loaded with map_location="cuda" hands the state back on the device
        arr = new_state.cpu().numpy() if hasattr(new_state, "cpu") else np.asarray(new_state)
        if arr.dtype != np.uint8:
            raise RuntimeError(f"expected a torch.ByteTensor, but got {arr.dtype}")
        if arr.size != _STATE_BYTES:
            raise RuntimeError("Expected either a THGeneratorState of size 5048 or a CPUGeneratorImplState "
                               f"of size 5056 but found the input RNG state size to be {arr.size}")
        buf = arr.tobytes()
        seed = int(np.frombuffer(buf, np.uint64, 1, 0)[0])
        left = int(np.frombuffer(buf, np.int32, 1, 8)[0])
        nxt = int(np.frombuffer(buf, np.uint64, 1, 16)[0])
        if not 1 <= left <= _N:
            raise RuntimeError("Invalid mt19937 state")
        key = np.frombuffer(buf, np.uint64, _N, 24).astype(np.uint32)
        bg = np.random.MT19937()
        bg.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _N + 1 - left}}
        self._bg, self._seed, self._fresh = bg, seed, (nxt == 0 and left == 1)
        valid = np.frombuffer(buf, np.int32, 1, 5040)[0]
        self._normal = float(np.frombuffer(buf, np.float64, 1, 5024)[0]) if valid else None
        self._float_cache = float(np.frombuffer(buf, np.float32, 1, 5044)[0]) if buf[5048] else None
        return self

    def __repr__(self) -> str:
        return f"<nnbox.Generator object at {hex(id(self))}>"

    # --- raw words ----------------------------------------------------------------------------
    def _words(self, n: int) -> np.ndarray:
        """The next ``n`` 32-bit outputs (as uint64, ready for shifts and modulo)."""
        self._fresh = self._fresh and n == 0
        return self._bg.random_raw(n) if n else np.zeros(0, np.uint64)

    def _words64(self, n: int) -> np.ndarray:
        w = self._words(2 * n)
        return (w[0::2] << np.uint64(32)) | w[1::2]

    def _unit32(self, n: int) -> np.ndarray:
        w = self._words(n)
        w &= _MASK24
        u = w.astype(np.float32)
        u *= np.float32(2.0**-24)
        return u

    def _unit64(self, n: int) -> np.ndarray:
        return (self._words64(n) & _MASK53).astype(np.float64) * 2.0**-53

    def _unit(self, n: int, dtype) -> np.ndarray:
        return self._unit64(n) if np.dtype(dtype) == np.float64 else self._unit32(n)

    # --- distributions (CPU, flat arrays of n elements) ------------------------------------
    def uniform(self, n: int, dtype, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        if low == 0 and high == 1:  # fma(u, 1, 0) == u: rand() skips the arithmetic
            return self._unit(n, np.float64 if np.dtype(dtype) == np.float64 else np.float32)
        if np.dtype(dtype) == np.float64:
            return tm.fma64(self._unit64(n), float(high) - float(low), float(low))
        lo, hi = np.float32(low), np.float32(high)
        return tm.fma32(self._unit32(n), hi - lo, lo).astype(dtype, copy=False)

    def normal(self, n: int, dtype, mean: float = 0.0, std: float = 1.0, reduced: bool = False) -> np.ndarray:
        """n normals of ``dtype`` (float32 or float64 arithmetic).  ``reduced``: the values are
        for a 16-bit float tensor, whose elements past the last whole block of 16 torch does
        not prefill with uniforms (the last 16 are drawn fresh either way)."""
        dtype = np.dtype(dtype)
        if n < NORMAL_VECTOR_MIN:
            z = np.array([self._scalar_normal() for _ in range(n)], dtype=np.float64)
            return tm.fma64(z, float(std), float(mean)).astype(dtype, copy=False)
        wide = dtype == np.float64
        body = n - n % 16
        if reduced:
            out = np.empty(n, np.float32)
            out[:body] = self._unit32(body)
        else:
            out = self._unit(n, np.float64 if wide else np.float32)
        mean_c, std_c = (float(mean), float(std)) if wide else (np.float32(mean), np.float32(std))
        self._box_muller(out[:body], wide, mean_c, std_c)
        if body != n:  # torch redoes the last 16 with fresh uniforms
            out[n - 16:] = self._unit(16, out.dtype)
            self._box_muller(out[n - 16:], wide, mean_c, std_c)
        return out.astype(dtype, copy=False)

    @staticmethod
    def _box_muller(x: np.ndarray, wide: bool, mean, std) -> None:
        blocks = x.reshape(-1, 2, 8)
        if wide:
            u1, u2 = 1 - blocks[:, 0], blocks[:, 1]
            rad = np.sqrt(-2.0 * tm.libm(math.log, u1.ravel())).reshape(u1.shape)
            theta = (2.0 * math.pi) * u2.ravel()
            cos, sin = tm.libm(math.cos, theta).reshape(u1.shape), tm.libm(math.sin, theta).reshape(u1.shape)
            blocks[:, 0] = tm.fma64(rad * cos, std, mean)
            blocks[:, 1] = tm.fma64(rad * sin, std, mean)
        else:
            step = _BM_CHUNK  # blocks per chunk: the ~40 array passes stay in cache
            plain = std == 1 and mean == 0  # fma(v, 1, 0) == v
            for i in range(0, len(blocks), step):
                chunk = blocks[i:i + step]
                rad = tm.log_ps(np.float32(1) - chunk[:, 0])
                rad *= np.float32(-2)
                np.sqrt(rad, out=rad)
                sin, cos = tm.sincos_ps(_TWO_PI32 * chunk[:, 1], nonnegative=True)
                cos *= rad
                sin *= rad
                blocks[i:i + step, 0] = cos if plain else tm.fma32(cos, std, mean)
                blocks[i:i + step, 1] = sin if plain else tm.fma32(sin, std, mean)

    def _scalar_normal(self) -> float:
        if self._normal is not None:
            z, self._normal = self._normal, None
            return z
        u1, u2 = self._unit64(2).tolist()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        self._normal = r * math.sin(theta)
        return r * math.cos(theta)

    def integers(self, n: int, low: int, high: int, wide_from: int = 2**28) -> np.ndarray:
        """n integers in [low, high), as int64.  torch switches to 64-bit draws once the range
        reaches 2**28 for ``random_(from, to)``/``randint`` (``wide_from``), but only past 32
        bits for the full-range ``random_()``."""
        span = int(high) - int(low)
        w = self._words(n) if span < wide_from else self._words64(n)
        return (w % np.uint64(span)).astype(np.int64) + int(low)

    def permutation(self, n: int) -> np.ndarray:
        """torch's randperm: element i swaps with a uniform pick among positions i..n-1."""
        perm = np.arange(n, dtype=np.int64)
        if n < 2:
            return perm
        picks = (self._words(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        p = perm.tolist()
        for i, z in enumerate(picks):
            j = i + z
            p[i], p[j] = p[j], p[i]
        return np.array(p, dtype=np.int64)


default_generator = Generator()
_cuda_generators: dict = {}


def cpu_generator(generator=None) -> Generator:
    """The CPU generator to draw from: ``generator`` or the default one."""
    return default_generator if generator is None else generator


cuda_draws = [0]  # draws taken from CUDA generators so far: vmap(randomness="error") watches it


def generator_for(dev, generator=None):
    """The CuPy random generator to draw from for a GPU device ``dev``."""
    cuda_draws[0] += 1
    if generator is not None and generator.device.type != "cpu":
        return generator._rng
    g = _cuda_generators.get(dev.index or 0)
    if g is None:
        g = _cuda_generators[dev.index or 0] = Generator(dev)
        g.manual_seed(default_generator.initial_seed())
    return g._rng


@contextlib.contextmanager
def same_cuda_draws():
    """For ``vmap(randomness="same")``: yields ``restart``, after which every CUDA draw starts from
    the same state again. CuPy's generator state cannot be read or restored (its documentation:
    random states cannot be serialized), so each restart puts fresh generators, all seeded alike,
    in place of the devices' own, and those come back untouched on exit."""
    from .device import cuda_device

    saved = dict(_cuda_generators)
    seed = (default_generator.initial_seed() * 1_000_003 + cuda_draws[0]) & ((1 << 63) - 1)

    def restart() -> None:
        _cuda_generators.clear()
        for i in saved:
            _cuda_generators[i] = Generator(cuda_device(i)).manual_seed(seed)

    try:
        yield restart
    finally:
        _cuda_generators.clear()
        _cuda_generators.update(saved)


def manual_seed(seed: int) -> Generator:
    """Seed every generator (CPU and each GPU), as ``torch.manual_seed``.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
    >>> nnbox.rand(2)
    tensor([0.4963, 0.7682])
    """
    default_generator.manual_seed(seed)
    for g in _cuda_generators.values():
        g.manual_seed(seed)
    return default_generator


def seed() -> int:
    s = default_generator.seed()
    for g in _cuda_generators.values():
        g.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


# --- draws for a device: torch's stream on the CPU, CuPy's generator on a GPU ---------------------
def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _cpu(dev) -> bool:
    return dev is None or dev.type == "cpu"


def draw_uniform(dev, generator, shape, dtype, low=0.0, high=1.0):
    """U(low, high) samples of ``shape`` in float ``dtype``."""
    if _cpu(dev):
        gen_dt = np.float64 if np.dtype(dtype) == np.float64 else np.float32
        out = cpu_generator(generator).uniform(_size(shape), gen_dt, low, high).astype(dtype, copy=False)
        if np.dtype(dtype).itemsize == 2 or not (low == 0 and high == 1):
            # torch keeps [from, to): a value that rounds up to ``to`` in the tensor's dtype becomes
            # ``from`` (in 16-bit floats often; in float32 for wide bounds; rand() never needs it)
            top = np.asarray(high).astype(out.dtype)
            hit = out == top
            if hit.any():
                out[hit] = np.asarray(low).astype(out.dtype)
        return out.reshape(shape)
    cp = require_cupy()
    rng = generator_for(dev, generator)
    return (rng.random(shape, dtype=cp.float64) * (high - low) + low).astype(dtype)


def draw_normal(dev, generator, shape, dtype, mean=0.0, std=1.0):
    """N(mean, std^2) samples of ``shape`` in float ``dtype``."""
    if _cpu(dev):
        gen_dt = np.float64 if np.dtype(dtype) == np.float64 else np.float32
        reduced = np.dtype(dtype).itemsize == 2  # float16, bfloat16: float32 arithmetic, torch's tail rule
        g = cpu_generator(generator)
        return g.normal(_size(shape), gen_dt, mean, std, reduced).astype(dtype, copy=False).reshape(shape)
    cp = require_cupy()
    return (generator_for(dev, generator).standard_normal(shape, dtype=cp.float64) * std + mean).astype(dtype)


def draw_integers(dev, generator, shape, low: int, high: int):
    """int64 samples uniform in [low, high)."""
    if _cpu(dev):
        return cpu_generator(generator).integers(_size(shape), low, high).reshape(shape)
    return generator_for(dev, generator).integers(low, high, size=shape)


def draw_bernoulli(dev, generator, shape, p: float):
    """Booleans, True with probability ``p`` (a number): torch compares a float64 uniform."""
    if _cpu(dev):
        return (cpu_generator(generator)._unit64(_size(shape)) < p).reshape(shape)
    return generator_for(dev, generator).random(shape) < p


def draw_bernoulli_probs(dev, generator, probs):
    """Booleans, True with the probability in each element of ``probs`` (an array)."""
    if _cpu(dev):
        g = cpu_generator(generator)
        u = g._unit32(probs.size) if probs.dtype != np.float64 else g._unit64(probs.size)
        return u.reshape(probs.shape) < probs
    return generator_for(dev, generator).random(probs.shape) < probs


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"]
_ = CPU
