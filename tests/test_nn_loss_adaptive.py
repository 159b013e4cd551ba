"""AdaptiveLogSoftmaxWithLoss against torch: repr, state_dict, output/loss and all gradients, log_prob,
predict, errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import arr, assert_same


def pair(*args, **kw):
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw).double()
    nm = nnbox.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw).double()
    assert repr(nm) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in nm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


@pytest.mark.parametrize("kw", [{}, {"div_value": 2.0, "head_bias": True}])
def test_forward_backward_log_prob_predict(kw):
    tm, nm = pair(16, 10, [3, 6], **kw)
    x, t = arr(7, 16), np.array([0, 4, 9, 2, 6, 5, 3])
    tx, nx = torch.tensor(x, requires_grad=True), nnbox.tensor(x, requires_grad=True)
    to, no = tm(tx, torch.tensor(t)), nm(nx, nnbox.tensor(t))
    assert_same(tuple(to), tuple(no))
    (to.loss + to.output.sum()).backward()
    (no.loss + no.output.sum()).backward()
    assert_same(tx.grad, nx.grad)
    for (name, a), (_, b) in zip(tm.named_parameters(), nm.named_parameters()):
        assert_same(a.grad, b.grad, what=name)
    assert_same(tm.log_prob(tx), nm.log_prob(nx))
    assert_same(tm.predict(tx), nm.predict(nx))
    # unbatched, and a batch whose targets all sit in the shortlist
    assert_same(tuple(tm(tx[0], torch.tensor(5))), tuple(nm(nx[0], nnbox.tensor(5))))
    assert_same(tuple(tm(tx[:2], torch.tensor([0, 1]))), tuple(nm(nx[:2], nnbox.tensor([0, 1]))))


def test_errors():
    for m in (torch, nnbox):
        with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers"):
            m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])
        mod = m.nn.AdaptiveLogSoftmaxWithLoss(16, 10, [3, 6])
        with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\], but values in range \[1, 11\]"):
            mod(m.zeros(3, 16), m.tensor([1, 11, 2]))
        with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension"):
            mod(m.zeros(3, 16), m.tensor([1, 2]))
