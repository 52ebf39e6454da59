"""A finished serving run collected into a :class:`~inferchip.sim.results.metrics.SimResult`: the request table,
the replicas' step logs joined into one (with each step's inter-token skips and prefill attention pairs), and each
step's energy where every replica's step model prices power. The run itself is :mod:`inferchip.sim.runs.simulate`'s."""

from __future__ import annotations

from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.replica import Replica
from inferchip.sim.load.arrivals import ArrivalSpec, ClosedLoopArrivals
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.results.request import RequestTable
from inferchip.sim.results.step_log import StepLog, step_log
from inferchip.sim.step.protocol import EnergyStepModel, FloatArray, IntArray, has_energy
from inferchip.sim.step.steptime import StepTimer


def build_result(spec: ArrivalSpec, table: RequestTable, reps: list[Replica], timers: list[StepTimer], num_chips: int,
                 hit_cap: bool, slo_ttft_s: float | None, slo_tpot_s: float | None,
                 extra: dict[str, Any], baseline: tuple[int, int] = (0, 0)) -> SimResult:
    """Collect the request table and the replicas' step logs into a :class:`SimResult`."""
    num_steps = sum(len(r.log["start_s"]) for r in reps)
    skip = np.zeros(num_steps, dtype=np.int64)
    pairs = np.zeros(num_steps, dtype=np.int64)
    pads = np.zeros(num_steps, dtype=np.int64)
    offset = 0
    for r in reps:
        for k, count in r.itl_skip.items():
            skip[offset + k] = count
        for k, p in r.pairs_at.items():
            pairs[offset + k] = p
        for k, p in r.pad_at.items():
            pads[offset + k] = p
        offset += len(r.log["start_s"])
    steps = step_log([r.log for r in reps],
                     replica=np.concatenate([np.full(len(r.log["start_s"]), r.index, dtype=np.int64) for r in reps]),
                     kv_capacity_blocks=np.concatenate(
                         [np.full(len(r.log["start_s"]), r.pool.total_blocks, dtype=np.int64) for r in reps]),
                     step=np.concatenate([np.arange(len(r.log["start_s"]), dtype=np.int64) for r in reps]),
                     prefill_attn_pairs=pairs)
    idle_w = None
    energy_models = [r.timer.model for r in reps if has_energy(r.timer.model)]
    if reps and len(energy_models) == len(reps):
        steps["energy_j"] = step_energies_j(steps, reps, pads)
        idle_w = tuple(float(m.idle_power_w) for m in energy_models)
    return SimResult(
        requests=table.arrays(),
        steps=steps,
        itl_extra_s=np.asarray([g for r in reps for g in r.itl_extra_s], dtype=float),
        itl_skip_per_step=skip,
        num_replicas=len(reps),
        num_chips=num_chips,
        arrival_kind=spec.kind,
        concurrency=spec.concurrency if isinstance(spec, ClosedLoopArrivals) else None,
        hit_time_cap=hit_cap,
        replica_idle_power_w=idle_w,
        slo_ttft_s=slo_ttft_s,
        slo_tpot_s=slo_tpot_s,
        step_model_evaluations=sum(t.num_evaluations for t in timers) - baseline[0],
        extra={"step_model_calls": sum(t.num_model_calls for t in timers) - baseline[1],
               "kv_blocks_in_use_at_end": [r.pool.used_blocks for r in reps], **extra},
    )


def step_energies_j(steps: StepLog, reps: list[Replica], padded_rows: IntArray | None = None) -> FloatArray:
    """Energy of every logged step (J, whole replica): its replica's ``step_power_w`` x the logged duration.

    ``padded_rows``: per step, the prompt rows a back end's prompt buckets add (vllm-gaudi: ``Replica.pad_at``;
    None: none). They are priced as the step time prices them, rows that run with no attention pairs: the power is
    taken at the logged tokens plus them, so a padded step's work is in its energy as in its time (stop 52 priced
    the unpadded rows' power over the padded time).

    Power is evaluated once per step model, vectorised, at the steps' exact inputs; the
    duration is the step time the simulator ran (inputs rounded to ~0.2 %, see
    :mod:`inferchip.sim.step.steptime`), so power per step is exactly the model's (never above TDP). An
    attention-DP step priced at its busiest rank (``step_time_busiest_s``) takes the power of the even
    step at its logged tokens and pairs over the busiest rank's duration: an estimate of that step's energy.
    """
    out = np.zeros(steps["start_s"].size, dtype=float)
    by_model: dict[int, tuple[EnergyStepModel, list[int]]] = {}
    for r in reps:
        if has_energy(model := r.timer.model):  # build_result calls this where every replica's model does
            by_model.setdefault(id(model), (model, []))[1].append(r.index)
    for model, indices in by_model.values():
        sel = np.isin(steps["replica"], indices)
        if not sel.any():
            continue
        try:
            tokens = steps["num_tokens"][sel] + (0 if padded_rows is None else padded_rows[sel])
            w = np.asarray(model.step_power_w(
                tokens, steps["num_decode_seqs"][sel], steps["decode_kv_tokens"][sel],
                steps["prefill_attn_pairs"][sel].astype(np.float64)), dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidSettingError(f"step model {type(model).__name__}.step_power_w failed: {exc}") from None
        if w.size == 1:
            w = np.full(int(sel.sum()), w[0])
        if w.size != int(sel.sum()) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InvalidSettingError(
                f"step model {type(model).__name__}.step_power_w must return one finite power >= 0 W per step")
        out[sel] = w * steps["duration_s"][sel]
    return out
