"""nnbox.utils.summary: a torchinfo-like table whose totals match the real counts."""
from __future__ import annotations

import pytest
import torch

import nnbox
import nnbox.nn as nn
from nnbox.utils import summary


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_cnn_with_batchnorm_rows_and_totals(capsys):
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, stride=2, groups=2), nn.Flatten(), nn.Linear(32 * 3 * 3, 10),
    )
    model.train()
    stats = summary(model, (4, 3, 16, 16))
    printed = capsys.readouterr().out
    assert model.training  # mode restored
    assert stats.total_params == _count(model) == 448 + 32 + 2336 + 2890
    assert stats.trainable_params == stats.total_params and stats.non_trainable_params == 0
    assert f"Total params: {stats.total_params:,}" in printed and "├─Conv2d: 1-1" in printed and "└─Linear: 1-7" in printed
    rows = {r.name: r for r in stats.summary_list}
    assert rows["0"].output_shape == [4, 16, 16, 16] and rows["4"].output_shape == [4, 32, 3, 3]
    assert rows["0"].mult_adds == 4 * 16 * 16 * 16 * 3 * 9
    assert rows["1"].mult_adds == 4 * 16 * 16 * 16  # affine batch norm: one per output element
    assert rows["4"].mult_adds == 4 * 32 * 3 * 3 * (16 // 2) * 9  # grouped conv
    assert rows["6"].mult_adds == 4 * 288 * 10
    assert stats.total_mult_adds == sum(r.mult_adds for r in stats.summary_list)
    # buffers (running stats) are not parameters but count in the memory estimate
    assert stats.buffers_bytes == (16 + 16) * 4 + 8
    assert stats.params_bytes == 4 * stats.total_params
    assert stats.input_bytes == 4 * 3 * 16 * 16 * 4


def test_frozen_and_shared_parameters():
    shared = nn.Linear(8, 8)
    model = nn.Sequential(nn.Linear(4, 8), shared, nn.ReLU(), shared, nn.Linear(8, 2))
    model[0].weight.requires_grad_(False)
    stats = summary(model, (3, 4), verbose=0)
    assert stats.total_params == _count(model) == 40 + 72 + 18  # the shared layer counted once
    assert stats.non_trainable_params == 32 and stats.trainable_params == stats.total_params - 32
    assert [r.class_name for r in stats.summary_list] == ["Sequential", "Linear", "Linear", "ReLU", "Linear", "Linear"]
    assert "(40)" in str(stats)  # partly frozen layer marked


@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 2)])
def test_lstm_counts_match_torch(bidirectional, num_layers):
    n = nn.LSTM(10, 20, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    t = torch.nn.LSTM(10, 20, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    stats = summary(n, (3, 7, 10), verbose=0)
    assert stats.total_params == sum(p.numel() for p in t.parameters())
    dirs = 2 if bidirectional else 1
    per_step = sum(dirs * 4 * 20 * ((10 if layer == 0 else 20 * dirs) + 20) for layer in range(num_layers))
    assert stats.summary_list[0].mult_adds == 3 * 7 * per_step
    assert stats.summary_list[0].output_shape == [3, 7, 20 * dirs]


def test_embedding_with_integer_input_and_input_data():
    model = nn.Sequential(nn.Embedding(100, 16), nn.Flatten(), nn.Linear(16 * 5, 3))
    stats = summary(model, (2, 5), dtypes=[nnbox.int64], verbose=0)
    assert stats.total_params == _count(model) and stats.summary_list[1].output_shape == [2, 5, 16]
    stats2 = summary(model, input_data=nnbox.randint(0, 100, (2, 5)), verbose=0)
    assert stats2.total_params == stats.total_params
    with pytest.raises(ValueError):
        summary(model)


def test_module_is_callable_and_quiet_when_asked(capsys):
    import nnbox.utils.summary as mod

    assert callable(nnbox.utils.summary) and mod.summary is not None
    stats = nnbox.utils.summary(nn.Linear(3, 2), (1, 3), verbose=0)
    assert capsys.readouterr().out == ""
    assert "Linear" in repr(stats) and stats.total_params == 8


def test_depth_folds_nested_modules():
    inner = nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.Linear(8, 8), nn.ReLU()))
    model = nn.Sequential(inner, nn.Linear(8, 2))
    full = summary(model, (3, 4), verbose=0, depth=10)
    folded = summary(model, (3, 4), verbose=0, depth=1)
    assert folded.total_mult_adds == full.total_mult_adds == 3 * (4 * 8 + 8 * 8 + 8 * 2)
    table = str(folded)
    assert "Linear: 2-1" not in table and "├─Sequential: 1-1" in table
    row = next(line for line in table.splitlines() if "Sequential: 1-1" in line)
    assert row.split()[-1] == f"{3 * (4 * 8 + 8 * 8):,}"  # the folded subtree's mult-adds
    assert "Linear: 3-1" in str(full)
