"""tools/energy/sampler_step_check.py: the sampler intercept of vLLM PR #40376's table by hand, the per-step time
and its errors, and that the patched calibration adds it only to the rows that state the native top-p sampler."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

from inferchip.spec.calibration import Calibration

sc = load_tool("sampler_step_check")


def test_intercept_by_hand() -> None:
    # (128, 2.318 ms), (512, 6.150 ms): slope 3.832 / 384 = 0.0099792 ms per row; 2.318 - 128 x 0.0099792
    # = 1.04067 ms.
    slope, icpt = sc.intercept_s(((128, 2.318), (512, 6.150)))
    assert slope == pytest.approx(9.9792e-6, rel=1e-4)
    assert icpt == pytest.approx(1.04067e-3, rel=1e-4)


def test_pr_points_give_about_eight_ns_per_entry_at_both_vocabularies() -> None:
    # 1.0407 ms / 131,072 = 7.94 ns; 0.626 - 128 x 1.068 / 384 ms = 0.2700 ms / 32,768 = 8.24 ns
    per_entry = {v: sc.intercept_s(p)[1] / v for v, p in sc.PR40376_POINTS.items()}
    assert per_entry[131_072] == pytest.approx(7.94e-9, rel=1e-2)
    assert per_entry[32_768] == pytest.approx(8.24e-9, rel=1e-2)


def test_same_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="same row count 128"):
        sc.intercept_s(((128, 1.0), (128, 2.0)))


def test_step_time_by_hand_and_errors() -> None:
    assert sc.step_time_s(8.0, 128_256) == pytest.approx(1.026048e-3)
    with pytest.raises(ValueError, match="ns_per_entry"):
        sc.step_time_s(-1.0, 10)
    with pytest.raises(ValueError, match="vocab_size"):
        sc.step_time_s(1.0, 0)


def test_patch_adds_the_step_time_only_where_the_sampler_is_stated() -> None:
    cal = Calibration()
    run = sc.with_step_sampler(lambda c, row, closed_loop, family: c, 8.0, lambda model: 100_000)
    stated = {"model": "m", "notes": "x; sampling: vLLM native top-p; y"}
    hopper = "nvidia-hopper"
    assert run(cal, stated, True, hopper).step_overhead_s == pytest.approx(cal.step_overhead_s + 8e-4)
    assert run(cal, {"model": "m", "notes": "nothing stated"}, True, hopper).step_overhead_s == cal.step_overhead_s
    assert sc.with_step_sampler(lambda c, r, k, f: c, 0.0, lambda m: 1)(cal, stated, True, hopper) is cal


def test_gemm_charges_by_hand() -> None:
    # m 128, k 1,024, n 512, tiles 128 x 256 on 4 units at 1 TFLOP/s: 1 x 2 tiles, one wave of
    # 128 x 4 x 2 x 256 x 1,024 = 2.684e8 FLOP: 268.4 us. Split-K: s = min(4 // 2, 1,024 // 512) = 2, one wave of
    # half the K: 134.2 us, plus 2 partials of 2 x 128 x 512 x 4 B at 1 TB/s: 1.049 us. Memory: (1,024 x 512 +
    # 128 x 1,536) x 2 B at 1 TB/s = 1.442 us.
    full, split, mem = sc.gemm_charges_s(128, 1024, 512, 128, 256, 4, 1e12, 1e12)
    assert full == pytest.approx(2.68435456e-4)
    assert split == pytest.approx(1.34217728e-4 + 1.048576e-6)
    assert mem == pytest.approx(1.441792e-6)
    # at 1 GB/s the partials (1.049 ms) make split-K slower: the full wave stands
    assert sc.gemm_charges_s(128, 1024, 512, 128, 256, 4, 1e12, 1e9)[1] == pytest.approx(full)
