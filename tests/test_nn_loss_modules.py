"""Loss modules against torch: repr, buffers in state_dict, values and gradients, legacy args."""
import warnings

import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, arr, check

T5 = RNG.integers(0, 4, size=5).astype(np.int64)
PM = np.array([1.0, -1.0, 1.0, 1.0, -1.0])


def probs(*s):
    return RNG.uniform(0.05, 0.95, size=s)


# (name, ctor kwargs built per library, inputs, forward)
CASES = [
    ("L1Loss", {}, [arr(5, 4), arr(5, 4)]),
    ("MSELoss", {"reduction": "sum"}, [arr(5, 4), arr(5, 4)]),
    ("CrossEntropyLoss", {}, [arr(5, 4), T5]),
    ("CrossEntropyLoss", {"weight": np.array([1.0, 2.0, 0.5, 1.0]), "ignore_index": 1, "label_smoothing": 0.1},
     [arr(5, 4), T5]),
    ("NLLLoss", {"reduction": "none"}, [arr(5, 4), T5]),
    ("SmoothL1Loss", {"beta": 0.5}, [arr(5, 4), arr(5, 4)]),
    ("HuberLoss", {"delta": 0.5}, [arr(5, 4), arr(5, 4)]),
    ("BCELoss", {"weight": np.array([1.0, 2.0, 3.0, 4.0])}, [probs(5, 4), probs(5, 4)]),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([1.0, 2.0, 3.0, 4.0])}, [arr(5, 4), probs(5, 4)]),
    ("KLDivLoss", {"reduction": "batchmean"}, [arr(5, 4), probs(5, 4)]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [arr(5, 4), arr(5, 4), PM]),
    ("MarginRankingLoss", {"margin": 0.1}, [arr(5), arr(5), PM]),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0}, [arr(5, 4), arr(5, 4), arr(5, 4)]),
    ("SoftMarginLoss", {}, [arr(5), PM]),
    ("MultiLabelSoftMarginLoss", {}, [arr(5, 4), (RNG.random((5, 4)) > 0.5) * 1.0]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [arr(5), PM]),
    ("PoissonNLLLoss", {}, [arr(5), probs(5) * 4]),
    ("GaussianNLLLoss", {}, [arr(5, 2), arr(5, 2), probs(5, 2)]),
]


def _kw(m, kw):
    return {k: (m.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}


@pytest.mark.parametrize("name,kw,inputs", CASES, ids=[c[0] + str(i) for i, c in enumerate(CASES)])
def test_loss_module(name, kw, inputs):
    tm, nm = getattr(torch.nn, name)(**_kw(torch, kw)), getattr(nnbox.nn, name)(**_kw(nnbox, kw))
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    no_grad_target = name in ("SoftMarginLoss", "MultiLabelSoftMarginLoss", "HingeEmbeddingLoss", "MarginRankingLoss",
                              "CosineEmbeddingLoss")

    def f(m, *xs):
        mod = tm if m is torch else nm
        xs = list(xs)
        if no_grad_target:
            xs[-1] = xs[-1].detach()
        return mod(*xs)
    check(f, inputs)


def test_legacy_args_map_to_reduction():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sa, rd, want in [(None, False, "none"), (False, None, "sum"), (True, True, "mean")]:
            assert nnbox.nn.MSELoss(size_average=sa, reduce=rd).reduction == torch.nn.MSELoss(size_average=sa, reduce=rd).reduction == want
            assert nnbox.nn.CrossEntropyLoss(size_average=sa, reduce=rd).reduction == want


def test_weight_buffer_follows_double():
    m = nnbox.nn.CrossEntropyLoss(weight=nnbox.ones(3)).double()
    assert m.weight.dtype == nnbox.float64
    m(nnbox.zeros(2, 3, dtype=nnbox.float64), nnbox.tensor([0, 2]))


def test_margin_modules_repr_and_values():
    for name, kw in [("MultiMarginLoss", {"p": 2, "margin": 0.5}), ("MultiLabelMarginLoss", {}),
                     ("TripletMarginWithDistanceLoss", {"margin": 0.3})]:
        tm, nm = getattr(torch.nn, name)(**kw), getattr(nnbox.nn, name)(**kw)
        assert repr(nm) == repr(tm)
    x, t = arr(4, 3), np.array([2, 0, 1, 1])
    check(lambda m, x, t: (torch.nn.MultiMarginLoss(p=2) if m is torch else nnbox.nn.MultiMarginLoss(p=2))(x, t), [x, t])


@pytest.mark.parametrize("kw", [{}, {"bias": True, "reduction": "sum", "ignore_index": 1, "label_smoothing": 0.1},
                                {"out_features": (2,), "reduction": "none"}])
def test_linear_cross_entropy_loss(kw):
    tm = torch.nn.LinearCrossEntropyLoss(4, 3, **kw).double()
    nm = nnbox.nn.LinearCrossEntropyLoss(4, 3, **kw).double()
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    t = RNG.integers(0, 3, size=(5,) + kw.get("out_features", ())).astype(np.int64)

    def f(m, x, t):
        return (tm if m is torch else nm)(x, t)
    check(f, [arr(5, 4), t])
    for (name, a), (_, b) in zip(tm.named_parameters(), nm.named_parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-10, err_msg=name)


def test_linear_cross_entropy_functional_and_nllloss2d():
    check(lambda m, x, w, b, t: m.nn.functional.linear_cross_entropy(x, w, t, linear_bias=b, ignore_index=None),
          [arr(6, 4), arr(3, 4), arr(3), RNG.integers(0, 3, 6).astype(np.int64)])
    check(lambda m, x, w, t: m.nn.functional.linear_cross_entropy(x, w, t, ignore_index=2, reduction="none"),
          [arr(6, 4), arr(3, 2, 4), RNG.integers(0, 3, (6, 2)).astype(np.int64)])
    for m in (torch, nnbox):
        with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
            assert repr(m.nn.NLLLoss2d()) == "NLLLoss2d()"
