"""CTC loss against torch: values and gradients (padded and concatenated targets, variable lengths,
repeats, empty targets, impossible alignments, zero_infinity, blank index), module and errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, check, check_error, fd_check

RED = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("targets,tl", [([[1, 2, 2], [3, 1, 0]], [3, 2]), ([1, 2, 2, 3, 1], [3, 2]),
                                        ([[1, 1, 1], [3, 0, 0]], [3, 0])])
def test_ctc_matches_torch(reduction, targets, tl):
    def f(m, x, t):
        return m.nn.functional.ctc_loss(x.log_softmax(2), t, [7, 5], tl, reduction=reduction)
    check(f, [arr(7, 2, 4), np.array(targets)])


def test_ctc_gradient_convention_on_raw_inputs():
    # torch's CTC gradient assumes log_softmax inputs (it includes exp(log_probs)); so does nnbox's
    check(lambda m, x, t: m.nn.functional.ctc_loss(x, t, [6, 6], [2, 2]), [arr(6, 2, 5), np.array([[1, 2], [3, 3]])])


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_impossible_alignment(zero_infinity):
    # 3 repeated labels need at least 5 frames; 2 frames give an infinite loss
    check(lambda m, x, t: m.nn.functional.ctc_loss(x.log_softmax(2), t, [2, 5], [3, 1], reduction="none",
                                                   zero_infinity=zero_infinity),
          [arr(5, 2, 4), np.array([[1, 1, 1], [2, 0, 0]])])


def test_ctc_blank_float32_unbatched_module():
    check(lambda m, x, t: m.nn.CTCLoss(blank=3)(x.log_softmax(2), t, m.tensor([8, 8, 6]), m.tensor([3, 1, 2])),
          [arr(8, 3, 4, dtype=np.float32), np.array([[0, 1, 1], [2, 0, 0], [1, 2, 0]])], rtol=1e-5, atol=1e-5)
    check(lambda m, x, t: m.nn.functional.ctc_loss(x.log_softmax(1), t, m.tensor(6), m.tensor(3), reduction="none"),
          [arr(6, 5), np.array([1, 4, 4])])
    assert repr(nnbox.nn.CTCLoss(blank=1, zero_infinity=True)) == repr(torch.nn.CTCLoss(blank=1, zero_infinity=True))


def test_ctc_errors():
    check_error(lambda m, x, t: m.nn.functional.ctc_loss(x, t, [7, 5], [3, 1]), [arr(6, 2, 4), np.array([[1, 2, 2], [1, 0, 0]])],
                match="Expected input_lengths to have value at most 6, but got value 7")
    check_error(lambda m, x, t: m.nn.functional.ctc_loss(x, t, [6, 5], [4, 1]), [arr(6, 2, 4), np.array([[1, 2, 2], [1, 0, 0]])],
                match="Expected tensor to have size at least 4 at dimension 1, but got size 3")


def test_ctc_finite_differences_through_log_softmax():
    
    t = nnbox.tensor(np.array([[1, 2, 2], [3, 0, 0]]))
    fd_check(lambda x: nnbox.nn.functional.ctc_loss(x.log_softmax(2), t, [5, 4], [3, 1]), [arr(5, 2, 4)])
