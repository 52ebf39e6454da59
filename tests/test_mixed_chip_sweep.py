"""Chips of different kinds in one vectorised sweep (``spec.params.stack_chips``): the family facts that used to be
refused unless every chip agreed are arrays along the chip axis, ``host_step_s`` (a compiler-scheduled family's own
host time per iteration, else the calibration's step and sequence host times: ``cost.context.host_times_s``) and
``layer_pipeline`` (the SRAM families' balanced weight split: ``performance.mapped.map_model``). A sweep over Groq,
H100 and Cerebras gives each chip what its own single-chip run gives."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.models import load_model
from inferchip.cost.context import host_times_s
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model
from inferchip.performance.phases import static_batch
from inferchip.spec.calibration import Calibration
from inferchip.spec.params import stack_chips

CHIPS = ("groq-lpu-v1", "nvidia-h100-sxm-80gb", "cerebras-wse-3")
BATCH = np.array([1.0, 8.0, 64.0]).reshape(1, -1, 1)
PROMPT = np.array([128.0, 1024.0]).reshape(1, 1, -1)


def test_the_family_facts_are_arrays_along_the_chip_axis():
    chips = [get_chip_params(c) for c in CHIPS]
    stacked = stack_chips(chips)
    assert np.asarray(stacked.layer_pipeline).tolist() == [True, False, True]
    cal = Calibration()
    step, seq = host_times_s(stacked, cal)
    assert np.asarray(step).tolist() == pytest.approx([10e-6, cal.step_overhead_s, 10e-6])  # families.yaml 10 us
    assert np.asarray(seq).tolist() == [0.0, cal.sequence_overhead_s, 0.0]
    for chip, s, q in zip(chips, np.asarray(step), np.asarray(seq), strict=True):  # each chip as on its own
        assert host_times_s(chip, cal) == (pytest.approx(s), q)


@pytest.mark.parametrize("layout", [Layout(tp=1, pp=1), Layout(tp=2, pp=5)])
def test_a_mixed_sweep_gives_each_chip_its_own_result(layout: Layout):
    model, cal, fmt = load_model("meta-llama/Llama-3.1-8B"), load_calibration(), Formats("fp8", "fp8", "fp8")
    chips = [get_chip_params(c) for c in CHIPS]
    mm = map_model(model, stack_chips(chips, (-1, 1, 1)), layout, fmt, cal)
    swept = static_batch(mm, BATCH, PROMPT, PROMPT / 4)
    fits = mm.max_batch(PROMPT, PROMPT / 4)
    weights = np.broadcast_to(mm.weights_bytes, (len(chips), 1, 1))
    for k, chip in enumerate(chips):
        own = map_model(model, chip, layout, fmt, cal)
        alone = static_batch(own, BATCH[0], PROMPT[0], PROMPT[0] / 4)
        assert weights[k, 0, 0] == pytest.approx(own.weights_bytes, rel=1e-12), chip.id
        assert swept.ttft_s[k] == pytest.approx(alone.ttft_s, rel=1e-12), chip.id
        assert swept.tpot_s[k] == pytest.approx(alone.tpot_s, rel=1e-12), chip.id
        assert np.asarray(fits)[k] == pytest.approx(np.asarray(own.max_batch(PROMPT[0], PROMPT[0] / 4)), rel=1e-12)
    if layout.pp > 1:  # both weight splits in play: the SRAM families' balanced one and the GPU engines'
        assert weights[0, 0, 0] == weights[2, 0, 0] != weights[1, 0, 0]
