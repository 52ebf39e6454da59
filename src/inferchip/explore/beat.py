"""The smallest changes to a chip that make it first on each suite metric against rivals.

The target chip's figures are scaled by a grid of changes: matrix throughput (every format)
x ``c``, memory x ``m`` (more stacks or channels of its type: bandwidth and capacity together),
scale-up links x ``l``. Every variant and every rival is scored on the suite at once
(:mod:`inferchip.explore.evaluate`). For each objective the chosen change is the one, among
those that put the target strictly first, with the smallest total change ``log c + log m +
log l`` (then the lowest cost). What a change costs in silicon comes from the design model
(:mod:`inferchip.cost.design.model`): the target is read as a design at its node (matrix
units of 32 x 32 MACs at its clock, its SRAM, memory units from its bandwidth), and the
change's extra area, TDP and manufacturing cost are the model's differences, added to the
target's published TDP and known cost (the model's own where the catalogue has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.explore.designs import Chips, catalogue_chips, design_physics
from inferchip.explore.evaluate import OBJECTIVES, default_suite, evaluate, suite_objectives

COMPUTE_STEPS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)
MEMORY_STEPS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)
LINK_STEPS = (1.0, 2.0, 4.0, 8.0)
TILE = 128  # GEMM tile of the tables real chips are scored on (the generic family's 128 x 128)
ASSUMED_CLOCK_GHZ = 2.0  # where the catalogue gives no clock (inferchip assumption)
MAC_DIM = 32


@dataclass
class Change:
    objective: str
    compute_x: float
    memory_x: float
    link_x: float
    value: float  # the target's objective after the change
    best_rival: str
    rival_value: float
    extra_area_mm2: float
    tdp_w: float
    cost_usd: float
    figures: dict[str, float] = field(default_factory=dict)


@dataclass
class BeatResult:
    target: str
    rivals: list[str]
    baseline: dict[str, dict[str, float]]  # chip -> objective -> value
    changes: list[Change]
    not_reached: list[str]  # objectives no change in the grid wins
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _as_design(target_id: str, compute: np.ndarray, memory: np.ndarray, link: np.ndarray, a: Any) -> dict[str, Any]:
    """The design model's physics of the target scaled by (compute, memory, link) multipliers."""
    from inferchip.catalog.chips import get_chip_params, load_chip
    from inferchip.cost.design.constants import MEMORY_UNIT
    from inferchip.cost.energy import memory_level
    from inferchip.errors import InferchipError
    from inferchip.spec.bounds import pick

    spec, cp = load_chip(target_id), get_chip_params(target_id)
    try:
        level = memory_level(spec.memory.type)
    except InferchipError:
        level = "lpddr5x"
    if level not in MEMORY_UNIT:
        level = "hbm3e" if level.startswith("hbm") else "lpddr5x"
    clock = pick(spec.compute.clock_ghz, "central") or ASSUMED_CLOCK_GHZ
    peaks = cp.peak_flop_per_s
    bf16 = float(peaks.get("bf16") or peaks.get("fp16") or max(peaks.values()))
    units = bf16 / (2.0 * MAC_DIM * MAC_DIM * clock * 1e9)
    fmts = "bf16+fp8+fp4" if "fp4" in peaks else "bf16+fp8" if "fp8" in peaks else "bf16"
    mem_units = float(cp.memory_bytes_per_s) / MEMORY_UNIT[level]["bytes_per_s"].value
    n = len(compute)
    params = {"matrix_units": units * compute, "matrix_unit_dim": np.full(n, MAC_DIM), "clock_ghz": np.full(n, clock),
              "sram_mb": np.full(n, float(cp.sram_bytes) / 1e6), "formats": np.full(n, fmts),
              "memory_type": np.full(n, level), "memory_units": mem_units * memory,
              "link_count": np.ones(n), "link_gb_per_s": float(cp.link_bytes_per_s) / 1e9 * link,
              "node_nm": np.full(n, float(spec.silicon.node_nm or 5.0)), "chips_per_board": np.full(n, 8),
              "cpu_cores": np.zeros(n), "soc_other_mm2": np.zeros(n)}
    return design_physics(params, a, max_dies=16)


def beat(target: str, rivals: list[str], models: list[str] | None = None) -> BeatResult:
    from inferchip.catalog.assumptions import load_assumptions

    if not rivals:
        raise InvalidSettingError("--beat: name at least one chip to beat")
    if target in rivals:
        raise InvalidSettingError(f"--beat: the target {target} is also among the chips to beat")
    a = load_assumptions()
    suite = default_suite(models)
    real = catalogue_chips([target, *rivals], a, TILE)
    grid = np.array(list(product(COMPUTE_STEPS, MEMORY_STEPS, LINK_STEPS)))
    c, m, lk = grid[:, 0], grid[:, 1], grid[:, 2]
    phys = _as_design(target, c, m, lk, a)
    base = {k: v[0] for k, v in _as_design(target, np.ones(1), np.ones(1), np.ones(1), a).items()}
    notes = []
    t = real.take(np.zeros(len(grid), dtype=int))
    tdp0 = float(real.tdp_w[0]) if np.isfinite(real.tdp_w[0]) else float(base["tdp_w"])
    cost0 = float(real.cost_usd[0]) if np.isfinite(real.cost_usd[0]) else float(base["cost_usd"])
    if not np.isfinite(real.tdp_w[0]):
        notes.append(f"{target}: no published TDP; the design model's {base['tdp_w']:.0f} W is used")
    if not np.isfinite(real.cost_usd[0]):
        notes.append(f"{target}: no cost or price; the design model's ${base['cost_usd']:,.0f} is used")
    variants = Chips(ids=np.array([f"{target} x{a_:g}/{b:g}/{d:g}" for a_, b, d in grid], dtype=object),
                     peak_bf16=t.peak_bf16 * c, peak_fp8=t.peak_fp8 * c, vector=t.vector * c,
                     memory_bytes_per_s=t.memory_bytes_per_s * m, usable_bytes=t.usable_bytes * m,
                     link_bytes_per_s=t.link_bytes_per_s * lk, tile=t.tile, chips_per_board=t.chips_per_board,
                     tdp_w=tdp0 + (phys["tdp_w"] - base["tdp_w"]),
                     cost_usd=cost0 + (phys["cost_usd"] - base["cost_usd"]),
                     area_mm2=phys["area_mm2"], dies=phys["dies"], feasible=np.ones(len(grid), bool))
    obj_var = suite_objectives(evaluate(suite, variants))
    obj_real = suite_objectives(evaluate(suite, real))
    baseline = {str(cid): {k: float(v[i]) for k, v in obj_real.items()} for i, cid in enumerate(real.ids)}
    changes, missing = [], []
    size = np.log(c) + np.log(m) + np.log(lk)
    for name, (_, direction) in OBJECTIVES.items():
        rv = obj_real[name][1:]
        best_i = int(np.argmax(rv) if direction == "max" else np.argmin(rv))
        wins = obj_var[name] > rv[best_i] if direction == "max" else obj_var[name] < rv[best_i]
        if not wins.any():
            missing.append(name)
            continue
        order = np.lexsort((variants.cost_usd, size))
        k = int(order[np.flatnonzero(wins[order])[0]])
        changes.append(Change(name, float(c[k]), float(m[k]), float(lk[k]), float(obj_var[name][k]),
                              rivals[best_i], float(rv[best_i]), float(phys["area_mm2"][k] - base["area_mm2"]),
                              float(variants.tdp_w[k]), float(variants.cost_usd[k]),
                              {"peak_bf16_tflops": float(variants.peak_bf16[k]) / 1e12,
                               "memory_tb_per_s": float(variants.memory_bytes_per_s[k]) / 1e12,
                               "usable_memory_gb": float(variants.usable_bytes[k]) / 1e9,
                               "link_gb_per_s": float(variants.link_bytes_per_s[k]) / 1e9}))
    return BeatResult(target, list(rivals), baseline, changes, missing, notes)
