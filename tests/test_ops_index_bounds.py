"""issue 16: every op taking an index tensor checks bounds as torch does -- no silent wrap of -1.

The table is the audit: each op with an in-range, a -1, a -n-1 and an n index, against torch
(same result or same exception type and message)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import nnbox
import nnbox.nn.functional as NF


def _cases(lib, F, bad):
    a = lib.arange(6.0).reshape(2, 3)
    v = lib.arange(3.0)
    i1, i2 = lib.tensor([bad]), lib.tensor([[bad, 0, 0]])
    return {
        "index_select": lambda: v.index_select(0, i1),
        "index_select_2d": lambda: a.index_select(1, i1),
        "gather": lambda: a.gather(1, i2),
        "scatter": lambda: a.scatter(1, i2, a),
        "scatter_value": lambda: a.scatter(1, i2, 1.0),
        "scatter_": lambda: a.clone().scatter_(1, i2, 1.0),
        "scatter_add": lambda: a.scatter_add(1, i2, a),
        "scatter_add_": lambda: a.clone().scatter_add_(1, i2, a),
        "index_add": lambda: v.index_add(0, i1, lib.ones(1)),
        "index_add_": lambda: v.clone().index_add_(0, i1, lib.ones(1)),
        "index_fill": lambda: v.index_fill(0, i1, 5.0),
        "take": lambda: lib.take(v, i1),
        "take_along_dim": lambda: lib.take_along_dim(a, i2[:, :1].expand(2, 1), 1),
        "embedding": lambda: F.embedding(i1, a.t()),
        "embedding_bag": lambda: F.embedding_bag(i2, a.t().contiguous()),
        "nll_loss": lambda: F.nll_loss(a, lib.tensor([bad, 0])),
        "cross_entropy": lambda: F.cross_entropy(a, lib.tensor([bad, 0])),
        "one_hot": lambda: F.one_hot(i1, 3),
        "getitem": lambda: v[i1],
        "multi_margin_loss": lambda: F.multi_margin_loss(a, lib.tensor([bad, 0])),
        "bincount": lambda: lib.bincount(lib.tensor([bad, 0])),
    }


def _outcome(f):
    try:
        r = f()
    except Exception as e:  # noqa: BLE001 - the exception *is* the outcome compared
        return type(e).__name__, str(e)
    return "ok", r.tolist()


@pytest.mark.parametrize("bad", [0, 2, -1, -3, -4, 3])
@pytest.mark.parametrize("op", list(_cases(torch, TF, 0)))
def test_index_bounds_like_torch(op, bad):
    if op == "take_along_dim" and not -3 <= bad < 3:
        pytest.skip("torch reads outside the tensor here (unchecked); nnbox raises")
    want = _outcome(_cases(torch, TF, bad)[op])
    got = _outcome(_cases(nnbox, NF, bad)[op])
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        np.testing.assert_allclose(np.asarray(got[1], float), np.asarray(want[1], float), rtol=1e-6)
    elif op != "bincount" or bad >= 0:
        assert got[1] == want[1]


def test_take_along_dim_out_of_range_raises():
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        nnbox.take_along_dim(nnbox.ones(2, 3), nnbox.tensor([[3], [0]]), 1)


def test_failed_inplace_scatter_leaves_input_untouched():
    a = nnbox.arange(3.0)
    with pytest.raises(RuntimeError):
        a.scatter_(0, nnbox.tensor([0, -1]), 9.0)
    with pytest.raises(IndexError):
        a.index_add_(0, nnbox.tensor([0, -1]), nnbox.ones(2))
    assert a.tolist() == [0.0, 1.0, 2.0]
