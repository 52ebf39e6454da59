"""The smallest changes to a chip that make it first on each part of the review's claim against rivals.

The target chip's figures are scaled by a grid of changes: matrix throughput (every format)
x ``c``, memory x ``m`` (more stacks or channels of its type: bandwidth and capacity together),
scale-up links x ``l``. Every variant and every rival is scored on the suite at once
(:mod:`inferchip.explore.evaluate`), and on each claim part the explore layer scores
(:mod:`inferchip.explore.claim_parts`: per chip, per W, $/Mtok from TCO, manufacturing cost by
far, throughput at the interactive limits). For each part the chosen change is the one, among
those that put the target strictly first (by the part's margin), with the smallest total change
``log c + log m + log l`` (then the lowest cost). Each change is also a point on the review's
claim-boundary map (:mod:`inferchip.review.boundary`: the claimed chip's memory bandwidth, TB/s,
and its cost as a multiple of its central cost): :meth:`BeatResult.boundary_points`. What a
change costs in silicon comes from the design model
(:mod:`inferchip.cost.design.model`): the target is read as a design at its node (matrix
units of 32 x 32 MACs at its clock, its die's SRAM (:func:`design_sram_mb`), memory units from its bandwidth), and
the change's extra area, TDP and manufacturing cost are the model's differences, added to the
target's published TDP and known cost (the model's own where the catalogue has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.explore.claim_parts import (
    CLAIM_OBJECTIVES,
    NOT_SCORED,
    SILICON_BASES,
    best_rival_index,
    claim_values,
    deployment_ratio,
    deployment_silicon_usd,
    explore_serves,
    wins,
)
from inferchip.explore.designs import Chips, catalogue_chips, design_physics
from inferchip.explore.evaluate import default_suite, evaluate

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
    boundary_x_tb_per_s: float = float("nan")  # the change on the claim-boundary map's axes
    boundary_y_cost_multiplier: float = float("nan")
    figures: dict[str, float] = field(default_factory=dict)
    unit: str = ""  # the unit of value and rival_value (claim_parts.ClaimObjective.unit)


@dataclass
class BeatResult:
    target: str
    rivals: list[str]
    baseline: dict[str, dict[str, float]]  # chip -> objective -> value
    changes: list[Change]
    not_reached: list[str]  # objectives no change in the grid wins
    notes: list[str]
    not_scored: dict[str, str] = field(default_factory=dict)  # claim parts explore does not score, and why
    target_bandwidth_tb_per_s: float = float("nan")
    target_cost_usd: float = float("nan")
    cost_boundary_multiplier: float | None = None  # lowest_cost_silicon holds at or below this cost multiple
    silicon_basis: str = "chip"  # the reading lowest_cost_silicon is ranked on (claim_parts.SILICON_BASES)
    units: dict[str, str] = field(default_factory=dict)  # objective -> the unit of its values (baseline, changes)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def boundary_points(self) -> dict[str, dict[str, float]]:
        """Each part's minimal change as a point on the claim-boundary map's axes: ``x_tb_per_s``
        (the target's memory bandwidth after the change) and ``y_cost_multiplier`` (its cost after
        the change over its cost now); the cost part adds the multiplier at which it holds."""
        out = {c.objective: {"x_tb_per_s": c.boundary_x_tb_per_s, "y_cost_multiplier": c.boundary_y_cost_multiplier,
                             "compute_x": c.compute_x, "memory_x": c.memory_x, "link_x": c.link_x}
               for c in self.changes}
        if self.cost_boundary_multiplier is not None:
            out.setdefault("lowest_cost_silicon", {"x_tb_per_s": self.target_bandwidth_tb_per_s,
                                                   "y_cost_multiplier": self.cost_boundary_multiplier,
                                                   "compute_x": 1.0, "memory_x": 1.0, "link_x": 1.0})
        return out


def with_beat_points(boundary_map: dict[str, Any], result: BeatResult) -> dict[str, Any]:
    """A copy of a review boundary map (:func:`inferchip.review.boundary.boundary_map`'s dict) with
    the beat result's points under ``explore_points`` (keyed like its ``parts``: the part id, and
    ``part (view)`` for each cost view of a part the map keys per view)."""
    pts = result.boundary_points()
    keyed: dict[str, dict[str, float]] = {}
    for key in boundary_map.get("parts", {}):
        part = key.split(" (", 1)[0]
        if part in pts:
            keyed[key] = pts[part]
    for part, p in pts.items():
        if not any(k.split(" (", 1)[0] == part for k in keyed):
            keyed[part] = p
    return {**boundary_map, "explore_points": keyed, "explore_target": result.target}


def chip_label(target: str) -> str:
    """How the output names the target: its catalogue id, or for a chip file its own id (the file name beside it
    where that id is a catalogue chip's too), not the path (``aurora.yaml``, ``chips/a.yaml``)."""
    from inferchip.catalog.chips import chip_ids, load_chip

    if target in chip_ids():
        return target
    own = load_chip(target).id
    return own if own not in chip_ids() else f"{own} ({Path(target).name})"


def design_sram_mb(target_id: str) -> tuple[float, str | None]:
    """The SRAM (MB) the design model's die area reads for a catalogue chip, and a note where it is not the die's.

    The area model (``cost/design/model.py``: ``k_sram x sram_mb x 8e6 x bitcell``) is fitted on
    ``catalog/design_dies.csv``, whose ``sram_mb`` counts every SRAM macro on the full die (GH100 92.8 MB: 60 MB L2
    + 144 SMs x 228 KB shared). The catalogue's ``sram.capacity_mb`` is, since sramdef45, the chip-wide pool that
    survives between kernels (H100 52.4 MB of L2) and has no die-total field, so the die row of the chip is read
    where there is one for a one-compute-die chip; else the package's macros of ``catalog/design_packages.csv``
    (H200 on the GH100 row; MI355X's 8 XCD rows + its I/O dies' Infinity Cache; B200's two dies, an estimate, noted);
    elsewhere the pool, with a note: the base then understates the die's SRAM area."""
    from inferchip.catalog.chips import get_chip_params, load_chip
    from inferchip.cost.design.dies import load_dies, load_packages

    pool_mb, label = float(get_chip_params(target_id).sram_bytes) / 1e6, chip_label(target_id)
    dies = load_chip(target_id).silicon.compute_die_count
    all_dies = load_dies()
    rows = [d for d in all_dies if d.chip_id == target_id]
    if rows and dies == 1:
        return rows[0].sram_mb, None
    package = load_packages().get(target_id)
    if package is not None:
        mb = package.package_sram_mb(dies, all_dies)
        return mb, (None if not package.estimate else
                    f"{label}: the die-area base counts {mb:,.1f} MB of SRAM macros over its {dies} compute "
                    "dies, an estimate (catalog/design_packages.csv: its die area and full-die L2 are not published)")
    why = (f"design_dies.csv's {rows[0].name} row is one of its {dies} compute dies" if rows else
           "design_dies.csv has no die row for it")
    read = (f"the catalogue's on-chip SRAM pool, {pool_mb:,.1f} MB" if pool_mb > 0 else
            "no SRAM (the catalogue states no on-chip SRAM for it)")
    return pool_mb, (f"{label}: the die-area base counts {read}, as {why}; the area model counts every SRAM "
                     "macro on the die (design_dies.csv), so the base area and cost understate the die's SRAM area")


def _as_design(target_id: str, compute: np.ndarray, memory: np.ndarray, link: np.ndarray, a: Any,
               sram_mb: float) -> dict[str, Any]:
    """The design model's physics of the target scaled by (compute, memory, link) multipliers; ``sram_mb``: its SRAM
    as the area model counts it (:func:`design_sram_mb`)."""
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
              "sram_mb": np.full(n, sram_mb), "formats": np.full(n, fmts),
              "memory_type": np.full(n, level), "memory_units": mem_units * memory,
              "link_count": np.ones(n), "link_gb_per_s": float(cp.link_bytes_per_s) / 1e9 * link,
              "node_nm": np.full(n, float(spec.silicon.node_nm or 5.0)), "chips_per_board": np.full(n, 8),
              "cpu_cores": np.zeros(n), "soc_other_mm2": np.zeros(n)}
    return design_physics(params, a, max_dies=16)


def beat(target: str, rivals: list[str], models: list[str] | None = None,
         parts: list[str] | None = None, silicon: str = "chip") -> BeatResult:
    """The smallest change per claim part (default: the review claim's parts that explore scores); ``silicon``: the
    reading lowest_cost_silicon is ranked on, "chip" (one chip's cost, the claim's) or "deployment" (the system that
    serves each workload, the review ledger's other reading); the other reading's figures are in the notes."""
    if silicon not in SILICON_BASES:
        raise InvalidSettingError(f"--silicon: {silicon!r}; allowed: {', '.join(SILICON_BASES)}")
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.review.claim_file import load_claim

    if not rivals:
        raise InvalidSettingError("--beat: name at least one chip to beat")
    if target in rivals:
        raise InvalidSettingError(f"--beat: the target {target} is also among the chips to beat")
    claim_parts = load_claim().parts
    if parts is None:
        parts = [p for p in claim_parts if p in CLAIM_OBJECTIVES]
    bad = [p for p in parts if p not in CLAIM_OBJECTIVES]
    if bad:
        raise InvalidSettingError(f"--parts: {', '.join(bad)} not scored by explore; "
                                  f"allowed: {', '.join(CLAIM_OBJECTIVES)}")
    a = load_assumptions()
    suite = default_suite(models)
    real = catalogue_chips([target, *rivals], a, TILE)
    label = chip_label(target)
    grid = np.array(list(product(COMPUTE_STEPS, MEMORY_STEPS, LINK_STEPS)))
    c, m, lk = grid[:, 0], grid[:, 1], grid[:, 2]
    sram_mb, sram_note = design_sram_mb(target)
    phys = _as_design(target, c, m, lk, a, sram_mb)
    base = {k: v[0] for k, v in _as_design(target, np.ones(1), np.ones(1), np.ones(1), a, sram_mb).items()}
    notes = [] if sram_note is None else [sram_note]
    t = real.take(np.zeros(len(grid), dtype=int))
    tdp0 = float(real.tdp_w[0]) if np.isfinite(real.tdp_w[0]) else float(base["tdp_w"])
    cost0 = float(real.cost_usd[0]) if np.isfinite(real.cost_usd[0]) else float(base["cost_usd"])
    if not np.isfinite(real.tdp_w[0]):
        notes.append(f"{label}: no published TDP; the design model's {base['tdp_w']:.0f} W is used")
    if not np.isfinite(real.cost_usd[0]):
        notes.append(f"{label}: no cost or price; the design model's ${base['cost_usd']:,.0f} is used")
    real.tdp_w[0], real.cost_usd[0] = tdp0, cost0
    for i, rival in enumerate(rivals, start=1):
        if not np.isfinite(real.cost_usd[i]):
            notes.append(f"{rival}: no cost or price in the catalogue; not a rival on equal_money or "
                         "lowest_cost_silicon")
    variants = Chips(ids=np.array([f"{target} x{a_:g}/{b:g}/{d:g}" for a_, b, d in grid], dtype=object),
                     peak_bf16=t.peak_bf16 * c, peak_fp8=t.peak_fp8 * c, vector=t.vector * c,
                     memory_bytes_per_s=t.memory_bytes_per_s * m, usable_bytes=t.usable_bytes * m,
                     link_bytes_per_s=t.link_bytes_per_s * lk, tile=t.tile, chips_per_board=t.chips_per_board,
                     tdp_w=tdp0 + (phys["tdp_w"] - base["tdp_w"]),
                     cost_usd=cost0 + (phys["cost_usd"] - base["cost_usd"]),
                     area_mm2=phys["area_mm2"], dies=phys["dies"], feasible=np.ones(len(grid), bool),
                     stream_share=t.stream_share, system=t.system,  # the target's system, its TCO terms,
                     covers=t.covers)  # and what its cost holds
    m_var, m_real = evaluate(suite, variants), evaluate(suite, real)
    obj_var = claim_values(suite, m_var, variants, a, parts)
    obj_real = claim_values(suite, m_real, real, a, parts)
    baseline = {str(cid): {k: float(v[i]) for k, v in obj_real.items()} for i, cid in enumerate(real.ids)}
    # The review's deployment of every chip and cost workload (the predictions of review.cases.review_deployments,
    # most of a beat's time) is read only by the lowest_cost_silicon part: its ranking on the deployment reading, its
    # note giving the other reading, and the baseline's deployment column beside its per-chip figure. Not sized
    # where neither reading of that part is asked for (its per-chip figure is then absent from the baseline too).
    sized = "lowest_cost_silicon" in parts or silicon == "deployment"
    n_sys = served = dep_real = np.zeros((len(real), 0))
    if sized:
        n_sys, served = _review_deployments(suite, real, target)  # the review's rule, one function
        dep_real = deployment_silicon_usd(suite, m_real, real, n_sys, served)
        for i, cid in enumerate(real.ids):  # the deployment reading's figure beside the per-chip one (a column)
            row = dep_real[i][np.isfinite(dep_real[i])]
            baseline[str(cid)]["lowest_cost_silicon_deployment_usd"] = float(row.min()) if row.size else float("nan")
    if "lowest_cost_silicon" in parts:
        notes.append(_silicon_note(label, rivals, silicon, dep_real, real, cost0, n_sys))
    changes, missing = [], []
    size = np.log(c) + np.log(m) + np.log(lk)
    order = np.lexsort((variants.cost_usd, size))
    bw0 = float(real.memory_bytes_per_s[0]) / 1e12
    cost_boundary = None
    for name in parts:
        rv = obj_real[name][1:]
        if not np.any(np.isfinite(rv)):
            missing.append(name)
            notes.append(f"{name}: no rival has a figure")
            continue
        best_i = best_rival_index(name, rv)
        if name == "lowest_cost_silicon" and silicon == "deployment":
            # a variant (the target scaled up) on the target's deployment, where the target or the variant serves
            var_served = served[:1] | explore_serves(suite, m_var)
            dep_var = deployment_silicon_usd(suite, m_var, variants, np.repeat(n_sys[:1], len(variants), axis=0),
                                             var_served)
            per_rival = [float(deployment_ratio(dep_real[:1], dep_real[1 + r:2 + r])[0]) for r in range(len(rivals))]
            best_i = int(np.argmin(per_rival))
            closest = min(per_rival)
            margin = CLAIM_OBJECTIVES[name].margin
            cost_boundary = closest / margin if 0 < closest < np.inf else None
            won = deployment_ratio(dep_var, dep_real[1:]) >= margin
            rv = np.array([np.nanmin(d) if np.isfinite(d).any() else np.nan for d in dep_real[1:]])
            obj_var = {**obj_var, name: np.array([np.nanmin(d) if np.isfinite(d).any() else np.nan for d in dep_var])}
        else:
            if name == "lowest_cost_silicon":
                cost_boundary = float(rv[best_i]) / CLAIM_OBJECTIVES[name].margin / cost0
            won = wins(name, obj_var[name], float(rv[best_i]))
        if not won.any():
            missing.append(name)
            continue
        k = int(order[np.flatnonzero(won[order])[0]])
        changes.append(Change(name, float(c[k]), float(m[k]), float(lk[k]), float(obj_var[name][k]),
                              rivals[best_i], float(rv[best_i]), float(phys["area_mm2"][k] - base["area_mm2"]),
                              float(variants.tdp_w[k]), float(variants.cost_usd[k]),
                              float(variants.memory_bytes_per_s[k]) / 1e12, float(variants.cost_usd[k]) / cost0,
                              {"peak_bf16_tflops": float(variants.peak_bf16[k]) / 1e12,
                               "memory_tb_per_s": float(variants.memory_bytes_per_s[k]) / 1e12,
                               "usable_memory_gb": float(variants.usable_bytes[k]) / 1e9,
                               "link_gb_per_s": float(variants.link_bytes_per_s[k]) / 1e9},
                              CLAIM_OBJECTIVES[name].unit))
    not_scored = {p: NOT_SCORED[p] for p in claim_parts if p in NOT_SCORED}
    return BeatResult(label, list(rivals), baseline, changes, missing, notes, not_scored, bw0, cost0, cost_boundary,
                      silicon, {p: CLAIM_OBJECTIVES[p].unit for p in parts})


def _review_deployments(suite: Any, real: Chips, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(chips, served), each [real chips, cost workloads]: the review's deployment of each case
    (``review.cases.review_deployments``: the claimed chip's board, a scale-up domain up to 72, a
    layer-pipelined chip sized per case, each predicted) and whether its prediction serves the case."""
    from inferchip.explore.claim_parts import cost_workloads
    from inferchip.review.cases import review_deployments

    cols = cost_workloads(suite)
    n, ok = np.zeros((len(real), len(cols))), np.zeros((len(real), len(cols)), bool)
    for i, cid in enumerate(real.ids):
        for m in suite.models:
            levels = [w.split("|", 1)[1] for w in cols if w.split("|", 1)[0] == m.id]
            if not levels:
                continue
            for level, d in review_deployments(str(cid), target, m.id, levels).items():
                k = cols.index(f"{m.id}|{level}")
                n[i, k], ok[i, k] = d.chips, d.prediction is not None
    return n, ok


def _silicon_note(target: str, rivals: list[str], silicon: str, dep: np.ndarray, real: Chips, cost0: float,
                  n_sys: np.ndarray) -> str:
    """Which reading lowest_cost_silicon is ranked on, and the other reading's verdict at the target as it is."""
    margin = CLAIM_OBJECTIVES["lowest_cost_silicon"].margin
    cost = np.asarray(real.cost_usd, float)
    cost[0] = cost0
    r = deployment_ratio(dep[:1], dep[1:])[0]
    per_chip = bool(np.isfinite(cost[1:]).any() and cost0 * margin < np.nanmin(cost[1:]))
    def on(i: int) -> str:  # chip i's deployment at its cheapest served workload, in words
        k = int(np.nanargmin(dep[i])) if np.isfinite(dep[i]).any() else 0
        n = int(n_sys[i, k])
        return f"{n:,} x ${cost[i]:,.0f} = ${n * cost[i]:,.0f}"

    if not np.isfinite(dep[0]).any():
        dep_words = (f"{target} serves none of the cost part's workloads on the review's deployment, so it does not "
                     "hold")
    elif not np.isfinite(r):
        dep_words = f"{target}'s deployment {on(0)}; no rival ({', '.join(rivals)}) serves a workload"
    else:
        per = [float(deployment_ratio(dep[:1], dep[1 + i:2 + i])[0]) for i in range(len(rivals))]
        j = int(np.argmin(per))
        dep_words = (f"{target}'s deployment {on(0)}; the closest rival, {rivals[j]} on {on(1 + j)}, is {r:.3g}x it, "
                     f"so it {'holds' if r >= margin else 'does not hold'} (it needs {margin:g}x in every workload a "
                     "rival serves; a workload a rival serves and the target does not is lost)")
    chip_words = f"per chip it {'holds' if per_chip else 'does not hold'} (${cost0:,.0f} a chip)"
    if silicon == "chip":
        return ("lowest_cost_silicon is ranked on one chip's modelled manufacturing cost (the claim's reading and the "
                f"review's verdict); on the deployment reading (--silicon deployment; the review ledger's 'silicon "
                f"basis'): {dep_words}")
    return ("lowest_cost_silicon is ranked on the silicon of the system that serves each workload, the review's "
            "deployment of each case (review.cases.review_deployments: a claimed chip's board, a scale-up "
            "domain up to 72, a layer-pipelined chip sized per case; served as the review's prediction says) "
            "(--silicon "
            f"deployment; the review ledger's 'silicon basis' alternative): {dep_words}; on the claim's own reading "
            f"(--silicon chip, the review's verdict) {chip_words}")
