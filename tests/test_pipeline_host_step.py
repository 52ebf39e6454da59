"""A pipeline replica pays one host iteration per micro-batch, not one per stage (``mapping.operators.HostStep``,
``cost.rules.host_cost``), and a statically scheduled family replaces a GPU engine's host time with its own
(``FamilyDefaults.host_step_us``, ``cost.context.host_times_s``).

Hand calculation: TPOT = pp x (a stage's device time) + h x min(b, pp), so between a calibration with host time h
and one with none the TPOT differs by exactly h x min(b, pp): at pp 4, 1 x h at batch 1, 2 x h at batch 2, 4 x h
at batch 4 and 8 (before this, 4 x h at every batch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import make_chip, tiny_dense
from inferchip.catalog.chips import get_chip_params as get_chip
from inferchip.cost.context import cost_context, host_times_s
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model
from inferchip.performance.phases import static_batch
from inferchip.spec.calibration import Calibration

H = 0.002  # host time per iteration, s


def _tpot(pp: int, batch: float, host_s: float, array: bool = False) -> float:
    cal = Calibration().model_copy(update={"step_overhead_s": host_s, "sequence_overhead_s": 0.0})
    mm = map_model(tiny_dense(layers=8, hidden=4096, heads=32, kv_heads=8, ffn=14336), make_chip(),
                   Layout(pp=pp), Formats(), cal)
    b = np.array([batch]) if array else batch  # an array takes the vector path, a float the scalar one
    return float(np.asarray(static_batch(mm, b, 128.0, 128.0).tpot_s).reshape(-1)[0])


@pytest.mark.parametrize(("pp", "batch", "iterations"),
                         [(4, 1.0, 1), (4, 2.0, 2), (4, 4.0, 4), (4, 8.0, 4), (1, 1.0, 1), (1, 8.0, 1)])
@pytest.mark.parametrize("array", [False, True])
def test_a_pipeline_pays_one_host_iteration_per_micro_batch(pp, batch, iterations, array):
    extra = _tpot(pp, batch, H, array) - _tpot(pp, batch, 0.0, array)
    assert extra == pytest.approx(iterations * H, rel=1e-9)


def test_batch_one_at_pp4_is_four_stage_passes_and_one_host_step():
    """pp 4, batch 1: 4 x (one stage's device time at a quarter token) + 2 ms, against 4 x (device + 2 ms) = 8 ms
    of host time before; the stage's device time read from the same model without host time."""
    device = _tpot(4, 1.0, 0.0)
    assert _tpot(4, 1.0, H) == pytest.approx(device + H, rel=1e-12)
    assert _tpot(4, 1.0, H) < device + 4 * H - 5e-3


def test_the_vector_and_scalar_paths_agree_under_pipeline_parallelism():
    for batch in (1.0, 3.0, 16.0):
        assert _tpot(4, batch, H, array=True) == pytest.approx(_tpot(4, batch, H), rel=1e-12)


def test_compiler_scheduled_families_bring_their_own_host_time():
    cal = Calibration()
    for chip_id in ("groq-lpu-v1", "cerebras-wse-3", "tesla-dojo-d1"):
        step, seq = host_times_s(get_chip(chip_id), cal)
        assert (step, seq) == (pytest.approx(10e-6), 0.0), chip_id
        assert cost_context(get_chip(chip_id), Formats(), cal).step_overhead_s == pytest.approx(10e-6)
    gpu = get_chip("nvidia-h100-sxm-80gb")
    assert math.isnan(gpu.host_step_s)
    assert host_times_s(gpu, cal) == (cal.step_overhead_s, cal.sequence_overhead_s)


def test_mixed_host_times_in_one_sweep_are_per_chip():
    """Refused until stop 41; now each chip of a sweep takes its own (tests/test_mixed_chip_sweep.py)."""
    from inferchip.spec.params import stack_chips

    cal = Calibration()
    mixed = stack_chips([make_chip(), make_chip(id="static", host_step_s=1e-5)])
    step, seq = host_times_s(mixed, cal)
    assert np.asarray(step).tolist() == [cal.step_overhead_s, 1e-5]
    assert np.asarray(seq).tolist() == [cal.sequence_overhead_s, 0.0]
