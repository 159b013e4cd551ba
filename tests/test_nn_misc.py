"""Misc functional ops vs torch: pad, one_hot, interpolate, normalize, distances, fold/unfold, pixel shuffle."""
import numpy as np
import pytest
from _nn_gradcheck import numgrad_check
from oracle import arr, check, check_error

import nnbox
import nnbox.nn.functional as NF

PADS = [
    ((2, 3, 5), (1, 2), "constant"), ((2, 3, 5), (2, 1, 1, 0), "constant"), ((2, 3, 4, 5), (-1, 2, 0, -2), "constant"),
    ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1, 1, 1), "constant"),
    ((2, 3, 5), (2, 4), "reflect"), ((3, 5), (4, 1), "reflect"), ((2, 3, 4, 5), (1, 2, 3, 0), "reflect"),
    ((2, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2), "reflect"), ((2, 3, 5), (-1, 2), "reflect"), ((2, 3, 5), (2, -4), "reflect"),
    ((2, 3, 5), (3, 7), "replicate"), ((2, 3, 4, 5), (1, 2, 3, 0), "replicate"), ((2, 3, 4, 5), (-2, 2, 1, -1), "replicate"),
    ((2, 3, 5), (5, 2), "circular"), ((2, 3, 4, 5), (1, 2, 3, 4), "circular"), ((2, 3, 5), (-1, 3), "circular"),
    ((2, 2, 3, 4, 5), (1, 2, 2, 1, 1, 3), "circular"),
]


@pytest.mark.parametrize("shape,p,mode", PADS)
def test_pad(shape, p, mode):
    check(lambda m, x: m.nn.functional.pad(x, p, mode=mode), [arr(*shape)])


def test_pad_value_and_float32():
    check(lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1), value=3.5), [arr(2, 3, 4, dtype=np.float32)])
    check(lambda m, x: m.nn.functional.pad(x, (1, 2), value=7), [arr(2, 3, dtype=np.int64)], grad=False)


def test_pad_numerical():
    numgrad_check(lambda x: NF.pad(x, (2, 1, 1, 2), mode="reflect"), [arr(1, 2, 3, 4)])
    numgrad_check(lambda x: NF.pad(x, (3, 1), mode="circular"), [arr(2, 3)])


@pytest.mark.parametrize("shape,p,mode,msg", [
    ((2, 3, 4, 5), (1,), "constant", "divisible by 2"),
    ((2, 3, 4, 5), (1,) * 10, "constant", "less than or equal to two times"),
    ((2, 3, 4, 5), (1, 1), "reflect", "Padding size 2 is not supported for 4D"),
    ((2, 2, 5), (5, 1), "reflect", "Padding size should be less than"),
    ((2, 2, 5), (6, 1), "circular", "wrapping around more than once"),
    ((2, 2, 5), (1, 1), "foo", "Unrecognised padding mode"),
])
def test_pad_errors(shape, p, mode, msg):
    check_error(lambda m, x: m.nn.functional.pad(x, p, mode=mode), [arr(*shape)], match=msg)


def test_one_hot():
    check(lambda m, x: m.nn.functional.one_hot(x.abs()), [arr(3, 4, dtype=np.int64)], grad=False)
    check(lambda m, x: m.nn.functional.one_hot(x.abs(), 9), [arr(5, dtype=np.int64)], grad=False)
    check_error(lambda m, x: m.nn.functional.one_hot(x), [np.array([-1, 2])], match="non-negative")
    check_error(lambda m, x: m.nn.functional.one_hot(x, 2), [np.array([1, 2])], match="smaller than num_classes")
    check_error(lambda m, x: m.nn.functional.one_hot(x, 2), [np.array([1.0, 2.0])], match="LongTensor")
