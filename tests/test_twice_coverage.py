"""Every internal op says whether its gradient can be differentiated again.

``Function._twice`` is True for an op whose backward runs on Tensors (so ``create_graph=True`` gives
a gradient with a graph), or a string: the error a second backward through it raises (torch's own,
for the ops torch cannot differentiate twice either).  It defaults to False ("not written for
create_graph yet"); this test imports every module of nnbox and fails for any internal op
(``_array_api = True``) left at the default, so a new op cannot silently lack a double backward.
"""
from __future__ import annotations

import importlib
import pkgutil

import pytest

import nnbox
from nnbox.autograd.function import Function

_SKIP = {"nnbox.__main__"}  # runs the command line when imported


def _import_all() -> None:
    for info in pkgutil.walk_packages(nnbox.__path__, "nnbox."):
        if info.name not in _SKIP:
            importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _internal_ops() -> list:
    _import_all()
    seen = {}
    for cls in _subclasses(Function):
        if cls.__module__.startswith("nnbox.") and cls.__dict__.get("_array_api", getattr(cls, "_array_api", False)):
            seen[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return sorted(seen.items())


OPS = _internal_ops()


def test_the_walk_finds_the_ops():
    names = {name.rsplit(".", 1)[-1] for name, _ in OPS}
    assert len(OPS) > 100
    for expected in ("Mul", "Conv", "GridSample", "CheckpointFunction", "FftC2C", "Cholesky", "Lgamma"):
        assert any(n.startswith(expected) for n in names), expected


@pytest.mark.parametrize("name,cls", OPS, ids=[n for n, _ in OPS])
def test_every_op_says_whether_it_is_twice_differentiable(name, cls):
    twice = cls._twice
    assert twice is True or (isinstance(twice, str) and twice.strip()), (
        f"{name}: set _twice = True (backward written in xp / Function.run, see tests/test_formula_rules.py) "
        "or to the error a second backward should raise (torch's, where torch cannot either)")


def test_ops_that_raise_at_a_second_backward():
    """The ops whose gradient cannot be differentiated again, with their messages (reviewed list:
    a new entry must be deliberate)."""
    raising = {name: cls._twice for name, cls in OPS if isinstance(cls._twice, str)}
    for name, msg in raising.items():
        assert "not implemented" in msg or "nnbox cannot" in msg, (name, msg)


# --- nnbox.autograd.gradgradcheck on the ops converted after the first pass -----------------------

def _gradgradcheck_cases():
    import numpy as np

    rng = np.random.default_rng(0)

    def t(*s, scale=1.0, shift=0.0):
        return nnbox.tensor(rng.standard_normal(s) * scale + shift, requires_grad=True)

    F = nnbox.nn.functional
    eye = nnbox.eye(3, dtype=nnbox.float64)
    return {
        "lgamma": (nnbox.lgamma, (t(4, scale=0.3, shift=2),)),
        "polygamma2": (lambda x: nnbox.polygamma(2, x), (t(4, scale=0.3, shift=2),)),
        "erfinv": (nnbox.erfinv, (t(4, scale=0.2),)),
        "cholesky": (lambda a: nnbox.linalg.cholesky(a @ a.mT + 3 * eye), (t(3, 3),)),
        "solve": (lambda a, b: nnbox.linalg.solve(a + 3 * eye, b), (t(3, 3), t(3, 2))),
        "matrix_exp": (lambda a: nnbox.linalg.matrix_exp(a * 0.5), (t(3, 3),)),
        "inv": (lambda a: nnbox.linalg.inv(a + 3 * eye), (t(3, 3),)),
        "rfft": (lambda x: nnbox.view_as_real(nnbox.fft.rfft(x * x)), (t(6),)),
        "irfft": (lambda x: nnbox.fft.irfft(nnbox.fft.fft(x * x), n=7), (t(6),)),
        "polar": (lambda r, a: nnbox.view_as_real(nnbox.polar(r * r, a)), (t(4), t(4))),
        "grid_sample": (lambda a, g: F.grid_sample(a, g * 0.9, align_corners=False), (t(1, 1, 3, 4), t(1, 2, 2, 2, scale=0.5))),
        "grid_sample_bicubic": (lambda a, g: F.grid_sample(a, g * 0.9, mode="bicubic", align_corners=True),
                                (t(1, 1, 4, 4), t(1, 2, 2, 2, scale=0.5))),
    }


_GG = _gradgradcheck_cases()


@pytest.mark.parametrize("name", list(_GG))
def test_gradgradcheck(name):
    fn, inputs = _GG[name]
    assert nnbox.autograd.gradgradcheck(fn, inputs)
