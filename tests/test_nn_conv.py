"""Convolutions vs torch: values and input/weight/bias gradients, errors, finite-difference checks."""
import numpy as np
import pytest

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check, check_error, fd_check, gradgrad_fd

CONV2D = [
    # (x shape, w shape, kwargs)
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ((1, 4, 8, 9), (6, 2, 3, 3), dict(groups=2, dilation=(2, 1), padding=(1, 2))),
    ((2, 3, 6, 5), (5, 3, 3, 2), dict(padding="same")),
    ((2, 3, 6, 5), (5, 3, 4, 4), dict(padding="same", dilation=2)),
    ((2, 3, 6, 5), (2, 3, 3, 3), dict(padding="valid", stride=(2, 1))),
    ((2, 4, 5, 5), (4, 1, 3, 3), dict(groups=4, padding=1)),  # depthwise
    ((3, 2, 5, 5), (3, 2, 1, 1), dict(stride=2)),  # 1x1 downsample
    ((3, 5, 5), (2, 3, 3, 3), dict(padding=1)),  # unbatched
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_float64(xs, ws, kw, bias):
    ins = [arr(*xs), arr(*ws)] + ([arr(ws[0])] if bias else [])
    check(lambda m, x, w, *b: m.nn.functional.conv2d(x, w, *b, **kw), ins)


@pytest.mark.parametrize("xs,ws,kw", CONV2D[:4])
def test_conv2d_float32(xs, ws, kw):
    ins = [arr(*xs, dtype=np.float32), arr(*ws, dtype=np.float32), arr(ws[0], dtype=np.float32)]
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, **kw), ins, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 9), (4, 3, 3), {}), ((2, 4, 9), (6, 2, 2), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 9), (4, 3, 3), dict(padding="same", dilation=3)), ((3, 9), (4, 3, 3), dict(stride=3)),
])
def test_conv1d(xs, ws, kw):
    check(lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, **kw), [arr(*xs), arr(*ws), arr(ws[0])])


def test_conv3d():
    check(lambda m, x, w, b: m.nn.functional.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
          [arr(2, 2, 4, 5, 4), arr(3, 2, 2, 3, 2), arr(3)])


CONVT2D = [
    ((2, 3, 4, 5), (3, 4, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 4, 4), (4, 3, 3, 3), dict(stride=(2, 3), groups=2, output_padding=(0, 2), dilation=1)),
    ((2, 4, 3, 4), (4, 3, 2, 3), dict(stride=2, padding=(0, 1), dilation=2, output_padding=1)),
    ((3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=2)),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d(xs, ws, kw, bias):
    ins = [arr(*xs), arr(*ws)] + ([arr(ws[1] * kw.get("groups", 1))] if bias else [])
    check(lambda m, x, w, *b: m.nn.functional.conv_transpose2d(x, w, *b, **kw), ins)


def test_conv_transpose1d():
    check(lambda m, x, w, b: m.nn.functional.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
          [arr(2, 3, 5), arr(3, 2, 4), arr(2)])


def test_only_weight_grad_and_only_input_grad():
    x, w = arr(2, 3, 6, 6), arr(4, 3, 3, 3)
    check(lambda m, x, w: m.nn.functional.conv2d(x.detach(), w, stride=2), [x, w])
    check(lambda m, x, w: m.nn.functional.conv2d(x, w.detach(), padding=2), [x, w])
    check(lambda m, x, w: m.nn.functional.conv_transpose2d(x.detach(), w.transpose(0, 1), stride=2), [x, w])


def test_numerical_gradients():
    fd_check(lambda x, w, b: NF.conv2d(x, w, b, stride=2, padding=1, groups=2, dilation=(1, 2)),
                  [arr(2, 4, 5, 6), arr(4, 2, 2, 3), arr(4)])
    fd_check(lambda x, w, b: NF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                  [arr(2, 2, 3, 3), arr(2, 3, 3, 2), arr(3)])


def test_integer_conv():
    check(lambda m, x, w: m.nn.functional.conv2d(x, w, padding=1),
          [arr(1, 2, 4, 4, dtype=np.int64), arr(3, 2, 3, 3, dtype=np.int64)], grad=False)


@pytest.mark.parametrize("fn,ins,msg", [
    (lambda m, x, w: m.nn.functional.conv2d(x, w), [arr(2, 4, 5, 5), arr(8, 3, 3, 3)],
     r"Given groups=1, weight of size \[8, 3, 3, 3\], expected input\[2, 4, 5, 5\] to have 3 channels, "
     r"but got 4 channels instead"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w), [arr(2, 3), arr(8, 3, 3, 3)], "Expected 3D"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w), [arr(2, 3, 2, 2), arr(8, 3, 3, 3)], "Kernel size can't"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w, stride=0), [arr(2, 3, 5, 5), arr(8, 3, 3, 3)], "non-positive"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w, padding=-1), [arr(2, 3, 5, 5), arr(8, 3, 3, 3)], "negative"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w, stride=2, padding="same"), [arr(2, 3, 5, 5), arr(8, 3, 3, 3)],
     "strided"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w, padding="foo"), [arr(2, 3, 5, 5), arr(8, 3, 3, 3)], "Invalid"),
    (lambda m, x, w: m.nn.functional.conv2d(x, w, groups=3), [arr(2, 4, 5, 5), arr(8, 2, 3, 3)], "divisible"),
    (lambda m, x, w: m.nn.functional.conv2d(x.float(), w), [arr(2, 3, 5, 5), arr(8, 3, 3, 3)],
     "expected scalar type"),
    (lambda m, x, w, b: m.nn.functional.conv2d(x, w, b), [arr(2, 3, 5, 5), arr(8, 3, 3, 3), arr(7)], "bias"),
    (lambda m, x, w: m.nn.functional.conv1d(x, w), [arr(2, 3, 5, 5), arr(8, 3, 3)], "Expected 2D"),
    (lambda m, x, w: m.nn.functional.conv_transpose2d(x, w), [arr(2, 4, 5, 5), arr(3, 8, 3, 3)], "transposed=1"),
    (lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, stride=2, output_padding=2),
     [arr(2, 4, 5, 5), arr(4, 8, 3, 3)], "output padding must be smaller"),
])
def test_errors(fn, ins, msg):
    check_error(fn, ins, match=msg)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 4, 1, 1), (3, 4, 3, 3), dict(padding=1)),  # only the centre tap ever sees data
    ((2, 4, 2, 2), (3, 4, 3, 3), dict(padding=1, stride=2)),
    ((2, 4, 1, 3), (3, 4, 3, 3), dict(padding=1)), ((2, 4, 2, 2), (6, 2, 5, 5), dict(padding=2, groups=2)),
    ((2, 4, 1, 1), (3, 4, 3, 3), dict(padding=2, dilation=2)), ((2, 3, 3), (4, 3, 5), dict(padding=4, stride=3)),
    ((2, 3, 3), (4, 3, 3), dict(padding=10)), ((2, 3, 2), (4, 3, 5), dict(padding=9, stride=2, dilation=3)),
    ((1, 2, 1, 2), (2, 2, 3, 3), dict(padding=(7, 1), stride=(3, 1))),
])
def test_conv_trimmed_padding_taps(xs, ws, kw):
    """Taps that only read padding are skipped; values and all gradients still match torch."""
    fn = "conv1d" if len(xs) == 3 else "conv2d"
    check(lambda m, x, w, b: getattr(m.nn.functional, fn)(x, w, b, **kw), [arr(*xs), arr(*ws), arr(ws[0])])


def test_trim_padding_taps_trims():
    from nnbox.ops.conv import _trim_padding_taps

    w = (3, 4, 3, 3)
    taps, pads = _trim_padding_taps(w, (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1))
    assert taps == (slice(1, 2), slice(1, 2)) and pads == ((0, 0), (0, 0))
    taps, pads = _trim_padding_taps(w, (2, 2), ((1, 1), (1, 1)), (2, 2), (1, 1))
    assert taps == (slice(1, 3), slice(1, 3)) and pads == ((0, 0), (0, 0))
    taps, pads = _trim_padding_taps(w, (5, 5), ((1, 1), (1, 1)), (1, 1), (1, 1))
    assert taps is None and pads == ((1, 1), (1, 1))


# --- double backward (create_graph=True) --------------------------------------------------------------
TWICE = [  # (function, x shape, w shape, kwargs)
    ("conv2d", (2, 3, 6, 5), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ("conv2d", (1, 4, 7, 6), (6, 2, 3, 3), dict(groups=2, dilation=(2, 1), padding=(1, 2))),
    ("conv2d", (2, 4, 1, 3), (3, 4, 3, 3), dict(padding=1)),  # trimmed padding taps
    ("conv1d", (2, 4, 9), (6, 2, 2), dict(stride=2, padding=1, groups=2)),
    ("conv3d", (2, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
    ("conv_transpose2d", (2, 3, 4, 5), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (2, 4, 4, 4), (4, 3, 3, 3), dict(stride=(2, 3), groups=2, output_padding=(0, 2))),
    ("conv_transpose1d", (2, 3, 5), (3, 2, 4), dict(stride=3, padding=1, output_padding=2)),
    ("conv_transpose3d", (1, 2, 3, 2, 3), (2, 3, 2, 2, 2), dict(stride=2)),
]


@pytest.mark.parametrize("fn,xs,ws,kw", TWICE)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_double_backward_matches_torch(fn, xs, ws, kw, bias):
    cout = ws[1] * kw.get("groups", 1) if "transpose" in fn else ws[0]
    ins = [arr(*xs), arr(*ws)] + ([arr(cout)] if bias else [])
    check(lambda m, x, w, *b: getattr(m.nn.functional, fn)(x, w, *b, **kw), ins, order=2)


def test_conv_second_derivatives_through_a_nonlinearity():
    """A WGAN-GP-like penalty: the input gradient of a conv-exp-conv critic, differentiated again."""
    def f(m, x, w1, b1, w2):
        F = m.nn.functional
        return F.conv2d(m.exp(F.conv2d(x, w1, b1, padding=1) * 0.2), w2, stride=2)

    check(f, [arr(2, 2, 5, 5), arr(3, 2, 3, 3), arr(3), arr(2, 3, 2, 2)], order=2)


@pytest.mark.parametrize("fn,xs,ws,kw", [TWICE[0], TWICE[6]])
def test_conv_gradgrad_finite_differences(fn, xs, ws, kw):
    x = nnbox.tensor(arr(*xs), requires_grad=True)
    w = nnbox.tensor(arr(*ws), requires_grad=True)
    f = getattr(NF, fn)
    assert gradgrad_fd(lambda x, w: nnbox.exp(f(x, w, **kw) * 0.3), (x, w))


def test_conv_third_order():
    """The double backward is itself made of conv nodes: a third derivative matches torch."""
    import torch

    x0, w0 = arr(1, 2, 4, 4), arr(2, 2, 3, 3)
    res = []
    for m, lib in ((torch, torch), (nnbox, nnbox)):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        y = m.exp(m.nn.functional.conv2d(x, w, padding=1) * 0.3).sum()
        (gx,) = lib.autograd.grad(y, (x,), create_graph=True)
        (gw,) = lib.autograd.grad((gx * gx).sum(), (w,), create_graph=True)
        (gx3,) = lib.autograd.grad((gw * gw).sum(), (x,))
        res.append(gx3.detach().numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-8, atol=1e-10)
