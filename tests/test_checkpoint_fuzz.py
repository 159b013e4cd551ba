"""issue 16: the checkpoint loader fuzzed in CI (fixed seed, a few seconds).  See
``tests/checkpoint_fuzz.py`` for what is mutated and what "behaved well" means."""
from __future__ import annotations

import time

import numpy as np

import nnbox
from checkpoint_fuzz import run_case, run_fuzz, table


def test_fuzzed_checkpoints_load_or_fail_clearly_fast_and_touch_nothing():
    t0 = time.perf_counter()
    report = run_fuzz(seed=0, per_area=120)
    assert sum(r["tried"] for r in report.values()) == 720
    bad = {k: r["failed"][:3] for k, r in report.items() if r["failed"]}
    assert not bad, table(report) + "\n" + repr(bad)
    assert time.perf_counter() - t0 < 60


def test_the_fuzz_oracle_catches_what_it_should():
    # a "load" that changes a dtype, one that is slow, one that raises an unclear error
    def changes(_):
        nnbox.float32.np = np.dtype(np.int8)

    try:
        assert run_case(changes, b"") == "changed the process"
    finally:
        nnbox.float32.np = np.dtype(np.float32)
    assert run_case(lambda _: time.sleep(1.1), b"").startswith("slow")
    assert run_case(lambda _: {}["x"], b"").startswith("KeyError")
    assert run_case(lambda _: (_ for _ in ()).throw(ValueError("clear")), b"") is None
