"""1x1 convolutions run as a direct batched GEMM in NC layout (no im2col): values, gradients and
second derivatives against torch, strided and not, 1-, 2- and 3-d, and that the direct path runs."""
import numpy as np
import pytest

from nnbox.ops import conv as C
from oracle import arr, check

CASES = [
    ((2, 3, 5, 4), (4, 3, 1, 1), {}),
    ((3, 4, 7, 5), (6, 4, 1, 1), dict(stride=2)),
    ((2, 4, 6, 7), (5, 4, 1, 1), dict(stride=(3, 2))),
    ((2, 3, 9), (4, 3, 1), dict(stride=2)),
    ((2, 2, 3, 4, 5), (3, 2, 1, 1, 1), dict(stride=(1, 2, 2))),
    ((3, 5, 5), (2, 3, 1, 1), {}),  # unbatched
]


@pytest.fixture
def direct(monkeypatch):
    seen = []
    real = C._conv1x1

    def counting(x, w, stride):
        seen.append(x.shape)
        return real(x, w, stride)

    monkeypatch.setattr(C, "_conv1x1", counting)
    return seen


def _conv(m, nd):
    return getattr(m.nn.functional, f"conv{nd}d")


@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_conv_matches_torch(direct, xs, ws, kw, bias, device):
    nd = len(ws) - 2
    ins = [arr(*xs), arr(*ws)] + ([arr(ws[0])] if bias else [])
    fn = lambda m, x, w, *b: _conv(m, nd)(x, w, *b, **kw)  # noqa: E731
    check(fn, ins)  # values and first gradients (the direct kernels)
    check(fn, ins, order=2)  # second derivatives (a create_graph backward)
    # the direct kernel is the NumPy path; on cuda a 1x1 convolution takes im2col + GEMM like any other
    assert bool(direct) == (device == "cpu"), "the direct 1x1 path ran on cuda" if direct else "it did not run"


def test_pointwise_conv_float32(direct, device):
    ins = [arr(4, 8, 6, 6, dtype=np.float32), arr(16, 8, 1, 1, dtype=np.float32), arr(16, dtype=np.float32)]
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, stride=2), ins, rtol=1e-5, atol=1e-5)
    assert bool(direct) == (device == "cpu")


def test_padded_or_grouped_1x1_takes_the_im2col_path(direct):
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1), [arr(2, 3, 4, 4), arr(2, 3, 1, 1)])
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, groups=2), [arr(2, 4, 4, 4), arr(4, 2, 1, 1)])
    assert direct == []
