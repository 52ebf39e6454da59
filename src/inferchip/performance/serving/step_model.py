"""The core performance model seen by the serving simulator: a :class:`~inferchip.sim.step.protocol.StepModel`.

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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from inferchip.errors import InvalidSettingError
from inferchip.mapping.memory_fit import FloatArray
from inferchip.performance.mapped import MappedModel
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.engine.padding import PaddingLadder

if TYPE_CHECKING:
    pass

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
    """Adapter: the simulator's step-time protocol over a mapped model (with energy where a TDP is known).

    ``ranks``: the attention-DP ranks the simulated replica places each prefill chunk on whole
    (:class:`~inferchip.sim.batching.replica.Replica` reads it, as it reads ``EngineStepModel.ranks``; the step is then
    priced at its busiest rank, :meth:`step_time_busiest_s`). The caller passes the layout's ``attn_dp_ways`` where the
    replica should place prompts per rank; 1 (the default) keeps the even spread of the cost model.

    The back end's compiled step shapes (vLLM's TPU and Gaudi back ends) are the mapped model's
    (:attr:`MappedModel.padding`, :meth:`MappedModel.padded_rows`, as predict's), its prompt buckets the replica's
    (:attr:`prompt_padding`: it pads each prompt of a step, which a step's tokens alone do not tell)."""

    mm: MappedModel
    energy: StepEnergyModel | None = None
    ranks: int = 1
    prompt_padding: PaddingLadder | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.ranks != 1 and self.ranks != self.mm.layout.attn_dp_ways:
            raise InvalidSettingError(f"{self.ranks} attention-DP ranks on a layout of "
                                      f"{self.mm.layout.attn_dp_ways}: 1 or the layout's")
        pad = self.mm.padding
        if pad is not None and pad.prompt_sizes:
            self.prompt_padding = pad
            self.mm = replace(self.mm, padding=replace(pad, prompt_sizes=()))

    def _steps(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, decode_kv_tokens: npt.ArrayLike,
               prefill_attn_pairs: npt.ArrayLike,
               prefill_chip: float | None = None) -> tuple[FloatArray, FloatArray | None]:
        """(time_s, replica power W or None) of a step, throttled at TDP. With ``prefill_chip`` the step's
        cost is its busiest attention-DP chip's, which sets both the time and the chip that throttles first;
        its power (that chip's times the replica's chips) is used only for the throttle: a step's energy is
        priced by :meth:`step_power_w` (sim.runs.run_result.step_energies_j)."""
        from inferchip.cost.economics import step_power

        t, cost = self.mm.replica_step_s(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs,
                                         prefill_chip=prefill_chip)
        t = np.asarray(t, dtype=float)
        en = self.energy
        if en is None:
            return t, None
        pr = step_power(cost, t, self.mm.layout.pp, en.spec, en.memory_type, en.tdp_w, en.idle_w, en.assumptions)
        return np.asarray(pr.time_s, dtype=float), np.asarray(pr.power_w, dtype=float) * self.num_chips

    def step_time_s(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, decode_kv_tokens: npt.ArrayLike,
                    prefill_attn_pairs: npt.ArrayLike) -> FloatArray:
        return self._steps(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)[0]

    def step_time_busiest_s(self, num_tokens: float, num_decode_seqs: float, decode_kv_tokens: float,
                            prefill_attn_pairs: float, prefill_chip: float) -> float:
        """Time of one step whose whole prompts sit unevenly on the attention-DP chips: ``prefill_chip``
        prefill tokens (and ``prefill_attn_pairs / dp`` pairs) on the busiest chip, the routed experts
        serving the step's ``num_tokens`` (cost.step.step_points); throttled at TDP as :meth:`step_time_s`,
        by the busiest chip's power."""
        t = self._steps(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, prefill_chip)[0]
        return float(np.asarray(t, dtype=float).reshape(-1)[0])

    def step_power_w(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, decode_kv_tokens: npt.ArrayLike,
                     prefill_attn_pairs: npt.ArrayLike) -> FloatArray:
        """Average power of the whole replica during one step, W: per chip dynamic energy / time + busy static."""
        w = self._steps(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)[1]
        if w is None:
            raise InvalidSettingError(f"{self.mm.chip.id}: no TDP published: step power is unavailable")
        return w

    @property
    def padding(self) -> PaddingLadder | None:
        """The compiled step shapes its steps are padded to (prompt buckets included; None: unpadded)."""
        return self.prompt_padding or self.mm.padding

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


@dataclass
class BeamStepModel:
    """A request decoding ``beams`` sequences from one prompt, seen by the simulator as one sequence."""

    inner: ServingStepModel
    beams: int

    def step_time_s(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, decode_kv_tokens: npt.ArrayLike,
                    prefill_attn_pairs: npt.ArrayLike) -> FloatArray:
        n = np.asarray(num_decode_seqs, float)
        return self.inner.step_time_s(np.asarray(num_tokens, float) + (self.beams - 1) * n, self.beams * n,
                                      self.beams * np.asarray(decode_kv_tokens, float), prefill_attn_pairs)

    def step_time_busiest_s(self, num_tokens: float, num_decode_seqs: float, decode_kv_tokens: float,
                            prefill_attn_pairs: float, prefill_chip: float) -> float:
        """:meth:`ServingStepModel.step_time_busiest_s` with the beams' decode tokens as :meth:`step_time_s`."""
        n = float(num_decode_seqs)
        return self.inner.step_time_busiest_s(float(num_tokens) + (self.beams - 1) * n, self.beams * n,
                                              self.beams * float(decode_kv_tokens), prefill_attn_pairs,
                                              prefill_chip)

    @property
    def ranks(self) -> int:
        return self.inner.ranks

    @property
    def prompt_padding(self) -> PaddingLadder | None:
        return self.inner.prompt_padding

    @property
    def kv_capacity_tokens(self) -> int:
        return self.inner.kv_capacity_tokens // self.beams

    @property
    def num_chips(self) -> int:
        return self.inner.num_chips


def step_energy_model(cp: ChipParams, spec: ChipSpec | None, assumptions: Assumptions) -> StepEnergyModel | None:
    """The energy inputs of chip ``cp`` (None when it publishes no TDP)."""
    from inferchip.cost.energy import static_power_w

    if not math.isfinite(cp.tdp_w):
        return None
    idle = cp.idle_w if math.isfinite(cp.idle_w) else float(static_power_w(cp.tdp_w, assumptions))
    mem = spec.memory.technology() if spec is not None else DEFAULT_MEMORY_TYPE
    return StepEnergyModel(spec, mem, cp.tdp_w, idle, assumptions)
