"""The core performance model seen by the serving simulator: a :class:`~inferchip.sim.protocol.StepModel`.

One engine iteration of a replica = :meth:`MappedModel.replica_step_s` (all ``pp`` stages,
micro-batched). The KV capacity comes from the memory-fit model, so the simulator's block
manager runs out of cache exactly where ``predict`` says memory ends.

Energy (where the chip publishes a TDP): each step's dynamic energy comes from its step
cost (FLOP by format, DRAM bytes, link bytes; :func:`~inferchip.cost.economics.step_dynamic_energy_j`)
plus the busy static power over the step (:func:`~inferchip.cost.economics.step_power`);
a step whose power would exceed TDP is stretched (``throttle``) and the simulator sees the
stretched time, as ``predict`` does. A replica with nothing to run draws its chips' idle
power. Money ($ per million output tokens, tokens/s per $ of capex) is
:func:`serving_economics`, from :func:`~inferchip.cost.economics.money_per_token`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferchip.performance.phases import MappedModel, map_model
from inferchip.performance.predict import resolve_chip_and_model, resolve_formats
from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.calibration import Calibration
from inferchip.errors import InvalidSettingError
from inferchip.mapping.layout import Layout, check_layout
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.model import ModelSpec

DEFAULT_MEMORY_TYPE = "HBM3"  # used only when no chip spec is given (said in the notes)


@dataclass
class StepEnergyModel:
    """What the energy of a step needs besides its cost: the chip's memory, node, power limits and constants."""

    spec: ChipSpec | None
    memory_type: str
    tdp_w: float
    idle_w: float  # per chip, W
    assumptions: Assumptions


@dataclass
class ServingStepModel:
    """Adapter: the simulator's step-time protocol over a mapped model (with energy where a TDP is known)."""

    mm: MappedModel
    energy: StepEnergyModel | None = None

    def _steps(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        """(time_s, replica power W or None) of a step, throttled at TDP."""
        from inferchip.cost.economics import step_power

        t, cost = self.mm.replica_step_s(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)
        t = np.asarray(t, dtype=float)
        en = self.energy
        if en is None:
            return t, None
        pr = step_power(cost, t, self.mm.layout.pp, en.spec, en.memory_type, en.tdp_w, en.idle_w, en.assumptions)
        return np.asarray(pr.time_s, dtype=float), np.asarray(pr.power_w, dtype=float) * self.num_chips

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs) -> np.ndarray:
        return self._steps(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)[0]

    def step_power_w(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs) -> np.ndarray:
        """Average power of the whole replica during one step, W: per chip dynamic energy / time + busy static."""
        w = self._steps(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)[1]
        if w is None:
            raise InvalidSettingError(f"{self.mm.chip.id}: no TDP published: step power is unavailable")
        return w

    @property
    def idle_power_w(self) -> float | None:
        """Power of the whole replica with no step to run, W (None without a TDP: no energy model)."""
        if self.energy is None:
            return None
        return self.energy.idle_w * self.num_chips

    @property
    def kv_capacity_tokens(self) -> int:
        return self.mm.kv_capacity_tokens()

    @property
    def num_chips(self) -> int:
        return self.mm.layout.chips_per_replica


def step_energy_model(cp: ChipParams, spec: ChipSpec | None, assumptions: Assumptions) -> StepEnergyModel | None:
    """The energy inputs of chip ``cp`` (None when it publishes no TDP)."""
    from inferchip.cost.energy import static_power_w

    if not math.isfinite(cp.tdp_w):
        return None
    idle = cp.idle_w if math.isfinite(cp.idle_w) else float(static_power_w(cp.tdp_w, assumptions))
    mem = spec.memory.type if spec is not None else DEFAULT_MEMORY_TYPE
    return StepEnergyModel(spec, mem, cp.tdp_w, idle, assumptions)


def serving_model(chip: str | ChipParams, model: str | ModelSpec, *, count: int = 1, tp: int = 1, pp: int = 1,
                  ep: int = 1, weights: str = "bf16", activations: str | None = None, kv: str | None = None,
                  calibration: Calibration | str | None = None, estimate: str = "central", attn_dp: bool = False,
                  assumptions: str | Assumptions | None = None,
                  chip_spec: ChipSpec | None = None) -> tuple[ServingStepModel, int]:
    """(step model of one replica, number of replicas) for a system of ``count`` chips.

    ``assumptions``: a path overriding the energy/money constants (None: the bundled file).
    ``chip_spec``: the chip's full spec (memory type, node, price) when ``chip`` is a ChipParams.
    ``attn_dp``: attention data-parallel over the tp chips (MLA/MoE models, ``mapping.layout``).
    """
    from inferchip.catalog.assumptions import load_assumptions

    cp, chip_spec, ms = resolve_chip_and_model(chip, model, estimate, chip_spec)
    a = assumptions if isinstance(assumptions, Assumptions) else load_assumptions(assumptions)
    lay = check_layout(ms, Layout(tp=tp, pp=pp, ep=ep, attn_dp=attn_dp), count)
    replicas = count // lay.chips_per_replica
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    mm = map_model(ms, cp, lay, resolve_formats(weights, activations, kv), cal)
    step = ServingStepModel(mm, step_energy_model(cp, chip_spec, a))
    if step.kv_capacity_tokens < 1:
        from inferchip.performance.phases import fit_error

        raise fit_error(mm, 1, 1, 0, count)
    if replicas < 1:
        raise InvalidSettingError(f"tp x pp = {lay.chips_per_replica} needs more than the {count} chips given")
    return step, replicas


def serving_economics(step: ServingStepModel, figures: dict[str, Any], num_chips: int,
                      level: str = "central") -> dict[str, Any]:
    """Money of a simulated run (or curve point): $/h per chip, $ per million output tokens, tokens/s per $ capex.

    ``figures`` holds ``output_tokens_per_s_per_chip`` and ``power_w_per_chip`` (a
    :meth:`SimResult.summary` or a curve point). Returns the chip's price and its source
    too; every figure is None where the chip has no TDP or neither a price nor a silicon cost.
    """
    from inferchip.cost.economics import chip_money, money_per_token

    empty: dict[str, Any] = {"chip_price_usd": None, "chip_price_source": "unknown",
                             "tco_usd_per_hour_per_chip": None, "usd_per_million_tokens": None,
                             "output_tokens_per_s_per_usd_capex": None}
    power = figures.get("power_w_per_chip")
    tput = figures.get("output_tokens_per_s_per_chip")
    if step.energy is None or power is None or tput is None or not (math.isfinite(power) and math.isfinite(tput)):
        return empty
    money = chip_money(step.energy.spec, step.energy.assumptions, level)  # type: ignore[arg-type]
    out = {**empty, "chip_price_usd": money.price_usd, "chip_price_source": money.price_source}
    out.update(money_per_token(tput, power, money, num_chips, step.energy.assumptions))
    return out
