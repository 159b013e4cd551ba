"""Random-number state: ``nnbox.Generator`` wraps NumPy's PCG64 (CuPy's generator on a GPU)."""
from __future__ import annotations

import numpy as np

from .device import CPU, as_device, require_cupy

_DEFAULT_SEED = 67280421310721  # torch's default_generator.initial_seed()


class Generator:
    """A source of random numbers, seeded with ``manual_seed``.

    >>> import nnbox
    >>> g = nnbox.Generator().manual_seed(0)
    >>> a = nnbox.rand(2, generator=g); _ = g.manual_seed(0)
    >>> bool((a == nnbox.rand(2, generator=g)).all())
    True
    """

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self._rng = self._make(self._seed)

    def _make(self, seed: int):
        if self.device.type == "cpu":
            return np.random.Generator(np.random.PCG64(seed))
        cp = require_cupy()
        return cp.random.Generator(cp.random.XORWOW(seed))

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < -(2**63) or seed >= 2**64:
            raise RuntimeError(f"Overflow when unpacking long long")
        seed &= (1 << 64) - 1
        self._seed = seed
        self._rng = self._make(seed)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (opaque bytes; feed it back to ``set_state``)."""
        import pickle

        from .._tensor import Tensor

        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, state) -> "Generator":
        import pickle

        # a checkpoint loaded with map_location="cuda" hands the state back on the device
        arr = state.cpu().numpy() if hasattr(state, "cpu") else np.asarray(state)
        class _NoGlobals(pickle.Unpickler):
            # the state comes from checkpoints (untrusted files): plain ints/dicts/strings only, so a
            # crafted "RNG state" can't name a callable and run code on resume
            def find_class(self, module, name):
                raise pickle.UnpicklingError(f"invalid generator state (names {module}.{name})")

        import io

        seed, st = _NoGlobals(io.BytesIO(arr.astype(np.uint8).tobytes())).load()
        self._seed = seed
        self._rng.bit_generator.state = st
        return self

    def __repr__(self) -> str:
        return f"<nnbox.Generator object at {hex(id(self))}>"


default_generator = Generator()
_cuda_generators: dict = {}


def generator_for(dev, generator=None):
    """The numpy/cupy random generator to draw from for ``dev``."""
    if generator is not None:
        if generator.device.type != dev.type:
            raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found '{generator.device.type}'")
        return generator._rng
    if dev.type == "cpu":
        return default_generator._rng
    g = _cuda_generators.get(dev.index or 0)
    if g is None:
        g = _cuda_generators[dev.index or 0] = Generator(dev)
        g.manual_seed(default_generator.initial_seed())
    return g._rng


def manual_seed(seed: int) -> Generator:
    """Seed every generator (CPU and each GPU), as ``torch.manual_seed``.

    >>> import nnbox
    >>> _ = nnbox.manual_seed(0)
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


def set_rng_state(state) -> None:
    default_generator.set_state(state)


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"]
_ = CPU
