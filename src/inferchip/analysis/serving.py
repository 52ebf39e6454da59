"""The core performance model seen by the serving simulator: a :class:`~inferchip.sim.protocol.StepModel`.

One engine iteration of a replica = :meth:`MappedModel.replica_step_s` (all ``pp`` stages,
micro-batched). The KV capacity comes from the memory-fit model, so the simulator's block
manager runs out of cache exactly where ``predict`` says memory ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.analysis.engine import MappedModel, map_model
from inferchip.analysis.predict import resolve_formats
from inferchip.cost.calibration import Calibration, load_calibration
from inferchip.errors import InvalidSettingError
from inferchip.mapping.layout import Layout, check_layout
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec


@dataclass
class ServingStepModel:
    """Adapter: the simulator's step-time protocol over a mapped model."""

    mm: MappedModel

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs) -> np.ndarray:
        t, _ = self.mm.replica_step_s(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)
        return np.asarray(t, dtype=float)

    @property
    def kv_capacity_tokens(self) -> int:
        return self.mm.kv_capacity_tokens()

    @property
    def num_chips(self) -> int:
        return self.mm.layout.chips_per_replica


def serving_model(chip: str | ChipParams, model: str | ModelSpec, *, count: int = 1, tp: int = 1, pp: int = 1,
                  ep: int = 1, weights: str = "bf16", activations: str | None = None, kv: str | None = None,
                  calibration: Calibration | str | None = None, estimate: str = "central") -> tuple[ServingStepModel, int]:
    """(step model of one replica, number of replicas) for a system of ``count`` chips."""
    if isinstance(chip, ChipParams):
        cp = chip
    else:
        from inferchip.catalog.chips import get_chip_params

        cp = get_chip_params(chip, estimate)
    if isinstance(model, ModelSpec):
        ms = model
    else:
        from inferchip.catalog.models import load_model

        ms = load_model(model)
    lay = check_layout(ms, Layout(tp=tp, pp=pp, ep=ep), count)
    replicas = count // lay.chips_per_replica
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    mm = map_model(ms, cp, lay, resolve_formats(weights, activations, kv), cal)
    step = ServingStepModel(mm)
    if step.kv_capacity_tokens < 1:
        from inferchip.analysis.engine import fit_error

        raise fit_error(mm, 1, 1, 0, count)
    if replicas < 1:
        raise InvalidSettingError(f"tp x pp = {lay.chips_per_replica} needs more than the {count} chips given")
    return step, replicas
