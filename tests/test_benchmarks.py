"""benchmarks/run_all.py: the JSON it compares and the 15% rule (no timing runs here)."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", os.path.join(ROOT, "benchmarks", "run_all.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(**ratios):
    return {"meta": {}, "workloads": {k: {"ratio": v, "nnbox_ms": v, "torch_ms": 1.0} for k, v in ratios.items()}}


def test_compare_flags_only_ratios_grown_by_more_than_15_percent(run_all):
    base = _result(a=1.0, b=2.0, c=0.5, gone=1.0)
    now = _result(a=1.16, b=2.2, c=0.3, new=9.0)
    assert run_all.compare(now, base) == ["SLOWER a: ratio 1.00x -> 1.16x (+16%)"]
    assert run_all.compare(now, base, tolerance=0.2) == []


def test_compare_mode_exit_status(run_all, tmp_path, capsys):
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(_result(a=1.0)))
    now.write_text(json.dumps(_result(a=1.5)))
    assert run_all.main(["--current", str(now), "--compare", str(base)]) == 1
    assert "1 of 1 workloads more than 15% slower" in capsys.readouterr().out
    assert run_all.main(["--current", str(base), "--compare", str(now)]) == 0


def test_committed_baseline_covers_every_workload(run_all):
    with open(run_all.BASELINE) as f:
        baseline = json.load(f)
    assert baseline["meta"]["mode"] == "full"
    assert all(w["ratio"] > 0 for w in baseline["workloads"].values())
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        names = set(run_all.workloads())
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    assert names == set(baseline["workloads"])
